"""Two listeners for one service app: the public one and a private one.

The public listener (``http_host:http_port``) serves what a browser or a caller from outside
must reach: health checks, auth's pages, the authenticated APIs. The internal listener
(``internal_http_host:internal_http_port``, 127.0.0.1 by default) serves metrics, the API
docs and auth's internal API. Both are sockets of one uvicorn server running one app (one
lifespan); :class:`ListenerSplit` answers 404 to a path asked on the wrong listener.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from connector_runtime.settings import ServiceSettings

INTERNAL_PATHS: tuple[str, ...] = ("/internal/", "/metrics", "/docs", "/redoc", "/openapi.json")
"""Paths served only on the internal listener."""
SHARED_PATHS: tuple[str, ...] = ("/healthz", "/readyz")


def _is(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/") for p in prefixes)


class ListenerSplit:
    """Refuse internal paths on the public listener and public paths on the internal one.

    The listener is told by the port the connection came in on (``scope["server"]``)."""

    def __init__(self, app: ASGIApp, internal_port: int,
                 internal_paths: Sequence[str] = INTERNAL_PATHS) -> None:
        self.app = app
        self.internal_port = internal_port
        self.internal_paths = tuple(internal_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server = scope.get("server") or (None, None)
        internal = server[1] == self.internal_port
        path: str = scope.get("path", "")
        if not _is(path, SHARED_PATHS) and internal != _is(path, self.internal_paths):
            await _not_found(send)
            return
        await self.app(scope, receive, send)


async def _not_found(send: Send) -> None:
    body = b'{"error":"not_found"}'
    await send({"type": "http.response.start", "status": 404,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(app: Any, settings: ServiceSettings) -> None:
    """Run the app on both listeners until SIGINT/SIGTERM; our logging config stays in charge."""
    config = uvicorn.Config(ListenerSplit(app, settings.internal_http_port), log_config=None,
                            access_log=False, lifespan="on")
    sockets = [_socket(settings.http_host, settings.http_port),
               _socket(settings.internal_http_host, settings.internal_http_port)]
    uvicorn.Server(config).run(sockets=sockets)
