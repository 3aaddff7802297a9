"""Consumer lag from the real broker, and the message log context on every line of a message."""

import uuid
from typing import Any

import pytest
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from structlog.testing import capture_logs

import contracts as c
from connector_runtime.devstack.testing import Infra, eventually, unique
from connector_runtime.messaging.broker import (
    dead_letter_middleware,
    ensure_topics,
    make_broker,
    subscriber_options,
)
from connector_runtime.messaging.lag import ConsumerLagMonitor
from connector_runtime.messaging.producer import message_headers
from connector_runtime.observability.logcontext import MessageLogContext
from connector_runtime.observability.metrics import CONSUMER_LAG

pytestmark = pytest.mark.integration


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def test_consumer_lag_is_end_offsets_minus_committed_offsets_per_group_and_topic(
    infra: Infra,
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    topic, other = unique("lag.topic"), unique("lag.other")
    await ensure_topics(bootstrap, [topic, other], 2)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for partition, count in ((0, 6), (1, 4)):
            for _ in range(count):
                await producer.send_and_wait(topic, b"x", partition=partition)
        await producer.send_and_wait(other, b"x", partition=0)
    finally:
        await producer.stop()
    behind, fresh = unique("lag.group"), unique("lag.fresh")
    await commit(bootstrap, behind, {TopicPartition(topic, 0): 4, TopicPartition(other, 0): 1})

    monitor = ConsumerLagMonitor(bootstrap, {behind: (topic, other), fresh: (topic,)})
    lag = await monitor.measure()

    # 2 left on partition 0, and partition 1 was never committed: all 4 count
    assert lag == {(behind, topic): 6, (behind, other): 0, (fresh, topic): 10}
    assert CONSUMER_LAG.labels(behind, topic)._value.get() == 6
    assert CONSUMER_LAG.labels(fresh, topic)._value.get() == 10


async def test_every_line_of_a_message_carries_its_datasource_correlation_and_run(
    infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # FastStream logs Received/Processed outside tests only
    bootstrap = infra.kafka_bootstrap_servers
    topic, group = unique("ctx.topic"), unique("ctx.group")
    await ensure_topics(bootstrap, [topic, c.dead_letter_topic(topic)], 1)
    started = c.RunStarted.create(datasource_id=uuid.uuid4(), payload=c.RunStartedPayload(
        run_id=uuid.uuid4(), kind="initial", division=100001, entities=(c.Entity.GL_ACCOUNTS,),
        resumed=False))
    unannounced = c.RunStarted.create(datasource_id=uuid.uuid4(), payload=c.RunStartedPayload(
        run_id=uuid.uuid4(), kind="initial", division=100001, entities=(c.Entity.GL_ACCOUNTS,),
        resumed=False))
    handled: list[uuid.UUID] = []
    broker = make_broker(bootstrap, client_id="ctx-test")
    broker.add_middleware(MessageLogContext)
    broker.add_middleware(dead_letter_middleware(broker, group))
    log = structlog.get_logger("ctx-test")

    @broker.subscriber(topic, **subscriber_options(c.RUN_EVENTS, group, session_timeout_ms=2000))
    async def handle(message: c.RunStarted) -> None:
        log.info("handling", seen=message.message_id.hex)
        handled.append(message.message_id)

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as lines:
        async with broker:
            await broker.start()
            await broker.publish(started.to_bytes(), topic, key=started.key,
                                 headers=message_headers(started))
            # no headers at all: nothing of the first message may stick to its lines
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
            await producer.start()
            try:
                await producer.send_and_wait(topic, unannounced.to_bytes(), key=unannounced.key)
            finally:
                await producer.stop()
            await eventually(lambda: len(handled) == 2 and sum(
                1 for line in lines if line["event"] == "Processed") == 2)

    def of(message: c.RunStarted) -> list[dict[str, Any]]:
        return [line for line in lines if line.get("datasource_id") == str(message.datasource_id)]

    first = of(started)
    assert [line["event"] for line in first] == ["Received", "handling", "Processed"]
    assert all(line["correlation_id"] == str(started.correlation_id) for line in first)
    handling = first[1]
    assert handling["message_id"] == str(started.message_id)
    assert handling["run_id"] == str(started.payload.run_id)
    second = of(unannounced)
    assert [line["event"] for line in second] == ["Received", "handling", "Processed"]
    assert "correlation_id" not in second[0]  # not in its headers, and not the first one's
    assert second[1]["correlation_id"] == str(unannounced.correlation_id)
    assert second[1]["run_id"] == str(unannounced.payload.run_id)
