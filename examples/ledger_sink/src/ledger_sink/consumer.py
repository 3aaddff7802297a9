"""Consume ledger batches and run events into the store, at least once, idempotently.

Offsets are committed only after the records they cover were applied in
PostgreSQL, so a crash re-reads them; applying twice is a no-op.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import (
    LEDGER_BATCHES,
    RUN_EVENTS,
    ContractError,
    DataSourcePurged,
    LedgerBatch,
    LedgerDeletes,
    RunCompleted,
    parse_message,
)
from ledger_sink.store import (
    SCHEMA,
    apply_batch,
    apply_deletes,
    apply_purge,
    create_schema,
    in_schema,
    record_rejection,
    record_run_completed,
)

log = structlog.get_logger("ledger_sink")


class LedgerSink:
    def __init__(self, engine: AsyncEngine, bootstrap_servers: str, *, group_id: str = "ledger-sink",
                 session_timeout_ms: int = 10_000, schema: str = SCHEMA) -> None:
        self._engine = in_schema(engine, schema)
        self._schema = schema
        self._bootstrap = bootstrap_servers
        self._group_id = group_id
        self._session_timeout_ms = session_timeout_ms
        self._stopping = asyncio.Event()
        self.applied_batches = 0
        self.on_applied: Callable[[LedgerBatch], None] | None = None

    async def prepare(self) -> None:
        """Create the store's schema (idempotent)."""
        async with self._engine.begin() as conn:
            await create_schema(conn, self._schema)

    async def run(self) -> None:
        await self.prepare()
        consumer = AIOKafkaConsumer(
            LEDGER_BATCHES, RUN_EVENTS,
            bootstrap_servers=self._bootstrap, group_id=self._group_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=max(100, self._session_timeout_ms // 4),
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                records = [r for part in batches.values() for r in part]
                if not records:
                    continue
                for record in records:
                    await self._apply(record)
                await consumer.commit()
        finally:
            await consumer.stop()

    def stop(self) -> None:
        self._stopping.set()

    async def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        async with self._engine.begin() as conn:
            try:
                message = parse_message(record.topic, record.value or b"")
            except ContractError as exc:
                await record_rejection(conn, record.topic, record.partition, record.offset,
                                       exc.reason, record.value)
                log.warning("message_rejected", topic=record.topic, offset=record.offset,
                            reason=exc.reason)
                return
            if isinstance(message, LedgerBatch):
                if await apply_batch(conn, message):
                    self.applied_batches += 1
                    if self.on_applied is not None:
                        self.on_applied(message)
            elif isinstance(message, LedgerDeletes):
                await apply_deletes(conn, message)
            elif isinstance(message, DataSourcePurged):
                dropped = await apply_purge(conn, message)
                log.info("datasource_purged", datasource_id=str(message.datasource_id),
                         runs=len(message.payload.run_ids), rows=dropped)
            elif isinstance(message, RunCompleted):
                await record_run_completed(conn, message)
