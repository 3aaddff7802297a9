"""Transactional outbox: write events with the state change, relay them to Kafka.

A use case calls :func:`add_to_outbox` inside its transaction. The
:class:`OutboxRelay` publishes unsent rows in id order and marks them sent only
after the broker acknowledged them. If the broker is unreachable the rows stay
and are sent later; a crash between send and mark resends them (delivery is at
least once; consumers dedupe on ``message_id``). One relay per service schema is
active at a time (a PostgreSQL advisory lock), which keeps order per key across
replicas.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from connector_runtime.messaging.kafka_auth import PLAINTEXT, KafkaAuth
from connector_runtime.messaging.producer import ManagedProducer, message_headers
from connector_runtime.observability.metrics import MESSAGES_PUBLISHED, OUTBOX_PUBLISH_FAILURES
from contracts import Message

log = structlog.get_logger("outbox")

async def add_to_outbox(
    session: AsyncSession | AsyncConnection, outbox: sa.Table, topic: str, *messages: Message
) -> None:
    """Queue messages for publishing; they commit or roll back with the caller's transaction."""
    if not messages:
        return
    await session.execute(
        outbox.insert(),
        [
            {
                "message_id": m.message_id,
                "topic": topic,
                "key": m.key,
                "value": m.to_bytes(),
                "headers": message_headers(m),
            }
            for m in messages
        ],
    )


class OutboxRelay:
    """Publishes a service's outbox to Kafka until stopped."""

    def __init__(
        self,
        engine: AsyncEngine,
        outbox: sa.Table,
        bootstrap_servers: str,
        *,
        batch_size: int = 200,
        poll_interval: float = 0.25,
        keep_sent: timedelta = timedelta(hours=1),
        auth: KafkaAuth = PLAINTEXT,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._keep_sent = keep_sent
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._producer = ManagedProducer(bootstrap_servers, auth)
        self._lock_id = zlib.crc32(f"outbox:{outbox.schema}".encode())
        self.published = 0
        self.failures = 0

    def notify(self) -> None:
        """Wake the relay now instead of at its next poll (after a commit)."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._outbox.schema}")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
        await self._producer.stop()

    async def oldest_unsent_age(self) -> float:
        """Seconds the oldest unsent row has waited (0 when none): the outbox lag."""
        async with self._engine.connect() as conn:
            age = await conn.scalar(
                sa.select(sa.func.extract("epoch", sa.func.now() - sa.func.min(self._outbox.c.created_at)))
                .where(self._outbox.c.sent_at.is_(None))
            )
        return float(age or 0.0)

    async def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                async with self._engine.connect() as lock_conn:
                    if not await lock_conn.scalar(
                        sa.text("SELECT pg_try_advisory_lock(:id)"), {"id": self._lock_id}
                    ):
                        await lock_conn.rollback()
                        await self._sleep(2.0)  # another replica relays; stand by
                        continue
                    await lock_conn.commit()
                    try:
                        await self._relay_while_leader()
                    finally:
                        await lock_conn.execute(
                            sa.text("SELECT pg_advisory_unlock(:id)"), {"id": self._lock_id}
                        )
                        await lock_conn.commit()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database unreachable: keep rows, retry later
                self.failures += 1
                OUTBOX_PUBLISH_FAILURES.labels(str(self._outbox.schema)).inc()
                log.warning("outbox_relay_failed", error=type(exc).__name__, detail=str(exc)[:300],
                            retry_in=backoff)
                await self._producer.stop()
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _relay_while_leader(self) -> None:
        last_cleanup = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            sent = await self._relay_batch()
            if loop.time() - last_cleanup > 60:
                await self._delete_old_sent()
                last_cleanup = loop.time()
            if sent < self._batch_size:
                await self._sleep(self._poll_interval)

    async def _relay_batch(self) -> int:
        o = self._outbox
        async with self._engine.connect() as conn:
            rows: Sequence[Any] = (
                await conn.execute(
                    sa.select(o.c.id, o.c.topic, o.c.key, o.c.value, o.c.headers)
                    .where(o.c.sent_at.is_(None))
                    .order_by(o.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            if not rows:
                return 0
            producer = await self._producer.start()
            futures = [
                await producer.send(
                    row.topic,
                    value=row.value,
                    key=row.key,
                    headers=[(k, str(v).encode()) for k, v in row.headers.items()],
                )
                for row in rows
            ]
            await asyncio.gather(*futures)
            await conn.execute(
                o.update().where(o.c.id.in_([r.id for r in rows])).values(sent_at=sa.func.now())
            )
            await conn.commit()
        self.published += len(rows)
        for row in rows:
            MESSAGES_PUBLISHED.labels(row.topic, row.headers.get("message_type", "unknown")).inc()
        return len(rows)

    async def _delete_old_sent(self) -> None:
        o = self._outbox
        async with self._engine.begin() as conn:
            await conn.execute(
                o.delete().where(
                    o.c.sent_at.is_not(None),
                    o.c.sent_at < sa.func.now() - self._keep_sent,
                )
            )

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass
        self._wake.clear()
