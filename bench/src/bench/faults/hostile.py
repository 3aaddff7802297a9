"""R5: malformed and hostile messages on every topic a service consumes.

Each message is a valid message of its topic, then broken one way: not JSON, truncated,
binary, wrong types, unknown type, ids that are not ids, payloads far over any sane size,
nesting thousands deep, invalid UTF-8, a wrong ``schema_version``, a naive timestamp.
Every one must land in the topic's dead-letter topic (``<topic>.dlq``) with a
``dlq_reason`` header, once for every consumer group the deployment declares for the topic
(:mod:`bench.deployment`: the services' own subscriptions, not the dead letters), while a
new data source connects and imports at the same time. Well-formed commands for data sources that
do not exist are refused with ``CommandRejected`` and create nothing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.deployment import consumer_groups
from bench.faults.checks import run_reconciles
from bench.faults.dead_letters import dead_lettered, verdict
from bench.faults.result import ScenarioResult
from bench.faults.stack import R5_DIVISION, FaultStack
from bench.harness import EVA, Harness
from connector_cli.kafka_io import publish
from contracts import (
    ALL_ENTITIES,
    AUTH_EVENTS,
    AUTH_REQUESTS,
    CHANGE_NOTIFICATIONS,
    DATASOURCE_COMMANDS,
    DATASOURCE_EVENTS,
    INGEST_REQUESTS,
    RUN_EVENTS,
    AuthorizationRequested,
    AuthorizationRequestedPayload,
    CommandRejected,
    CreateDataSource,
    CreateDataSourcePayload,
    EntityProgress,
    ExactAuthorized,
    ExactAuthorizedPayload,
    ExactChangeNotified,
    ExactChangeNotifiedPayload,
    InitialRunRequested,
    InitialRunRequestedPayload,
    Message,
    RecreateAccepted,
    RecreateAcceptedPayload,
    RecreateDataSource,
    RecreateDataSourcePayload,
    RequestReimport,
    RequestReimportPayload,
    RunProgress,
    RunProgressPayload,
)

NAME = "hostile messages"


def _templates() -> dict[str, Message]:
    ds, any_id = uuid.uuid4(), uuid.uuid4
    return {
        DATASOURCE_COMMANDS: CreateDataSource.create(datasource_id=ds, payload=CreateDataSourcePayload(
            new_company_domain_name="Hostile B.V.", authorization_mode="self",
            requested_by="mallory@example.test")),
        AUTH_REQUESTS: AuthorizationRequested.create(datasource_id=ds, payload=AuthorizationRequestedPayload(
            authorization_id=any_id(), purpose="create", mode="share", company_domain_id=any_id(),
            company_domain_name="Hostile B.V.", requested_by="mallory@example.test")),
        AUTH_EVENTS: ExactAuthorized.create(datasource_id=ds, payload=ExactAuthorizedPayload(
            authorization_id=any_id(), purpose="create", grant_id=any_id(), division=300001,
            division_name="Grootboek Data B.V.", exact_user_id=any_id(), exact_user_name="Mallory",
            authorized_at=datetime.now(UTC))),
        DATASOURCE_EVENTS: RecreateAccepted.create(datasource_id=ds, payload=RecreateAcceptedPayload(
            division=300001, grant_id=any_id(), previous_grant_id=any_id())),
        INGEST_REQUESTS: InitialRunRequested.create(datasource_id=ds, payload=InitialRunRequestedPayload(
            run_id=any_id(), division=300001, grant_id=any_id(), entities=ALL_ENTITIES)),
        RUN_EVENTS: RunProgress.create(datasource_id=ds, payload=RunProgressPayload(
            run_id=any_id(), kind="initial", calls_used=1,
            entities=(EntityProgress(entity=ALL_ENTITIES[0], rows=1, pages=1, done=False),))),
        CHANGE_NOTIFICATIONS: ExactChangeNotified.create(
            datasource_id=ds, payload=ExactChangeNotifiedPayload(
                division=300001, topic="FinancialTransactions", action="Update", key=any_id(),
                exact_endpoint="https://start.exactonline.nl/api/v1/300001/x",
                event_created_on=datetime.now(UTC), received_at=datetime.now(UTC))),
    }


def _with(**changes: Any) -> Callable[[dict[str, Any]], bytes]:
    def mutate(doc: dict[str, Any]) -> bytes:
        return json.dumps({**doc, **changes}).encode()
    return mutate


def _without(field: str) -> Callable[[dict[str, Any]], bytes]:
    return lambda doc: json.dumps({k: v for k, v in doc.items() if k != field}).encode()


def _payload_field(value: Any) -> Callable[[dict[str, Any]], bytes]:
    def mutate(doc: dict[str, Any]) -> bytes:
        payload = dict(doc["payload"])
        payload[next(iter(payload))] = value
        return json.dumps({**doc, "payload": payload}).encode()
    return mutate


def _deep(doc: dict[str, Any]) -> bytes:
    return json.dumps({**doc, "payload": None}).encode().replace(
        b'"payload": null', b'"payload": ' + b"[" * 5000 + b"]" * 5000)


MUTATIONS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "not_json": lambda doc: b"this is not JSON {",
    "truncated": lambda doc: json.dumps(doc).encode()[:60],
    "empty": lambda doc: b"",
    "binary": lambda doc: bytes(range(256)) * 4,
    "json_array": lambda doc: b"[1, 2, 3]",
    "json_null": lambda doc: b"null",
    "invalid_utf8": lambda doc: json.dumps(doc).encode().replace(b'"payload"', b'"pay\xffload"'),
    "unknown_type": _with(type="DropAllTables"),
    "type_of_another_topic": _with(type="LedgerBatch"),
    "message_id_not_uuid": _with(message_id=12345),
    "datasource_id_path": _with(datasource_id="../../etc/passwd"),
    "correlation_id_sql": _with(correlation_id="'; DROP TABLE outbox; --"),
    "payload_string": _with(payload="{}"),
    "payload_missing": _without("payload"),
    "payload_field_wrong_type": _payload_field({"nested": [1, 2]}),
    "payload_id_oversized": _payload_field("7" * 300_000),
    "envelope_oversized": _with(message_id="f" * 800_000),
    "padded_oversized": _with(padding="x" * 500_000),
    "deeply_nested": _deep,
    "schema_version_zero": _with(schema_version=0),
    "schema_version_negative": _with(schema_version=-3),
    "schema_version_string": _with(schema_version="1"),
    "schema_version_null": _with(schema_version=None),
    "schema_version_float": _with(schema_version=1.5),
    "occurred_at_garbage": _with(occurred_at="yesterday"),
    "occurred_at_naive": _with(occurred_at="2025-01-01T00:00:00"),
}


def hostile_messages(count: int) -> list[tuple[str, str, bytes]]:
    """``count`` (topic, kind, bytes), spread over every consumed topic and every kind."""
    templates = {t: m.model_dump(mode="json") for t, m in _templates().items()}
    topics, kinds = list(templates), list(MUTATIONS)
    out = []
    for i in range(count):
        topic = topics[i % len(topics)]
        kind = kinds[(i // len(topics)) % len(kinds)]
        out.append((topic, kind, MUTATIONS[kind](templates[topic])))
    return out


def unknown_id_commands() -> list[Message]:
    """Well-formed commands for data sources that do not exist."""
    commands: list[Message] = []
    for _ in range(5):
        commands.append(RecreateDataSource.create(
            datasource_id=uuid.uuid4(), payload=RecreateDataSourcePayload(
                authorization_mode="share", requested_by="mallory@example.test")))
        commands.append(RequestReimport.create(
            datasource_id=uuid.uuid4(), payload=RequestReimportPayload(
                entities=None, date_from=date(2024, 1, 1), date_to=None,
                requested_by="mallory@example.test")))
    return commands


async def _send(bootstrap: str, messages: list[tuple[str, str, bytes]]
                ) -> dict[tuple[str, int, int], tuple[str, str]]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False,
                                max_request_size=1_048_000)
    await producer.start()
    sent: dict[tuple[str, int, int], tuple[str, str]] = {}
    try:
        futures = [(topic, kind, await producer.send(topic, value, key=str(uuid.uuid4()).encode()))
                   for topic, kind, value in messages]
        for topic, kind, future in futures:
            meta = await future
            sent[(topic, meta.partition, meta.offset)] = (topic, kind)
    finally:
        await producer.stop()
    return sent


async def run(h: Harness, stack: FaultStack) -> ScenarioResult:
    result = ScenarioResult(5, NAME)
    messages = hostile_messages(stack.scale.hostile_messages)
    messages_by_topic = {t for t, _k, _b in messages}
    commands = unknown_id_commands()
    # who must dead-letter what: the services' declared subscriptions, as the system starts them
    expected = consumer_groups(h.system.service_env())

    async def valid_traffic() -> None:
        conn = await h.connect(EVA, R5_DIVISION)
        await run_reconciles(h, conn, result, stack.scale.run_timeout)

    async def hostile() -> dict[tuple[str, int, int], tuple[str, str]]:
        sent = await _send(h.system.bootstrap, messages)
        for command in commands:
            await publish(h.system.bootstrap, DATASOURCE_COMMANDS, command)
        return sent

    sent, _ = await asyncio.gather(hostile(), valid_traffic())
    dlq = await dead_lettered(h.system.bootstrap, sent, timeout=120)
    judged = verdict(sent, dlq, expected)
    rejected = [m for m in h.log.find(lambda m: isinstance(m, CommandRejected))
                if m.payload.command_message_id in {c.message_id for c in commands}]
    created = [c.datasource_id for c in commands
               if (await h.http.get(f"{h.system.url('datasource')}/datasources/{c.datasource_id}",
                                    headers=h.system.bearer("operator"))
                   ).status_code != 404]
    result.figures.update({
        "hostile_sent": len(sent),
        "dead_lettered_pct": judged.pct,
        "dlq_records": sum(len(v) for v in dlq.values()),
        "consumer_groups": sum(len(g) for t, g in expected.items() if t in messages_by_topic),
        "unknown_id_commands_rejected": f"{len(rejected)}/{len(commands)}",
    })
    for failure in judged.failures():
        result.failures.append(failure)
    untested = sorted(set(expected) - set(messages_by_topic))
    result.expect(not untested, f"topics the services consume get no hostile messages: {untested}")
    result.expect(len(rejected) == len(commands), "a command for an unknown data source was not refused")
    result.expect(not created, f"commands for unknown data sources created {created}")
    result.figures["kinds"] = sorted(MUTATIONS)
    return result

