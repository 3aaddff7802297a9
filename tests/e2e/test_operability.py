"""What an operator sees after a real run: each service's /metrics with the run's figures,
and one correlation id from the portal command to the last LedgerBatch - in the events,
their Kafka headers and the JSON log lines of every service process.

Access tokens live 40 s in this sandbox (auth may refresh 10 s after issue) so a token
refresh happens within the test instead of after Exact's 570 s."""

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from connector_cli.kafka_io import watch
from connector_cli.settings import CliSettings
from connector_demo.authorize import complete_authorization
from connector_demo.browser import Browser
from connector_demo.flows import create_command, expect, send_for_link
from connector_demo.system import LocalSystem
from connector_runtime.devstack.testing import eventually
from contracts import (
    AUTH_EVENTS,
    AUTH_REQUESTS,
    DATASOURCE_COMMANDS,
    DATASOURCE_EVENTS,
    INGEST_REQUESTS,
    LEDGER_BATCHES,
    RUN_EVENTS,
    DataSourceConnected,
    LedgerBatch,
    Message,
    RunCompleted,
    parse_message,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.integration,
    pytest.mark.system(
        sandbox_args=["--minutely-limit", "3000", "--access-token-lifetime", "40"],
        extra_env={"INGEST_EXACT_MINUTELY_LIMIT": "3000", "AUTH_MIN_REFRESH_INTERVAL_SECONDS": "10",
                   "CONSUMER_LAG_INTERVAL_SECONDS": "1"},
    ),
]
DIVISION = "100001"
FLOW_TOPICS = [DATASOURCE_COMMANDS, AUTH_REQUESTS, AUTH_EVENTS, DATASOURCE_EVENTS, INGEST_REQUESTS,
               RUN_EVENTS, LEDGER_BATCHES]


@dataclass
class Flow:
    datasource_id: uuid.UUID
    correlation_id: uuid.UUID
    completed: RunCompleted


@pytest.fixture(scope="module")
async def flow(system: LocalSystem, cfg: CliSettings) -> Flow:
    """One share-link data source, authorized by an administrator, imported once."""
    create = create_command("share", new_domain=f"Bakkerij {uuid.uuid4().hex[:6]}")
    async with watch(cfg.kafka_bootstrap_servers, [AUTH_EVENTS, DATASOURCE_EVENTS, RUN_EVENTS],
                     create.datasource_id) as events:
        link = await send_for_link(cfg, events, create)
        browser = Browser()
        try:
            await complete_authorization(browser, link, "anna.admin@demo.nl", "demo-anna")
        finally:
            await browser.close()
        await expect(events, DataSourceConnected)
        completed = await expect(events, RunCompleted, timeout=180)
    assert isinstance(completed, RunCompleted)
    return Flow(create.datasource_id, create.correlation_id, completed)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(system: LocalSystem, service: str) -> Samples:
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{system.internal_url(service)}/metrics")).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


async def test_ingest_metrics_show_the_run(system: LocalSystem, flow: Flow) -> None:
    run = flow.completed.payload
    m = await scrape(system, "ingest")
    for entity in run.totals:
        assert value(m, "ingest_rows_imported_total", entity=entity.entity.value) == entity.rows
    assert total(m, "ingest_rows_imported_total") == sum(t.rows for t in run.totals) > 3000
    assert total(m, "ingest_batches_published_total") == run.batches
    assert value(m, "connector_messages_published_total", topic=LEDGER_BATCHES,
                 type="LedgerBatch") == run.batches
    calls = total(m, "ingest_exact_calls_total", division=DIVISION)
    assert calls == value(m, "ingest_exact_calls_total", division=DIVISION, status="200")
    assert calls >= run.calls_used > 0
    assert total(m, "ingest_exact_rate_limited_total") == 0
    minutely = value(m, "ingest_exact_rate_budget_remaining", division=DIVISION, window="minutely")
    assert minutely is not None and 0 <= minutely < 3000
    assert value(m, "ingest_exact_rate_budget_limit", division=DIVISION, window="minutely") == 3000
    assert value(m, "ingest_exact_rate_budget_remaining", division=DIVISION, window="daily") is not None
    assert value(m, "ingest_runs", status="completed") == 1
    assert value(m, "ingest_runs", status="failed") == 0
    assert value(m, "ingest_run_transitions_total", kind="initial", state="completed") == 1
    assert value(m, "ingest_run_duration_seconds_count", kind="initial") == 1
    assert value(m, "ingest_run_duration_seconds_sum", kind="initial") == pytest.approx(
        run.duration_seconds, abs=0.01)
    assert value(m, "connector_messages_consumed_total", topic=INGEST_REQUESTS, outcome="ok") == 1
    assert total(m, "connector_messages_published_total", topic=RUN_EVENTS) >= 2  # started, completed
    assert value(m, "connector_outbox_lag_seconds", service="ingest") is not None


async def test_datasource_and_auth_metrics_show_the_data_source(system: LocalSystem, flow: Flow) -> None:
    async def run_recorded() -> Samples | None:  # datasource reads RunCompleted when we do
        m = await scrape(system, "datasource")
        return m if value(m, "datasource_runs", kind="initial", status="completed") == 1 else None

    ds = await eventually(run_recorded)
    assert value(ds, "datasource_commands_total", command="CreateDataSource", outcome="applied") == 1
    assert value(ds, "datasource_datasources", state="connected") == 1
    assert value(ds, "datasource_runs", kind="initial", status="running") == 0
    assert value(ds, "connector_messages_published_total", topic=INGEST_REQUESTS,
                 type="InitialRunRequested") == 1
    assert (value(ds, "connector_messages_consumed_total", topic=RUN_EVENTS, outcome="ok") or 0) >= 2
    auth = await scrape(system, "auth")
    assert value(auth, "auth_authorizations", status="connected", reason="") == 1
    assert value(auth, "auth_grants", status="active") == 1
    assert (value(auth, "auth_access_token_requests_total", result="served") or 0) >= 1
    assert value(auth, "connector_messages_published_total", topic=AUTH_EVENTS,
                 type="ExactAuthorized") == 1


async def test_auth_counts_the_token_refreshes_it_makes(system: LocalSystem, flow: Flow) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        detail = (await client.get(f"{system.url('datasource')}/datasources/{flow.datasource_id}",
                                   headers=system.bearer("operator"))).json()
        grant_id = detail["grant_id"]

        async def refreshed() -> bool:
            answer = await client.get(
                f"{system.internal_url('auth')}/internal/grants/{grant_id}/access-token",
                headers=system.bearer("ingest"))
            assert answer.status_code in (200, 503), answer.text
            m = await scrape(system, "auth")
            return (value(m, "auth_token_refreshes_total", outcome="refreshed") or 0) >= 1

        await eventually(refreshed, timeout=40, interval=1.0)
    m = await scrape(system, "auth")
    assert value(m, "auth_token_refreshes_total", outcome="refused") == 0


async def test_consumer_lag_is_measured_per_group_and_drains_to_zero(system: LocalSystem,
                                                                     flow: Flow) -> None:
    groups = {"ingest": ("exact-ingest.run-requests", INGEST_REQUESTS),
              "datasource": ("exact-datasource.run-events", RUN_EVENTS),
              "auth": ("exact-auth", AUTH_REQUESTS)}
    for service, (group, topic) in groups.items():
        async def drained(service: str = service, group: str = group, topic: str = topic) -> bool:
            lag = value(await scrape(system, service), "connector_consumer_lag_messages",
                        group=group, topic=topic)
            return lag == 0
        await eventually(drained, timeout=30, interval=0.5)


async def test_status_shows_the_whole_system_at_a_glance(system: LocalSystem, flow: Flow,
                                                         cfg: CliSettings) -> None:
    from connector_cli import status  # the CLI's status, against the running processes

    raw = b'{"type": "RequestReimport", "payload": "not an object"}'
    await send_raw(cfg.kafka_bootstrap_servers, DATASOURCE_COMMANDS, raw, str(uuid.uuid4()).encode())

    async def settled() -> dict[str, Any] | None:
        data = await status.gather(cfg)
        ds = next(d for d in data["datasources"] if d["id"] == str(flow.datasource_id))
        dead = {d["topic"]: d for d in data["dead_letters"]}
        done = (ds["last_run"] or {}).get("status") == "completed" and bool(dead)
        return data if done else None

    data = await eventually(settled, timeout=60, interval=1.0)
    assert data["errors"] == {}
    ds = next(d for d in data["datasources"] if d["id"] == str(flow.datasource_id))
    assert ds["state"] == "connected" and ds["division"] == int(DIVISION) and ds["company"]
    assert ds["last_run"]["kind"] == "initial" and ds["last_run"]["rows"] > 3000
    groups = {(r["group"], r["topic"]): r["lag"] for r in data["consumer_lag"]}
    assert groups[("exact-ingest.run-requests", INGEST_REQUESTS)] == 0
    assert {("exact-ingest.run-requests", INGEST_REQUESTS), ("exact-auth", AUTH_REQUESTS),
            ("exact-datasource.commands", DATASOURCE_COMMANDS)} <= groups.keys()
    dead = {d["topic"]: d for d in data["dead_letters"]}[DATASOURCE_COMMANDS + ".dlq"]
    assert dead["dead_letters"] == 1 and dead["redriven"] == 0 and dead["oldest_waiting"]
    budget = next(b for b in data["exact_budget_today"] if b["division"] == int(DIVISION))
    assert budget["company"] == ds["company"]
    assert 0 < budget["calls_left_today"] <= budget["daily_limit"] - flow.completed.payload.calls_used
    assert data["grants_expiring"] == []


async def send_raw(bootstrap: str, topic: str, value: bytes, key: bytes) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def test_one_correlation_id_from_the_command_to_the_last_ledger_batch(
    system: LocalSystem, flow: Flow
) -> None:
    key = str(flow.datasource_id).encode()
    seen: dict[str, list[tuple[Message, dict[str, bytes]]]] = {t: [] for t in FLOW_TOPICS}
    for record in await everything_on(system.bootstrap, FLOW_TOPICS):
        if record.key == key:
            seen[record.topic].append((parse_message(record.topic, record.value or b""),
                                       dict(record.headers)))
    types = {m.type for messages in seen.values() for m, _ in messages}
    assert {"CreateDataSource", "AuthorizationRequested", "AuthorizationLinkIssued",
            "ExactAuthorized", "DataSourceConnected", "InitialRunRequested", "RunStarted",
            "RunCompleted", "LedgerBatch"} <= types
    for topic, messages in seen.items():
        for message, headers in messages:
            assert message.correlation_id == flow.correlation_id, (topic, message.type)
            assert headers["correlation_id"] == str(flow.correlation_id).encode(), (topic, message.type)
    batches = [m for m, _ in seen[LEDGER_BATCHES] if isinstance(m, LedgerBatch)]
    assert sum(1 for b in batches if b.payload.last) == len(flow.completed.payload.totals)
    assert len({b.message_id for b in batches}) == flow.completed.payload.batches


async def everything_on(bootstrap: str, topics: list[str]) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topics`` up to their current end offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        async with asyncio.timeout(60):
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
        return records
    finally:
        await consumer.stop()


def log_lines(system: LocalSystem, name: str) -> list[dict[str, Any]]:
    lines = []
    for raw in system.processes[name].log.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


async def test_every_service_logs_the_data_source_and_its_correlation_id(
    system: LocalSystem, flow: Flow
) -> None:
    ds, corr = str(flow.datasource_id), str(flow.correlation_id)
    run_id = str(flow.completed.payload.run_id)
    expected = {
        "datasource": {"Received", "Processed", "command_applied"},
        "auth": {"Received", "sign_in_started", "signed_in_at_exact", "exact_authorized"},
        "ingest": {"Received", "run_requested", "run_executing", "run_completed"},
    }
    for service, events in expected.items():
        lines = log_lines(system, service)
        about = [line for line in lines if line.get("datasource_id") == ds]
        assert events <= {line["event"] for line in about}, service
        # one correlation id on every line about this data source, in every service
        assert {line.get("correlation_id") for line in about} == {corr}, service
        for line in lines:
            if line.get("run_id") == run_id:
                assert (line.get("datasource_id"), line.get("correlation_id")) == (ds, corr), line
    ingest = [line for line in log_lines(system, "ingest") if line.get("datasource_id") == ds]
    for event in ("run_executing", "run_completed"):
        assert any(line["event"] == event and line.get("run_id") == run_id for line in ingest), event
