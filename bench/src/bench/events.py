"""Everything the services say on Kafka, from the moment the suite starts listening.

One consumer (no group) reads the control topics and parses every message; ledger
batches are only counted per data source (key) with their first record timestamp and
their message ids (read from the start of the JSON, without parsing the rows), so
watching a million-row run costs the watcher almost nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import (
    AUTH_EVENTS,
    AUTH_REQUESTS,
    DATASOURCE_COMMANDS,
    DATASOURCE_EVENTS,
    INGEST_REQUESTS,
    LEDGER_BATCHES,
    RUN_EVENTS,
    ContractError,
    Message,
    parse_message,
)

CONTROL_TOPICS = [DATASOURCE_COMMANDS, AUTH_REQUESTS, AUTH_EVENTS, DATASOURCE_EVENTS,
                  INGEST_REQUESTS, RUN_EVENTS]
_MESSAGE_ID = re.compile(rb'"message_id":"([0-9a-f-]{36})"')


class WaitTimeout(AssertionError):
    """An expected event did not come in time."""


@dataclass
class BatchTally:
    """Ledger batches of one data source seen on the topic."""

    records: int = 0
    first_timestamp_ms: int | None = None
    message_ids: Counter[str] = field(default_factory=Counter)

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.message_ids.values())


class EventLog:
    def __init__(self, bootstrap: str, topics: list[str] | None = None,
                 batches: bool = True) -> None:
        self._bootstrap = bootstrap
        self._topics = list(topics or CONTROL_TOPICS) + ([LEDGER_BATCHES] if batches else [])
        self.messages: list[Message] = []
        self.batches: dict[uuid.UUID, BatchTally] = {}
        self._changed = asyncio.Condition()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> EventLog:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None,
                                    enable_auto_commit=False, max_partition_fetch_bytes=8 << 20)
        await consumer.start()
        partitions: list[TopicPartition] = []
        for topic in self._topics:
            found = consumer.partitions_for_topic(topic)
            if not found:
                await consumer._client.force_metadata_update()
                found = consumer.partitions_for_topic(topic) or {0}
            partitions.extend(TopicPartition(topic, p) for p in found)
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)  # resolved now: every later message is seen
        self._consumer = consumer
        self._task = asyncio.create_task(self._read(), name="event-log")
        return self

    @contextlib.asynccontextmanager
    async def batches_held(self, catch_up: float = 300.0) -> AsyncIterator[None]:
        """The ledger topic is not read while inside; on leaving it is read to where it stood
        (no batch is missed; at most ``catch_up`` seconds) before the caller goes on: P3's
        baseline has no reader of its topic, so the connector's side does not pay for one,
        and what comes after does not pay for the catching up either."""
        consumer = self._consumer
        assert consumer is not None
        held = [tp for tp in consumer.assignment() if tp.topic == LEDGER_BATCHES]
        consumer.pause(*held)
        try:
            yield
        finally:
            consumer.resume(*held)
        ends = await consumer.end_offsets(held)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + catch_up
        for tp, end in ends.items():
            while await consumer.position(tp) < end:
                if loop.time() > deadline:
                    raise WaitTimeout(f"the ledger topic not read up within {catch_up:.0f}s")
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            try:
                await self._consumer.stop()
            except asyncio.CancelledError:
                # aiokafka's fetcher, closing, may re-raise the CancelledError of its own
                # fetch task (one in its retry back-off): that is the consumer stopping, not
                # this task being cancelled, which still propagates
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200, max_records=2000)
            if not batch:
                continue
            for records in batch.values():
                for record in records:
                    if record.topic == LEDGER_BATCHES:
                        self._tally(record.key, record.value or b"", record.timestamp)
                        continue
                    try:
                        self.messages.append(parse_message(record.topic, record.value or b""))
                    except ContractError:
                        continue  # hostile input of the fault suite; the DLQ check counts it
            async with self._changed:
                self._changed.notify_all()

    def _tally(self, key: bytes | None, value: bytes, timestamp: int) -> None:
        try:
            datasource_id = uuid.UUID((key or b"").decode())
        except ValueError:
            return
        tally = self.batches.setdefault(datasource_id, BatchTally())
        tally.records += 1
        if tally.first_timestamp_ms is None:
            tally.first_timestamp_ms = timestamp
        found = _MESSAGE_ID.search(value[:200])
        if found:
            tally.message_ids[found.group(1).decode()] += 1

    def find(self, match: Callable[[Message], bool]) -> list[Message]:
        return [m for m in self.messages if match(m)]

    async def wait(self, match: Callable[[Message], bool], timeout: float, what: str) -> Message:
        """The first message (since the log opened) that matches."""
        checked = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._changed:
            while True:
                for message in self.messages[checked:]:
                    if match(message):
                        return message
                checked = len(self.messages)
                left = deadline - loop.time()
                if left <= 0:
                    raise WaitTimeout(f"no {what} within {timeout:.0f}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)

    async def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Until ``check()`` holds, re-checked whenever messages arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._changed:
            while not check():
                left = deadline - loop.time()
                if left <= 0:
                    raise WaitTimeout(f"{what} not reached within {timeout:.0f}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(left, 1.0))
