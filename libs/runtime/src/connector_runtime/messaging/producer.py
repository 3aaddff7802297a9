"""The one Kafka producer lifecycle: settings, start, stop, and closing a broken producer.

Every producer of the project (the outbox relay, ingest's batch publisher, the operator
CLI) is built by :func:`kafka_producer` and owned by a :class:`ManagedProducer`, so the
settings and the start/stop error handling live here once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer

from connector_runtime.messaging.kafka_auth import PLAINTEXT, KafkaAuth
from contracts import Message

log = structlog.get_logger("producer")

MAX_MESSAGE_BYTES = 1_000_000


def message_headers(message: Message) -> dict[str, str]:
    return {
        "message_type": message.type,
        "schema_version": str(message.schema_version),
        "correlation_id": str(message.correlation_id),
        "content-type": "application/json",
    }


def encoded_headers(message: Message) -> list[tuple[str, bytes]]:
    """:func:`message_headers` as Kafka record headers."""
    return [(k, v.encode()) for k, v in message_headers(message).items()]


def kafka_producer(bootstrap_servers: str, auth: KafkaAuth = PLAINTEXT,
                   **overrides: Any) -> AIOKafkaProducer:
    """Producer settings the project relies on: all replicas ack, compressed, no idempotence.

    The embedded broker has no idempotent producer, so correctness rests on
    consumer-side dedupe, never on producer idempotence.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "acks": "all",
        "enable_idempotence": False,
        "compression_type": "gzip",
        "linger_ms": 5,
        "max_request_size": 4 * MAX_MESSAGE_BYTES,
        "request_timeout_ms": 15000,
        "retry_backoff_ms": 200,
        **auth.client_options(),
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


class ManagedProducer:
    """A producer started on demand and closed without raising.

    :meth:`start` returns the running producer (starting one if there is none); a producer
    that fails to start is stopped again so no connection leaks. :meth:`stop` closes it
    within ``close_timeout`` and only logs a failure: a broken producer is gone either way,
    and the owner starts a fresh one on its next :meth:`start`.
    """

    def __init__(self, bootstrap_servers: str, auth: KafkaAuth = PLAINTEXT, *,
                 close_timeout: float = 10.0, **overrides: Any) -> None:
        self._bootstrap = bootstrap_servers
        self._auth = auth
        self._overrides = overrides
        self._close_timeout = close_timeout
        self._producer: AIOKafkaProducer | None = None

    @property
    def running(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("the Kafka producer is not started")
        return self._producer

    async def start(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = kafka_producer(self._bootstrap, self._auth, **self._overrides)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def stop(self) -> None:
        if self._producer is None:
            return
        producer, self._producer = self._producer, None
        try:
            await asyncio.wait_for(producer.stop(), self._close_timeout)
        except Exception as exc:  # closing a broken producer may fail; it is gone either way
            log.debug("producer_close_failed", error=type(exc).__name__)


@asynccontextmanager
async def running_producer(bootstrap_servers: str, auth: KafkaAuth = PLAINTEXT,
                           **overrides: Any) -> AsyncIterator[AIOKafkaProducer]:
    """A producer for one block (a CLI command, a test), stopped when the block ends."""
    managed = ManagedProducer(bootstrap_servers, auth, **overrides)
    try:
        yield await managed.start()
    finally:
        await managed.stop()
