"""Kafka plumbing every service shares: topics, the broker, decoding and dead letters.

Subscribers declare the contract class as their parameter (validation at the
edge, AsyncAPI generated from it). :func:`contract_decoder` turns the raw bytes
into that message with the topic's discriminated union, so a message that is
not valid for its topic raises :class:`~contracts.ContractError` before the
handler runs. :class:`DeadLetterMiddleware` then:

* sends unreadable messages (bad JSON, wrong shape, unknown type) to the
  topic's dead-letter topic with the reason and the original bytes, and lets
  consumption go on;
* retries a handler that failed with a transient error (database or broker
  down) by not committing, so the message is redelivered after a back-off;
* dead-letters a message whose handler keeps failing with a non-transient error
  after ``max_attempts``, with the exception type as reason.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from faststream import BaseMiddleware
from faststream.broker.message import StreamMessage
from faststream.kafka import KafkaBroker
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from connector_runtime.messaging.kafka_auth import PLAINTEXT, KafkaAuth
from connector_runtime.observability.metrics import HANDLER_SECONDS, MESSAGES_CONSUMED, MESSAGES_DEAD_LETTERED
from contracts import ContractError, Message, dead_letter_topic, parse_message

log = structlog.get_logger("messaging")


class TransientError(Exception):
    """Base for failures that go away by themselves; the message is retried, never dropped."""


TRANSIENT: tuple[type[BaseException], ...] = (
    TransientError,
    OperationalError,
    DBAPIError,
    KafkaError,
    ConnectionError,
    TimeoutError,
    OSError,
    PoolTimeout,  # every pooled connection busy for the pool timeout: load, not a bug
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and not exc.connection_invalidated:
        # An integrity or data error is not going to change on retry.
        return isinstance(exc, OperationalError)
    return isinstance(exc, TRANSIENT)


async def ensure_topics(bootstrap_servers: str, topics: Iterable[str], partitions: int,
                        timeout: float = 30.0, *, auth: KafkaAuth = PLAINTEXT) -> None:
    """Create missing topics; retries until the broker answers or ``timeout`` passes."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000,
                                    **auth.client_options())
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in topics if t not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
                    )
                except TopicAlreadyExistsError:
                    pass  # another replica created it first
            return
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(
                    f"Kafka at {bootstrap_servers} did not answer within {timeout:.0f}s: "
                    f"{type(exc).__name__}"
                ) from exc
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


def make_broker(bootstrap_servers: str, *, client_id: str,
                middlewares: Iterable[Callable[[Any], BaseMiddleware]] = (),
                auth: KafkaAuth = PLAINTEXT) -> KafkaBroker:
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        security=auth.broker_security(),
        logger=structlog.get_logger("faststream"),
        middlewares=tuple(middlewares),
        acks="all",
        enable_idempotence=False,
        compression_type="gzip",
        graceful_timeout=15.0,
    )


def contract_decoder(topic: str) -> Callable[[StreamMessage[Any]], Awaitable[Message]]:
    """A FastStream decoder that validates the body as one of ``topic``'s messages."""

    async def decode(msg: StreamMessage[Any]) -> Message:
        return parse_message(topic, msg.body)

    return decode


def subscriber_options(topic: str, group_id: str, *, session_timeout_ms: int = 10_000
                       ) -> dict[str, Any]:
    """Options every contract subscriber uses: manual commit after the handler succeeded.

    ``topic`` names the contract (the union the bytes are validated against);
    the subscription itself may be on another topic name, as tests do.
    """
    return {
        "session_timeout_ms": session_timeout_ms,
        "heartbeat_interval_ms": max(100, session_timeout_ms // 4),
        "group_id": group_id,
        "auto_commit": False,
        "auto_offset_reset": "earliest",
        "retry": True,
        "decoder": contract_decoder(topic),
        "max_poll_interval_ms": 600_000,
    }


class _Attempts:
    """Failed attempts per (topic, partition, offset), in memory: redelivery comes to us."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int, int], int] = {}

    def bump(self, key: tuple[str, int, int]) -> int:
        if len(self._counts) > 10_000:
            self._counts.clear()
        self._counts[key] = self._counts.get(key, 0) + 1
        return self._counts[key]

    def clear(self, key: tuple[str, int, int]) -> None:
        self._counts.pop(key, None)


class DeadLetterMiddleware(BaseMiddleware):
    """See the module docstring. Build with :func:`dead_letter_middleware`."""

    broker: KafkaBroker
    group_id: str
    max_attempts: int
    attempts: _Attempts
    on_dead_letter: Callable[[str, str], None] | None

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]],
                            msg: StreamMessage[Any]) -> Any:
        # the log context (message, data source, correlation, run) is bound by
        # connector_runtime.observability.logcontext.MessageLogContext, which runs before this
        topic = getattr(self.msg, "topic", "unknown")
        with HANDLER_SECONDS.labels(topic).time():
            return await call_next(msg)

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        record: Any = self.msg
        key = (record.topic, record.partition, record.offset)
        if exc_val is None:
            self.attempts.clear(key)
            MESSAGES_CONSUMED.labels(record.topic, "ok").inc()
            return False
        if not isinstance(exc_val, Exception):
            return False
        if isinstance(exc_val, ContractError):
            await self._dead_letter(record, f"invalid message: {exc_val.reason}")
            return True
        attempt = self.attempts.bump(key)
        if is_transient(exc_val) or attempt < self.max_attempts:
            MESSAGES_CONSUMED.labels(record.topic, "retry").inc()
        if is_transient(exc_val):
            delay = min(0.2 * 2 ** min(attempt, 6), 10.0)
            log.warning("handler_transient_failure", topic=record.topic, offset=record.offset,
                        error=type(exc_val).__name__, attempt=attempt, retry_in=delay)
            await asyncio.sleep(delay)
            return False  # not committed: the message is redelivered
        if attempt < self.max_attempts:
            log.warning("handler_failed", topic=record.topic, offset=record.offset,
                        error=type(exc_val).__name__, attempt=attempt)
            await asyncio.sleep(0.2 * attempt)
            return False
        self.attempts.clear(key)
        await self._dead_letter(
            record, f"handler failed {attempt} times: {type(exc_val).__name__}: {exc_val}"
        )
        return True

    async def _dead_letter(self, record: Any, reason: str) -> None:
        from connector_runtime.observability.logs import redact_text

        reason = redact_text(reason, 1000)
        topic = dead_letter_topic(record.topic)
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
        headers.update(
            {
                "dlq_reason": reason,
                "dlq_source_topic": record.topic,
                "dlq_source_partition": str(record.partition),
                "dlq_source_offset": str(record.offset),
                "dlq_consumer_group": consumer_group_of(self.broker, record.topic, self.group_id),
                "dlq_failed_at": datetime.now(UTC).isoformat(),
            }
        )
        await self.broker.publish(record.value or b"", topic, key=record.key, headers=headers)
        MESSAGES_DEAD_LETTERED.labels(record.topic).inc()
        MESSAGES_CONSUMED.labels(record.topic, "dead_lettered").inc()
        log.error("message_dead_lettered", source_topic=record.topic, offset=record.offset,
                  partition=record.partition, dead_letter_topic=topic, reason=reason)
        if self.on_dead_letter is not None:
            self.on_dead_letter(record.topic, reason)


def consumer_group_of(broker: KafkaBroker, topic: str, default: str) -> str:
    """The consumer group this service reads ``topic`` with: a service may read each topic
    in its own group (``<prefix>.<suffix>``), and a dead letter names the one that gave up."""
    groups = sorted({str(group) for sub in broker._subscribers.values()  # no public view
                     if topic in (getattr(sub, "topics", ()) or ())
                     and (group := getattr(sub, "group_id", None))})
    return ",".join(groups) or default


def dead_letter_middleware(
    broker: KafkaBroker,
    group_id: str,
    *,
    max_attempts: int = 3,
    on_dead_letter: Callable[[str, str], None] | None = None,
) -> Callable[[Any], DeadLetterMiddleware]:
    attempts = _Attempts()

    def build(msg: Any) -> DeadLetterMiddleware:
        middleware = DeadLetterMiddleware(msg)
        middleware.broker = broker
        middleware.group_id = group_id
        middleware.max_attempts = max_attempts
        middleware.attempts = attempts
        middleware.on_dead_letter = on_dead_letter
        return middleware

    return build


def dlq_reason(headers: Iterable[tuple[str, bytes]]) -> str | None:
    """The reason header of a dead-lettered record (for tools and tests)."""
    for key, value in headers:
        if key == "dlq_reason":
            return value.decode()
    return None


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, default=str).encode()
