"""Publishing commands and watching events, as the portal backend does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition

from connector_runtime.messaging.producer import encoded_headers, running_producer
from contracts import ContractError, Message, parse_message


async def publish(bootstrap: str, topic: str, message: Message) -> None:
    async with running_producer(bootstrap) as producer:
        await producer.send_and_wait(topic, message.to_bytes(), key=message.key,
                                     headers=encoded_headers(message))


class EventWatch:
    """Events on some topics from the moment the watch opened, for one data source.

    Events arrive from several topics in no fixed order between topics, so
    :meth:`first` also looks at events read earlier that no call has taken yet.
    """

    def __init__(self, consumer: AIOKafkaConsumer, datasource_id: uuid.UUID | None) -> None:
        self._consumer = consumer
        self._datasource_id = datasource_id
        self._unclaimed: list[Message] = []

    async def events(self, timeout: float | None = None) -> AsyncIterator[Message]:
        """Events in arrival order (earlier unclaimed ones first) until ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            while self._unclaimed:
                yield self._unclaimed.pop(0)
            if deadline is not None and loop.time() >= deadline:
                return
            await self._fetch()

    async def first(self, match: Callable[[Message], bool], timeout: float) -> Message | None:
        """The earliest event matching ``match`` not yet taken; others stay for later calls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        checked = 0
        while True:
            for i in range(checked, len(self._unclaimed)):
                if match(self._unclaimed[i]):
                    return self._unclaimed.pop(i)
            checked = len(self._unclaimed)
            if loop.time() >= deadline:
                return None
            await self._fetch()

    async def _fetch(self) -> None:
        batch = await self._consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                try:
                    message = parse_message(record.topic, record.value or b"")
                except ContractError:
                    continue
                if self._datasource_id is None or message.datasource_id == self._datasource_id:
                    self._unclaimed.append(message)


@asynccontextmanager
async def watch(bootstrap: str, topics: list[str], datasource_id: uuid.UUID | None,
                from_beginning: bool = False) -> AsyncIterator[EventWatch]:
    """Open before publishing, so no answer to the command can be missed."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in (consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
        ]
        consumer.assign(partitions)
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)  # resolve now: later events are all seen
        yield EventWatch(consumer, datasource_id)
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or {0}
