"""Consumer lag: how many messages each of a service's consumer groups has not consumed yet.

:class:`ConsumerLagMonitor` asks the broker every ``interval`` seconds, per group and
topic: the end offset of every partition (ListOffsets) minus the offset the group
committed there (OffsetFetch). A partition the group never committed on counts from
its beginning offset, since our subscribers start at the earliest message. The result
goes to the ``connector_consumer_lag_messages{group, topic}`` gauge.

The figure is the group's, not the replica's: every replica of a service reports the
same value (aggregate with ``max``, not ``sum``). Offsets are read with plain
consumers (a group consumer that never subscribes does not join its group), which works
on Apache Kafka and on the embedded broker alike.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from connector_runtime.messaging.kafka_auth import PLAINTEXT, KafkaAuth
from connector_runtime.observability.metrics import CONSUMER_LAG

log = structlog.get_logger("lag")


async def measure_lag(bootstrap_servers: str, subscriptions: Mapping[str, Sequence[str]],
                      *, timeout_ms: int = 10_000, auth: KafkaAuth = PLAINTEXT
                      ) -> dict[tuple[str, str], int]:
    """``{(group, topic): messages behind}`` for every group and topic given."""
    topics = sorted({t for ts in subscriptions.values() for t in ts})
    offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False,
                               request_timeout_ms=timeout_ms, **auth.client_options())
    await offsets.start()
    try:
        await offsets.topics()  # loads the metadata of every topic
        partitions = {t: [TopicPartition(t, p) for p in sorted(offsets.partitions_for_topic(t) or ())]
                      for t in topics}
        every = [tp for tps in partitions.values() for tp in tps]
        end = await offsets.end_offsets(every) if every else {}
        begin = await offsets.beginning_offsets(every) if every else {}
    finally:
        await offsets.stop()
    lag: dict[tuple[str, str], int] = {}
    for group, group_topics in subscriptions.items():
        committed = await _committed(bootstrap_servers, group,
                                     [tp for t in group_topics for tp in partitions.get(t, [])],
                                     timeout_ms, auth)
        for topic in group_topics:
            lag[(group, topic)] = sum(
                max(0, end[tp] - (committed.get(tp) if committed.get(tp) is not None else begin[tp]))
                for tp in partitions.get(topic, []))
    return lag


async def _committed(bootstrap_servers: str, group: str, tps: Sequence[TopicPartition],
                     timeout_ms: int, auth: KafkaAuth) -> dict[TopicPartition, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group,
                                enable_auto_commit=False, request_timeout_ms=timeout_ms,
                                **auth.client_options())
    await consumer.start()
    try:
        return {tp: await consumer.committed(tp) for tp in tps}
    finally:
        await consumer.stop()


class ConsumerLagMonitor:
    """Measures the lag of ``subscriptions`` (group -> topics) until stopped."""

    def __init__(self, bootstrap_servers: str, subscriptions: Mapping[str, Sequence[str]], *,
                 interval: float = 15.0, auth: KafkaAuth = PLAINTEXT) -> None:
        self._bootstrap = bootstrap_servers
        self._auth = auth
        self._subscriptions = {g: tuple(ts) for g, ts in subscriptions.items() if ts}
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.last: dict[tuple[str, str], int] = {}

    def start(self) -> None:
        if self._subscriptions and self._interval > 0:
            self._task = asyncio.create_task(self._run(), name="consumer-lag-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def measure(self) -> dict[tuple[str, str], int]:
        """One measurement, written to the gauge."""
        self.last = await measure_lag(self._bootstrap, self._subscriptions, auth=self._auth)
        for (group, topic), messages in self.last.items():
            CONSUMER_LAG.labels(group, topic).set(messages)
        return self.last

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(max(30.0, self._interval)):
                    await self.measure()
                if self._failing:
                    log.info("consumer_lag_measured_again")
                self._failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away: the gauge keeps its last value, try again
                if not self._failing:
                    log.warning("consumer_lag_unavailable", error=type(exc).__name__,
                                detail=str(exc)[:200])
                self._failing = True
            await asyncio.sleep(self._interval)
