"""Outbox -> Kafka -> FastStream subscriber, dead letters and idempotent consumption,
against the real broker and database."""


import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

import contracts as c
from connector_runtime.devstack.testing import Infra, eventually, read_records, unique
from connector_runtime.messaging.broker import (
    dead_letter_middleware,
    dlq_reason,
    ensure_topics,
    make_broker,
    subscriber_options,
)
from connector_runtime.persistence.db import create_engine
from connector_runtime.persistence.inbox import first_delivery
from connector_runtime.persistence.outbox import OutboxRelay, add_to_outbox
from connector_runtime.persistence.tables import inbox_table, outbox_table

pytestmark = pytest.mark.integration


@dataclass
class Harness:
    engine: AsyncEngine
    outbox: sa.Table
    inbox: sa.Table
    effects: sa.Table
    topic: str
    group: str
    handled: list[uuid.UUID] = field(default_factory=list)


def authorization_requested(datasource_id: uuid.UUID | None = None) -> c.AuthorizationRequested:
    return c.AuthorizationRequested.create(
        datasource_id=datasource_id or uuid.uuid4(),
        payload=c.AuthorizationRequestedPayload(
            authorization_id=uuid.uuid4(),
            purpose="create",
            mode="share",
            company_domain_id=uuid.uuid4(),
            company_domain_name="Acme BV",
            requested_by="portal-user",
        ),
    )


@pytest.fixture
async def harness(infra: Infra) -> AsyncIterator[Harness]:
    schema = unique("rt")
    metadata = sa.MetaData(schema=schema)
    outbox, inbox = outbox_table(metadata), inbox_table(metadata)
    effects = sa.Table("effects", metadata, sa.Column("message_id", sa.Uuid, nullable=False))
    engine = create_engine(infra.database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    topic = unique("rt.topic")
    await ensure_topics(infra.kafka_bootstrap_servers, [topic, c.dead_letter_topic(topic)], 3)
    yield Harness(engine, outbox, inbox, effects, topic, unique("group"))
    await engine.dispose()


def consuming_broker(infra: Infra, h: Harness) -> KafkaBroker:
    broker = make_broker(infra.kafka_bootstrap_servers, client_id="test")
    broker.add_middleware(dead_letter_middleware(broker, h.group, max_attempts=2))
    options = subscriber_options(c.AUTH_REQUESTS, h.group, session_timeout_ms=2000)

    @broker.subscriber(h.topic, **options)
    async def handle(message: c.AuthorizationRequested) -> None:
        async with h.engine.begin() as conn:
            if await first_delivery(conn, h.inbox, "test-consumer", message.message_id):
                await conn.execute(h.effects.insert().values(message_id=message.message_id))
        h.handled.append(message.message_id)

    return broker


async def count_effects(h: Harness, message_id: uuid.UUID) -> int:
    async with h.engine.connect() as conn:
        return int(await conn.scalar(
            sa.select(sa.func.count()).select_from(h.effects).where(h.effects.c.message_id == message_id)
        ) or 0)


async def test_event_round_trips_from_outbox_through_kafka_to_a_subscriber(infra: Infra,
                                                                          harness: Harness) -> None:
    message = authorization_requested()
    async with harness.engine.begin() as conn:
        await add_to_outbox(conn, harness.outbox, harness.topic, message)
    relay = OutboxRelay(harness.engine, harness.outbox, infra.kafka_bootstrap_servers)
    broker = consuming_broker(infra, harness)
    relay.start()
    async with broker:
        await broker.start()
        await eventually(lambda: message.message_id in harness.handled)
    await relay.stop()
    assert await count_effects(harness, message.message_id) == 1
    records = await read_records(infra.kafka_bootstrap_servers, harness.topic, lambda r: len(r) >= 1)
    assert records[0].key == str(message.datasource_id).encode()
    assert dict(records[0].headers)["message_type"] == b"AuthorizationRequested"
    async with harness.engine.connect() as conn:
        unsent = await conn.scalar(sa.select(sa.func.count()).select_from(harness.outbox)
                                   .where(harness.outbox.c.sent_at.is_(None)))
    assert unsent == 0


async def test_rolled_back_transaction_publishes_nothing(infra: Infra, harness: Harness) -> None:
    message = authorization_requested()
    with pytest.raises(RuntimeError):
        async with harness.engine.begin() as conn:
            await add_to_outbox(conn, harness.outbox, harness.topic, message)
            raise RuntimeError("state change failed")
    async with harness.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(harness.outbox)) == 0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "Invalid JSON"),
        (b'{"type": "SomethingElse"}', "type: Input should be 'AuthorizationRequested'"),
    ],
)
async def test_malformed_message_goes_to_dead_letter_topic_and_consumption_goes_on(
    infra: Infra, harness: Harness, raw: bytes, reason: str
) -> None:
    good = authorization_requested()
    broker = consuming_broker(infra, harness)
    async with broker:
        await broker.start()
        await broker.publish(raw, harness.topic, key=b"k1")
        await broker.publish(good.to_bytes(), harness.topic, key=b"k1")
        await eventually(lambda: good.message_id in harness.handled)
    dead = await read_records(infra.kafka_bootstrap_servers, c.dead_letter_topic(harness.topic),
                              lambda r: len(r) >= 1)
    assert len(dead) == 1
    assert dead[0].value == raw  # the original bytes, untouched
    assert dead[0].key == b"k1"
    assert reason in (dlq_reason(dead[0].headers) or "")
    assert dict(dead[0].headers)["dlq_source_topic"] == harness.topic.encode()


async def test_duplicate_delivery_is_processed_once(infra: Infra, harness: Harness) -> None:
    message = authorization_requested()
    broker = consuming_broker(infra, harness)
    async with broker:
        await broker.start()
        for _ in range(3):
            await broker.publish(message.to_bytes(), harness.topic, key=message.key)
        await eventually(lambda: harness.handled.count(message.message_id) == 3)
    assert await count_effects(harness, message.message_id) == 1


async def test_handler_that_keeps_failing_is_dead_lettered_after_retries(
    infra: Infra, harness: Harness
) -> None:
    message = authorization_requested()
    after = authorization_requested()
    broker = make_broker(infra.kafka_bootstrap_servers, client_id="test")
    broker.add_middleware(dead_letter_middleware(broker, harness.group, max_attempts=2))
    calls: list[uuid.UUID] = []

    @broker.subscriber(harness.topic, **subscriber_options(c.AUTH_REQUESTS, harness.group, session_timeout_ms=2000))
    async def handle(m: c.AuthorizationRequested) -> None:
        calls.append(m.message_id)
        if m.message_id == message.message_id:
            raise ValueError("a bug, not an outage")

    async with broker:
        await broker.start()
        await broker.publish(message.to_bytes(), harness.topic, key=message.key)
        await broker.publish(after.to_bytes(), harness.topic, key=message.key)
        await eventually(lambda: after.message_id in calls)
    assert calls.count(message.message_id) == 2
    dead = await read_records(infra.kafka_bootstrap_servers, c.dead_letter_topic(harness.topic),
                              lambda r: len(r) >= 1)
    assert "handler failed 2 times: ValueError" in (dlq_reason(dead[0].headers) or "")


async def test_relay_keeps_rows_while_the_broker_is_down_and_sends_them_after(
    infra: Infra, harness: Harness
) -> None:
    from connector_runtime.devstack.embedded import EmbeddedKafka

    kafka = EmbeddedKafka().start()
    port = kafka.port
    kafka.stop()  # the relay starts against a broker that is not there
    messages = [authorization_requested() for _ in range(3)]
    async with harness.engine.begin() as conn:
        await add_to_outbox(conn, harness.outbox, harness.topic, *messages)
    relay = OutboxRelay(harness.engine, harness.outbox, kafka.bootstrap_servers, poll_interval=0.1)
    relay.start()
    try:
        await eventually(lambda: relay.failures >= 2, timeout=60)
        assert relay.published == 0
        restarted = EmbeddedKafka(port=port).start()
        try:
            await ensure_topics(restarted.bootstrap_servers, [harness.topic], 1)
            relay.notify()
            await eventually(lambda: relay.published == 3, timeout=60)
            records = await read_records(restarted.bootstrap_servers, harness.topic,
                                         lambda r: len(r) >= 3)
        finally:
            await relay.stop()
            restarted.stop()
    finally:
        await relay.stop()
    assert [r.value for r in records] == [m.to_bytes() for m in messages]  # in order per key
