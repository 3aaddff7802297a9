"""Dead letters re-driven after a fix: a command refers to a company domain that does not
exist yet, its handler gives up and the middleware dead-letters it; once the domain exists,
``redrive`` sends it back and it is handled exactly once, however often redrive runs.

Real broker and database; the subscriber is the runtime's FastStream stack with its
dead-letter middleware, as every service runs it.
"""

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

import contracts as c
from connector_cli import dlq
from connector_cli.main import app
from connector_runtime.devstack.testing import Infra, eventually, read_records, unique
from connector_runtime.messaging.broker import (
    dead_letter_middleware,
    ensure_topics,
    make_broker,
    subscriber_options,
)
from connector_runtime.persistence.db import create_engine
from connector_runtime.persistence.inbox import first_delivery
from connector_runtime.persistence.tables import inbox_table

pytestmark = pytest.mark.integration


class UnknownDomain(ValueError):
    """Not transient: the message names a company domain nobody created (yet)."""


@dataclass
class World:
    engine: AsyncEngine
    domains: sa.Table
    inbox: sa.Table
    effects: sa.Table
    topic: str
    group: str
    handled: list[uuid.UUID] = field(default_factory=list)


@pytest.fixture
async def world(infra: Infra) -> AsyncIterator[World]:
    schema = unique("dlq")
    metadata = sa.MetaData(schema=schema)
    domains = sa.Table("domains", metadata, sa.Column("id", sa.Uuid, primary_key=True))
    effects = sa.Table("effects", metadata, sa.Column("message_id", sa.Uuid, nullable=False))
    engine = create_engine(infra.database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    inbox = inbox_table(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    topic = unique("dlq.commands")
    await ensure_topics(infra.kafka_bootstrap_servers, [topic, c.dead_letter_topic(topic)], 3)
    yield World(engine, domains, inbox, effects, topic, unique("group"))
    await engine.dispose()


def consumer(infra: Infra, w: World) -> KafkaBroker:
    broker = make_broker(infra.kafka_bootstrap_servers, client_id="dlq-test")
    broker.add_middleware(dead_letter_middleware(broker, w.group, max_attempts=2))

    @broker.subscriber(w.topic, **subscriber_options(c.AUTH_REQUESTS, w.group, session_timeout_ms=2000))
    async def handle(message: c.AuthorizationRequested) -> None:
        async with w.engine.begin() as conn:
            known = await conn.scalar(sa.select(sa.func.count()).select_from(w.domains)
                                      .where(w.domains.c.id == message.payload.company_domain_id))
            if not known:
                raise UnknownDomain(f"no company domain {message.payload.company_domain_id}")
            if await first_delivery(conn, w.inbox, "dlq-test", message.message_id):
                await conn.execute(w.effects.insert().values(message_id=message.message_id))
        w.handled.append(message.message_id)

    return broker


def command(domain: uuid.UUID) -> c.AuthorizationRequested:
    return c.AuthorizationRequested.create(datasource_id=uuid.uuid4(), payload=c.AuthorizationRequestedPayload(
        authorization_id=uuid.uuid4(), purpose="create", mode="share", company_domain_id=domain,
        company_domain_name="Bakkerij de Vries", requested_by="portal-user"))


async def send(infra: Infra, topic: str, *messages: c.Message) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        for m in messages:
            await producer.send_and_wait(topic, m.to_bytes(), key=m.key,
                                         headers=[("message_type", m.type.encode()),
                                                  ("correlation_id", str(m.correlation_id).encode())])
        await producer.send_and_wait(topic, b"{not json", key=b"garbage")
    finally:
        await producer.stop()


async def effects(w: World, message_id: uuid.UUID) -> int:
    async with w.engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(w.effects)
                                     .where(w.effects.c.message_id == message_id)) or 0)


def cli(infra: Infra, *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
                                                      "COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def json_of(output: str) -> Any:
    """The JSON document the command printed. The runner captures this process's stdout, where
    the test's own consumer may log a line (a partition assignment) while the command runs."""
    lines = output.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(("{", "[")))
    document, _end = json.JSONDecoder().raw_decode("".join(lines[start:]))
    return document


async def test_a_dead_letter_is_redriven_after_the_fix_and_handled_exactly_once(infra: Infra,
                                                                                 world: World) -> None:
    domain = uuid.uuid4()
    bad = command(domain)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    broker = consumer(infra, world)
    dead_topic = c.dead_letter_topic(world.topic)
    async with broker:
        await broker.start()
        await send(infra, world.topic, bad)
        await read_records(infra.kafka_bootstrap_servers, dead_topic, lambda rs: len(rs) >= 2, timeout=30)
        assert await effects(world, bad.message_id) == 0

        # what an operator sees
        letters = [d for d in await dlq.read_dead_letters(infra.kafka_bootstrap_servers, [dead_topic])]
        ours = next(d for d in letters if d.key_text == str(bad.datasource_id))
        assert "UnknownDomain" in ours.reason and ours.consumer_group == world.group
        assert ours.source_topic == world.topic and ours.message_type == "AuthorizationRequested"
        assert ours.value == bad.to_bytes()
        listed = await asyncio.to_thread(cli, infra, "dlq", "list", "--topic", dead_topic)
        assert "UnknownDomain" in listed and "invalid message" in listed
        shown = json_of(await asyncio.to_thread(cli, infra, "dlq", "show", ours.ref, "--json"))
        assert shown["headers"]["correlation_id"] == str(bad.correlation_id)
        assert shown["reason"] == ours.reason and shown["redriven"] is None

        # a dry run sends nothing
        out = await asyncio.to_thread(cli, infra, "dlq", "redrive", "--topic", dead_topic,
                                      "--reason", "UnknownDomain", "--dry-run")
        assert "would re-drive 1" in out
        assert (await dlq.redriven(infra.kafka_bootstrap_servers)).get(ours.ref) is None

        # the fix: the company domain now exists; then re-drive by reason and time range
        async with world.engine.begin() as conn:
            await conn.execute(world.domains.insert().values(id=domain))
        out = await asyncio.to_thread(cli, infra, "dlq", "redrive", "--topic", dead_topic,
                                      "--reason", "unknowndomain", "--since", before.isoformat())
        assert "re-drove 1; 0 re-driven before" in out
        await eventually(lambda: bad.message_id in world.handled, timeout=30)

        # a second redrive (here by key) sends nothing again; the garbage stays where it is
        out = await asyncio.to_thread(cli, infra, "dlq", "redrive", "--topic", dead_topic,
                                      "--key", str(bad.datasource_id))
        assert "re-drove 0; 1 re-driven before" in out
        await asyncio.sleep(2)  # room for a wrong second delivery to show
    assert world.handled.count(bad.message_id) == 1
    assert await effects(world, bad.message_id) == 1
    copies = await read_records(infra.kafka_bootstrap_servers, world.topic, lambda rs: len(rs) >= 3)
    redriven = [r for r in copies if dict(r.headers).get(dlq.REDRIVEN_FROM)]
    assert len(redriven) == 1 and redriven[0].key == bad.key and redriven[0].value == bad.to_bytes()
    assert dict(redriven[0].headers)[dlq.REDRIVEN_FROM] == ours.ref.encode()
    assert not any(k.startswith("dlq_reason") for k, _ in redriven[0].headers)
    still = [d for d in await dlq.read_dead_letters(infra.kafka_bootstrap_servers, [dead_topic])]
    assert len(still) == 2  # dead letters are history; the log says which went back


def test_redrive_refuses_to_send_everything_without_a_selection() -> None:
    result = CliRunner().invoke(app, ["dlq", "redrive"])
    assert result.exit_code != 0
    assert "select what to re-drive" in result.output


async def test_a_record_dead_lettered_twice_goes_back_once(infra: Infra) -> None:
    """A group that re-reads a failed record (after a restart, say) dead-letters it again."""
    topic = unique("dlq.twice")
    dead_topic = c.dead_letter_topic(topic)
    await ensure_topics(infra.kafka_bootstrap_servers, [topic, dead_topic], 1)
    headers = [("message_type", b"AuthorizationRequested"), ("dlq_reason", b"handler failed 3 times: X"),
               ("dlq_source_topic", topic.encode()), ("dlq_source_partition", b"0"),
               ("dlq_source_offset", b"41")]
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        for _ in range(2):
            await producer.send_and_wait(dead_topic, b"{}", key=b"ds-1", headers=headers)
    finally:
        await producer.stop()
    letters = await dlq.read_dead_letters(infra.kafka_bootstrap_servers, [dead_topic])
    assert len(letters) == 2 and letters[0].source_ref == letters[1].source_ref == f"{topic}:0:41"
    first = await dlq.redrive(infra.kafka_bootstrap_servers, letters)
    assert (len(first.sent), len(first.already)) == (1, 1)
    again = await dlq.redrive(infra.kafka_bootstrap_servers, letters)
    assert (len(again.sent), len(again.already)) == (0, 2)
    sent = await read_records(infra.kafka_bootstrap_servers, topic, lambda rs: len(rs) >= 2, timeout=3)
    assert len(sent) == 1
