"""Who a log line is about, on every line of one message or one HTTP request.

:class:`MessageLogContext` is a FastStream broker middleware. When a record arrives, before
FastStream logs ``Received``, it replaces the consumer task's message context with what the
record says outside its body: ``correlation_id`` and ``message_type`` from the headers our
producers write, ``datasource_id`` from the key. Once the body is decoded it adds
``message_id`` and, when the payload names one, ``run_id``. The context stays bound until
the next record of the same consumer task replaces it, so FastStream's ``Processed`` line,
retries and dead-letter lines carry it too. Other tasks never see it (contextvars).

:class:`RequestLogContext` is an ASGI middleware: each HTTP request starts with a clean
message context plus ``request_id``/``http_path``, and the caller's context comes back
afterwards. Handlers bind ``datasource_id``/``correlation_id`` with :func:`bind` as soon as
they know which data source a request is about.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from faststream import BaseMiddleware
from faststream.broker.message import StreamMessage

from contracts import Message

MESSAGE_KEYS = ("message_id", "correlation_id", "datasource_id", "message_type", "run_id",
                "authorization_id", "grant_id")
"""Context keys that belong to one message or request, never to the next one."""


def bind(**values: object) -> None:
    """Bind non-empty values (as strings) to the current context."""
    structlog.contextvars.bind_contextvars(
        **{k: str(v) for k, v in values.items() if v is not None and v != ""})


def bind_message(message: Message) -> None:
    """The envelope's identifiers, and the run a payload belongs to."""
    bind(message_id=message.message_id, correlation_id=message.correlation_id,
         datasource_id=message.datasource_id, message_type=message.type,
         run_id=getattr(message.payload, "run_id", None))


def _from_record(record: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in getattr(record, "headers", None) or ():
        if key in ("correlation_id", "message_type") and isinstance(value, bytes):
            found[key] = value.decode(errors="replace")[:100]
    raw_key = getattr(record, "key", None)
    if isinstance(raw_key, bytes):
        try:
            found["datasource_id"] = str(uuid.UUID(raw_key.decode()))
        except (UnicodeDecodeError, ValueError):
            pass  # not one of our keys; the body may still say
    return found


class MessageLogContext(BaseMiddleware):
    """See the module docstring; add with ``broker.add_middleware(MessageLogContext)``."""

    async def on_receive(self) -> None:
        structlog.contextvars.unbind_contextvars(*MESSAGE_KEYS)
        bind(**_from_record(self.msg))
        await super().on_receive()

    async def on_consume(self, msg: StreamMessage[Any]) -> StreamMessage[Any]:
        body = await msg.decode()
        if isinstance(body, Message):
            bind_message(body)
        return await super().on_consume(msg)


class RequestLogContext:
    """ASGI middleware; see the module docstring."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        before = structlog.contextvars.get_contextvars()
        structlog.contextvars.unbind_contextvars(*MESSAGE_KEYS)
        bind(request_id=uuid.uuid4().hex[:16], http_method=scope.get("method"),
             http_path=_route_path(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**before)


def _route_path(scope: Any) -> str:
    """The path without secrets: a share-link token in the path is not logged."""
    path = str(scope.get("path", ""))
    if path.startswith("/share/"):
        rest = path[len("/share/"):]
        return "/share/{token}" + ("/" + rest.split("/", 1)[1] if "/" in rest else "")
    return path
