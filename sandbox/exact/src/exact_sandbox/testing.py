"""Helpers for tests that run the sandbox in-process: a fast config, an ASGI test env with
token shortcuts, and a real uvicorn server on a free loopback port (started in a thread).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from exact_sandbox.client import SandboxAdmin
from exact_sandbox.config import FaultSettings, Limits, SandboxConfig
from exact_sandbox.runtime import Sandbox

T0 = 1_740_996_000.0  # 2025-03-03 10:00:00 UTC, a frozen sandbox clock
CLIENT_ID = "5b0c6a2e-3f1d-4c8e-9a7b-2d4e6f8a0c1e"
CLIENT_SECRET = "sandbox-connector-secret"
REDIRECT_URI = "http://127.0.0.1:8001/oauth/callback"
JSON = {"Accept": "application/json"}


def fast_config(**overrides: Any) -> SandboxConfig:
    """Frozen clock at T0 and generous limits unless a test says otherwise."""
    limits = overrides.pop("limits", Limits(minutely=1_000_000, daily=1_000_000_000))
    faults = overrides.pop("faults", FaultSettings())
    return SandboxConfig(limits=limits, faults=faults, clock_start=T0, clock_speed=0.0,
                         **overrides)


@dataclass
class Env:
    app: Starlette
    client: httpx.AsyncClient

    @property
    def sandbox(self) -> Sandbox:
        sb: Sandbox = self.app.state.sandbox
        return sb

    @property
    def admin(self) -> SandboxAdmin:
        return SandboxAdmin(http=self.client)

    async def grant(self, username: str = "anna.admin@demo.nl", **body: Any) -> dict[str, str]:
        data: dict[str, str] = await self.admin.grant(username, **body)
        return data

    async def api(self, path: str, token: str, **params: str) -> httpx.Response:
        return await self.client.get(path, params=params or None,
                                     headers={"Authorization": f"Bearer {token}", **JSON})


MakeEnv = Callable[..., Env]


@dataclass
class Live:
    url: str
    app: Starlette

    @property
    def sandbox(self) -> Sandbox:
        sb: Sandbox = self.app.state.sandbox
        return sb


@contextmanager
def serve_in_thread(app: Starlette) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # wait for the server to listen, not for time to pass
        if time.monotonic() > deadline:
            raise RuntimeError("sandbox server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
