"""Reading whole topics (to their current end) and the services' outboxes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TypeAlias

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy.ext.asyncio import create_async_engine

Record: TypeAlias = ConsumerRecord[bytes, bytes]


async def read_all(bootstrap: str, topics: list[str], timeout: float = 300.0) -> list[Record]:
    """Every record of ``topics`` from the beginning up to their end offsets right now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(t, p) for t in topics
                      for p in (consumer.partitions_for_topic(t) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Record] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await _at_end(consumer, ends):
            if loop.time() > deadline:
                raise TimeoutError(f"could not read {topics} to their end in {timeout:.0f}s")
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


async def _at_end(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


@dataclass
class OutboxRow:
    schema: str
    topic: str
    message_id: str
    sent: bool


async def outbox_rows(database_url: str) -> list[OutboxRow]:
    """Every row of every service's outbox (``<schema>.outbox``)."""
    engine = create_async_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        async with engine.connect() as conn:
            schemas = (await conn.execute(sa.text(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox'"
            ))).scalars().all()
            rows: list[OutboxRow] = []
            for schema in schemas:
                result = await conn.execute(sa.text(
                    f'SELECT topic, message_id, sent_at IS NOT NULL FROM "{schema}".outbox'))  # noqa: S608
                rows.extend(OutboxRow(schema, t, str(m), bool(s)) for t, m, s in result)
            return rows
    finally:
        await engine.dispose()
