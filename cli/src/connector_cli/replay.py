"""Replay one data source's ledger events for operators, without disturbing other consumers.

Every message is keyed by ``datasource_id``, so one data source lives in one partition of
``exact.ledger.batches``. Two ways to replay it from a point in time (Kafka
``offsets_for_times``) or from an offset:

* :func:`rewind_group` - commit that partition's start offset for ONE consumer group (which
  must be stopped); when it starts again it re-reads from there. Other groups are untouched;
  the group also re-reads the other data sources of that partition, which an idempotent
  consumer (deduplicating on ``(run_id, entity, batch_seq)``) ignores.
* :func:`republish` - copy that data source's messages (only its key) from there to the end
  offset seen at the start into a target topic, for a consumer that reads a topic of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.partitioner import DefaultPartitioner

from connector_runtime.messaging.producer import ManagedProducer
from contracts import LEDGER_BATCHES


class ReplayError(Exception):
    """A replay that cannot be done as asked (unknown topic, group still active, ...)."""


@dataclass(frozen=True)
class ReplayStart:
    partition: int
    offset: int
    end_offset: int


def _key(datasource_id: uuid.UUID) -> bytes:
    return str(datasource_id).encode()


async def _locate(consumer: AIOKafkaConsumer, topic: str, datasource_id: uuid.UUID,
                  since: dt.datetime | None, offset: int | None) -> ReplayStart:
    partitions = sorted(consumer.partitions_for_topic(topic) or set())
    if not partitions:
        raise ReplayError(f"topic {topic} has no partitions (does it exist?)")
    partition = DefaultPartitioner()(_key(datasource_id), partitions, partitions)
    tp = TopicPartition(topic, partition)
    begin = (await consumer.beginning_offsets([tp]))[tp]
    end = (await consumer.end_offsets([tp]))[tp]
    if since is not None:
        found = (await consumer.offsets_for_times({tp: int(since.timestamp() * 1000)}))[tp]
        start = found.offset if found is not None else end
    elif offset is not None:
        start = offset
    else:
        start = begin
    if start < begin:
        raise ReplayError(f"offset {start} is no longer retained (partition {partition} "
                          f"starts at {begin})")
    return ReplayStart(partition, min(start, end), end)


async def rewind_group(bootstrap: str, group_id: str, datasource_id: uuid.UUID, *,
                       since: dt.datetime | None = None, offset: int | None = None,
                       topic: str = LEDGER_BATCHES, wait_seconds: float = 30.0) -> ReplayStart:
    """Make ``group_id`` re-read ``datasource_id``'s partition of ``topic`` from there.

    The broker takes commits only while the group has no members: a group whose consumers
    just stopped is waited for (up to ``wait_seconds``, its session timeout at most)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id,
                                enable_auto_commit=False, session_timeout_ms=6000,
                                heartbeat_interval_ms=1000, max_poll_records=1)
    await consumer.start()
    try:
        await consumer.topics()
        start = await _locate(consumer, topic, datasource_id, since, offset)
        tp = TopicPartition(topic, start.partition)
        # join the group (it must have no other member, so this tool gets every partition),
        # then commit the one partition's start offset; the others keep theirs
        consumer.subscribe([topic])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while tp not in consumer.assignment():
            if loop.time() >= deadline:
                raise ReplayError(f"group {group_id} did not hand partition {start.partition} "
                                  "to the replay tool: stop its consumers first")
            await consumer.getmany(timeout_ms=200)
        try:
            await consumer.commit({tp: start.offset})
        except CommitFailedError as exc:
            raise ReplayError(f"could not commit offsets for group {group_id}: it is still "
                              "active (stop its consumers first)") from exc
        return start
    finally:
        await consumer.stop()


async def republish(bootstrap: str, datasource_id: uuid.UUID, target_topic: str, *,
                    since: dt.datetime | None = None, offset: int | None = None,
                    topic: str = LEDGER_BATCHES) -> int:
    """Copy ``datasource_id``'s messages of ``topic`` from there into ``target_topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, fetch_max_bytes=50 * 1024 * 1024)
    producer = ManagedProducer(bootstrap, max_request_size=1_048_576)
    await consumer.start()
    copied = 0
    try:
        running = await producer.start()
        await consumer.topics()
        start = await _locate(consumer, topic, datasource_id, since, offset)
        tp = TopicPartition(topic, start.partition)
        consumer.assign([tp])
        consumer.seek(tp, start.offset)
        key = _key(datasource_id)
        position = start.offset
        while position < start.end_offset:
            records = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
            for record in records:
                position = record.offset + 1
                if record.offset >= start.end_offset:
                    break
                if record.key == key:
                    await running.send_and_wait(target_topic, record.value, key=record.key,
                                                headers=list(record.headers))
                    copied += 1
        return copied
    finally:
        await producer.stop()
        await consumer.stop()
