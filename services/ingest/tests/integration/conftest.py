"""Fixtures for ingest's integration tests: the real broker and database (``infra``), the
Exact Online sandbox served by uvicorn on a free port, a stand-in for auth's internal
token API that gets its tokens from the sandbox, and ingest apps driven in-process.

Each test uses its own division (the sandbox's ``extra_divisions``), so rate budgets and
runs of different tests never meet.

Size: the fixtures of every ingest integration module (infrastructure, sandbox, token stand-in,
in-process apps and their collectors); each is small, and pytest finds them here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import random
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import contracts as c
from bench.calls import minimum_calls
from connector_runtime.access import ApiClient, token_sha256
from connector_runtime.devstack.testing import TEST_CLAIM_VERIFY_KEYS, Infra, signed_claim
from connector_runtime.messaging.broker import ensure_topics
from connector_runtime.persistence.db import create_engine, migrate_async
from exact_sandbox.app import create_app as create_sandbox
from exact_sandbox.client import SandboxAdmin
from exact_sandbox.config import FaultSettings, Limits, SandboxConfig
from exact_sandbox.testing import CLIENT_ID, CLIENT_SECRET, serve_in_thread
from ingest.adapters import tables
from ingest.app import MIGRATIONS, create_app
from ingest.settings import IngestSettings
from ledger_sink.consumer import LedgerSink

INTERNAL_TOKEN = "ingest-tests-internal-token-5b1e"
T0 = 1_740_996_000.0  # 2025-03-03 10:00:00 UTC


# ---- the sandbox ---------------------------------------------------------------------------

@dataclass
class Sandbox:
    url: str
    app: Starlette
    division: int
    http: httpx.AsyncClient

    @property
    def admin(self) -> SandboxAdmin:
        """The sandbox's admin API (clock, limits, faults, model, data changes, figures)."""
        return SandboxAdmin(http=self.http)

    async def expected(self) -> dict[str, Any]:
        figures: dict[str, Any] = (await self.admin.expected(self.division))["entities"]
        return figures

    async def stats(self) -> dict[str, Any]:
        return await self.admin.stats()

    async def grant(self) -> dict[str, Any]:
        return await self.admin.grant("eva.large@demo.nl", divisions=[self.division])

    async def faults(self, **settings: Any) -> None:
        await self.admin.set_faults(**settings)

    async def limits(self, **limits: Any) -> None:
        await self.admin.limits(**limits)

    def minimum_calls(self, expected: dict[str, Any]) -> int:
        """Calls a full run needs at least: the proof suites' one definition."""
        return minimum_calls(expected)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    stack = contextlib.ExitStack()

    def factory(lines: int = 2_500, *, limits: Limits | None = None,
                faults: FaultSettings | None = None, clock_start: float | None = T0,
                clock_speed: float = 0.0, division: int | None = None) -> Sandbox:
        """A sandbox whose extra division (random code unless given) has ``lines`` lines;
        a given code makes the injected faults the same on every run."""
        division = division or random.randint(700_000, 799_999)
        config = SandboxConfig(
            limits=limits or Limits(minutely=1_000_000, daily=1_000_000_000),
            faults=faults or FaultSettings(), extra_divisions={division: lines},
            clock_start=clock_start, clock_speed=clock_speed, webhook_http_loopback=True)
        app = create_sandbox(config)
        url = stack.enter_context(serve_in_thread(app))
        return Sandbox(url, app, division, httpx.AsyncClient(base_url=url, timeout=30))

    yield factory
    stack.close()


# ---- a stand-in for auth's internal token API -------------------------------------------------

@dataclass
class _Grant:
    access_token: str
    refresh_token: str
    division: int
    rejected: bool = False
    gone: str | None = None


@dataclass
class FakeAuth:
    """``GET /internal/grants/{id}/access-token`` and ``.../rejected`` over sandbox tokens.

    Refreshes with the sandbox's token endpoint after a rejection (410 when the sandbox
    refuses the refresh), as auth does; the grants are registered by the tests.
    """

    sandbox_url: str = ""
    grants: dict[uuid.UUID, _Grant] = field(default_factory=dict)
    rejections: list[str] = field(default_factory=list)
    token_requests: int = 0

    def add(self, grant_id: uuid.UUID, tokens: dict[str, str], division: int) -> None:
        self.grants[grant_id] = _Grant(tokens["access_token"], tokens["refresh_token"], division)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/internal/grants/{grant_id}/access-token", self.token, methods=["GET"]),
            Route("/internal/grants/{grant_id}/access-token/rejected", self.rejected,
                  methods=["POST"]),
        ])

    def _authorized(self, request: Request) -> bool:
        return hmac.compare_digest(request.headers.get("authorization", ""),
                                   f"Bearer {INTERNAL_TOKEN}")

    async def token(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        self.token_requests += 1
        grant = self.grants.get(uuid.UUID(request.path_params["grant_id"]))
        if grant is None:
            return JSONResponse({"error": "unknown_grant"}, status_code=404)
        if grant.rejected and grant.gone is None:
            async with httpx.AsyncClient(base_url=self.sandbox_url) as http:
                r = await http.post("/api/oauth2/token", data={
                    "grant_type": "refresh_token", "refresh_token": grant.refresh_token,
                    "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
            if r.status_code == 200:
                grant.access_token, grant.refresh_token = (r.json()["access_token"],
                                                           r.json()["refresh_token"])
                grant.rejected = False
            elif r.headers.get("Reason") == "TooEarlyToRefreshTokens":
                return JSONResponse({"error": "exact_unavailable", "reason": "too early"},
                                    status_code=503, headers={"Retry-After": "1"})
            else:
                grant.gone = r.json().get("error_description", "refresh refused")
        if grant.gone is not None:
            return JSONResponse({"error": "grant_revoked", "reason": grant.gone}, status_code=410)
        expires = datetime.now(UTC) + timedelta(seconds=600)
        return JSONResponse({"access_token": grant.access_token, "expires_at": expires.isoformat(),
                             "division": grant.division})

    async def rejected(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        digest = (await request.json())["access_token_sha256"]
        self.rejections.append(digest)
        grant = self.grants.get(uuid.UUID(request.path_params["grant_id"]))
        if grant is not None and hashlib.sha256(grant.access_token.encode()).hexdigest() == digest:
            grant.rejected = True
        return Response(status_code=202)


@pytest.fixture
def fake_auth() -> Iterator[tuple[FakeAuth, str]]:
    auth = FakeAuth()
    with serve_in_thread(auth.app()) as url:
        yield auth, url



OPERATOR_TOKEN = "ingest-tests-operator-token"
OPERATOR = ApiClient(name="operator", token_sha256=token_sha256(OPERATOR_TOKEN), scopes=("runs",))
"""A caller of ingest's read API (runs and webhook subscriptions); tests send this token."""

# ---- ingest apps -------------------------------------------------------------------------------

@dataclass
class World:
    infra: Infra
    sandbox: Sandbox
    auth: FakeAuth
    auth_url: str
    apps: list[tuple[FastAPI, contextlib.AbstractAsyncContextManager[None]]] = field(
        default_factory=list)
    group: str = field(default_factory=lambda: f"ingest-test-{uuid.uuid4().hex[:8]}")
    run_ids: list[uuid.UUID] = field(default_factory=list)

    def settings(self, **overrides: Any) -> IngestSettings:
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": self.infra.kafka_bootstrap_servers,
            "database_url": self.infra.database_url, "kafka_session_timeout_ms": 2000,
            "exact_base_url": self.sandbox.url, "auth_internal_url": self.auth_url,
            "auth_internal_token": INTERNAL_TOKEN, "exact_timeout_seconds": 2.0,
            "run_claim_verify_keys": TEST_CLAIM_VERIFY_KEYS,
            "api_clients": (OPERATOR,),
            "exact_backoff_seconds": 0.05, "exact_backoff_max_seconds": 0.5,
            "exact_max_attempts": 8, "lease_seconds": 3.0, "scheduler_interval_seconds": 0.2,
            "progress_interval_seconds": 0.3, "consumer_group": self.group,
        }
        values.update(overrides)
        return IngestSettings(**values)

    async def start_app(self, **overrides: Any) -> FastAPI:
        app = create_app(self.settings(**overrides))
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        self.apps.append((app, lifespan))
        return app

    async def stop_app(self, app: FastAPI) -> None:
        for i, (candidate, lifespan) in enumerate(self.apps):
            if candidate is app:
                del self.apps[i]
                await lifespan.__aexit__(None, None, None)
                return

    async def request_run(self, *, kind: str = "initial", grant_id: uuid.UUID | None = None,
                          entities: tuple[c.Entity, ...] = c.ALL_ENTITIES,
                          datasource_id: uuid.UUID | None = None) -> c.InitialRunRequested:
        if grant_id is None:
            grant_id = uuid.uuid4()
            self.auth.add(grant_id, await self.sandbox.grant(), self.sandbox.division)
        datasource_id = datasource_id or uuid.uuid4()
        message = c.InitialRunRequested.create(
            datasource_id=datasource_id,
            payload=c.InitialRunRequestedPayload(run_id=uuid.uuid4(), kind=kind,  # type: ignore[arg-type]
                                                 division=self.sandbox.division,
                                                 grant_id=grant_id, entities=entities,
                                                 grant_claim=signed_claim(
                                                     datasource_id, grant_id,
                                                     self.sandbox.division)))
        self.run_ids.append(message.payload.run_id)
        await publish(self.infra, c.INGEST_REQUESTS, message)
        return message

    async def publish(self, topic: str, *messages: c.Message) -> None:
        await publish(self.infra, topic, *messages)

    async def run_row(self, run_id: uuid.UUID) -> Any:
        engine = create_engine(self.infra.database_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(sa.text(
                    "SELECT status, owner, calls_used, batches FROM ingest.runs WHERE run_id = :r"),
                    {"r": run_id})).first()
        finally:
            await engine.dispose()

    async def checkpoint_pages(self, run_id: uuid.UUID) -> int:
        engine = create_engine(self.infra.database_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return int(await conn.scalar(sa.text(
                    "SELECT coalesce(sum(pages), 0) FROM ingest.run_checkpoints WHERE run_id = :r"),
                    {"r": run_id}) or 0)
        finally:
            await engine.dispose()

    async def close(self) -> None:
        for _app, lifespan in reversed(self.apps):
            await lifespan.__aexit__(None, None, None)
        self.apps.clear()
        if self.run_ids:  # leave nothing claimable for later tests
            engine = create_engine(self.infra.database_url, pool_size=1)
            async with engine.begin() as conn:
                await conn.execute(sa.text(
                    "UPDATE ingest.runs SET status = 'failed', owner = NULL "
                    "WHERE run_id = ANY(:ids) AND status IN ('pending', 'running', 'waiting')"),
                    {"ids": self.run_ids})
            await engine.dispose()


@pytest.fixture
async def make_world(infra: Infra, fake_auth: tuple[FakeAuth, str]
                     ) -> AsyncIterator[Callable[[Sandbox], World]]:
    worlds: list[World] = []
    auth, auth_url = fake_auth

    def factory(sandbox: Sandbox) -> World:
        auth.sandbox_url = sandbox.url
        world = World(infra, sandbox, auth, auth_url)
        worlds.append(world)
        return world

    yield factory
    for world in worlds:
        await world.close()
        await world.sandbox.http.aclose()


@pytest.fixture
async def engine(infra: Infra, request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """A database of the test module's own with ingest's schema, for tests of one adapter."""
    url = infra.fresh_database(request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))
    await migrate_async(url, MIGRATIONS, tables.SCHEMA)
    engine = create_engine(url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sink(infra: Infra) -> AsyncIterator[AsyncEngine]:
    """The example ledger sink consuming the topics into the test database."""
    engine = create_async_engine(infra.database_url.replace("postgresql://",
                                                            "postgresql+psycopg://"))
    consumer = LedgerSink(engine, infra.kafka_bootstrap_servers, session_timeout_ms=2000,
                          group_id=f"sink-{uuid.uuid4().hex[:8]}")
    task = asyncio.create_task(consumer.run())
    yield engine
    consumer.stop()
    await task
    await engine.dispose()


# ---- Kafka ---------------------------------------------------------------------------------------

async def publish(infra: Infra, topic: str, *messages: c.Message) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        for m in messages:
            await producer.send_and_wait(topic, m.to_bytes(), key=m.key)
    finally:
        await producer.stop()


class Tail:
    """Everything published to a topic after :meth:`start`, parsed, filtered by run."""

    def __init__(self, infra: Infra, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                         group_id=None, enable_auto_commit=False,
                                         fetch_max_bytes=50 * 1024 * 1024)
        self.messages: list[c.Message] = []
        self.sizes: list[int] = []

    async def start(self) -> Tail:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in partitions]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)
        return self

    async def stop(self) -> None:
        await self.consumer.stop()

    async def until(self, check: Callable[[list[c.Message]], bool], timeout: float = 60.0
                    ) -> list[c.Message]:
        deadline = asyncio.get_running_loop().time() + timeout
        while not check(self.messages):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"{self.topic}: condition not met in {timeout}s; "
                                     f"last: {[m.type for m in self.messages[-5:]]}")
            batch = await self.consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000))
            for records in batch.values():
                for record in records:
                    self.sizes.append(len(record.value or b""))
                    self.messages.append(c.parse_message(self.topic, record.value or b""))
        return self.messages

    def of_run(self, run_id: uuid.UUID, cls: type[c.Message] | None = None) -> list[Any]:
        return [m for m in self.messages
                if getattr(m.payload, "run_id", None) == run_id and (cls is None or isinstance(m, cls))]


@pytest.fixture
async def tails(infra: Infra) -> AsyncIterator[tuple[Tail, Tail]]:
    await ensure_topics(infra.kafka_bootstrap_servers, c.ALL_TOPICS, 6)
    runs, batches = Tail(infra, c.RUN_EVENTS), Tail(infra, c.LEDGER_BATCHES)
    await runs.start()
    await batches.start()
    yield runs, batches
    await runs.stop()
    await batches.stop()


def finished(run_id: uuid.UUID, cls: type[c.Message] = c.RunCompleted
             ) -> Callable[[list[c.Message]], bool]:
    return lambda msgs: any(isinstance(m, cls) and m.payload.run_id == run_id for m in msgs)
