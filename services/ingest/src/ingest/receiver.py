"""The public webhook listener: Exact's change notifications in, ExactChangeNotified out.

It is a separate ASGI app on its own port (``INGEST_WEBHOOK_PORT``), served next to ingest's
internal API by the same process: the port exposed to the internet answers only
``POST /webhooks/exact`` and ``GET /healthz``, never the runs API or metrics. It lives in
ingest because ingest alone knows which divisions it syncs (``sync_states``) and already
relays an outbox to Kafka; a separate service would need a copy of both.

Per delivery: check the HashCode (constant-time) over the raw Content bytes, read the
Content, refuse a stale, unknown-topic, unknown-division or replayed one, and commit the event
to the outbox - one short transaction, no call to Exact. Refusals are answered with the status
of :data:`ingest.domain.notifications.REFUSAL_STATUS` and ``{"refused": reason}``; a database
failure with 503 (Exact delivers again). The secret is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import structlog
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError

from ingest import webhook_metrics as metrics
from ingest.adapters.notifications import NotificationStore
from ingest.domain.notifications import Refused, read, verify
from ingest.entities import CATALOG

log = structlog.get_logger("webhooks")

MAX_BODY_BYTES = 16_384
"""A notification is a few hundred bytes; anything near this is not one."""


def receiver_app(store: NotificationStore, secret: SecretStr, max_age: timedelta) -> FastAPI:
    app = FastAPI(title="exact-ingest-webhooks", docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.post("/webhooks/exact")
    async def receive(request: Request) -> JSONResponse:
        started = time.monotonic()
        body = await request.body()
        now = datetime.now(UTC)
        try:
            if len(body) > MAX_BODY_BYTES:
                raise Refused("malformed", f"{len(body)} bytes is not a notification")
            n = read(verify(body, secret.get_secret_value()), now, max_age, CATALOG.topics)
            published = await store.accept(n, now)
        except Refused as exc:
            metrics.REFUSED.labels(exc.reason).inc()
            log.warning("webhook_refused", reason=exc.reason, detail=str(exc))
            return JSONResponse({"refused": exc.reason, "detail": str(exc)},
                                status_code=exc.status)
        except SQLAlchemyError as exc:
            log.warning("webhook_not_stored", error=type(exc).__name__)
            return JSONResponse({"refused": "unavailable"}, status_code=503)
        metrics.RECEIVED.labels(n.topic).inc()
        metrics.RECEIPT_SECONDS.observe(time.monotonic() - started)
        log.info("webhook_accepted", topic=n.topic, division=n.division, action=n.action,
                 key=str(n.key), data_sources=published)
        return JSONResponse({"accepted": published})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process's main server owns SIGINT/SIGTERM and stops this one


class WebhookListener:
    """Serves the receiver on its own socket inside the running event loop."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self._server = _Server(uvicorn.Config(app, log_config=None, access_log=False,
                                              lifespan="off", timeout_graceful_shutdown=2))
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]),
                                         name="webhook-listener")
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what stopped it
                raise RuntimeError("webhook listener stopped at start")
            await asyncio.sleep(0.01)
        log.info("webhook_listener_started", port=self.port)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self._sock.close()
