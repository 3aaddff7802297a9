"""The shared rate budget in PostgreSQL: at Exact's real limit (60 calls a minute) a run takes
its permits in blocks while the minute has room, so most calls cost no transaction, its 200
answers go in with its next decision, and every permit it does not use is given back to the
company - when the company's last run in the replica ends, or after a webhook keeper pass
that called it outside any run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import cast

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

import contracts as c
from connector_runtime.devstack.testing import Infra, eventually, signed_claim
from connector_runtime.persistence.db import create_engine, migrate_async
from ingest.adapters import tables
from ingest.adapters.exact_webhooks import ENDPOINT, ExactSubscription, ExactWebhooks
from ingest.adapters.notification_tables import webhook_subscriptions as subs
from ingest.adapters.ratelimit import PostgresRateLimiter, wall_ms
from ingest.adapters.repository import PostgresRunStore
from ingest.adapters.subscriptions import SubscriptionKeeper
from ingest.app import MIGRATIONS
from ingest.domain.budget import Budget, RateHeaders
from ingest.scheduler import RunScheduler

pytestmark = pytest.mark.integration

DIVISION = 4242
T0 = 1_740_996_000_000  # a whole minute of Exact's clock (and of ours)


@pytest.fixture
async def engine(infra: Infra) -> AsyncIterator[AsyncEngine]:
    url = infra.fresh_database("rate_budget")
    await migrate_async(url, MIGRATIONS, tables.SCHEMA)
    engine = create_engine(url, pool_size=2)
    yield engine
    await engine.dispose()


class World:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.now = T0 + 1_000
        self.transactions = 0
        self.limiter = PostgresRateLimiter(engine, clock_ms=lambda: self.now, sleep=self._sleep,
                                           block=4)
        sa.event.listen(engine.sync_engine, "begin", self._began)

    def _began(self, _conn: object) -> None:
        self.transactions += 1

    async def _sleep(self, seconds: float) -> None:
        self.now += int(seconds * 1000) + 1

    async def call(self, endpoint: str, remaining: int, status: int = 200) -> None:
        """One call through the limiter, answered with ``remaining`` calls left this minute."""
        permit = await self.limiter.acquire(DIVISION, endpoint)
        self.now += 100
        await self.limiter.complete(permit, status, RateHeaders(
            minutely_limit=60, minutely_remaining=remaining, minutely_reset_ms=T0 + 60_000,
            daily_limit=5_000, daily_remaining=4_000 + remaining,
            daily_reset_ms=T0 + 86_400_000, date_ms=self.now - self.now % 1_000))
        self.now += 100

    async def budget(self) -> Budget:
        async with self.engine.connect() as conn:
            state = await conn.scalar(sa.select(tables.rate_budgets.c.state)
                                      .where(tables.rate_budgets.c.division == DIVISION))
        return Budget.from_dict(state)


async def test_a_page_loop_takes_its_permits_in_blocks_while_the_minute_has_room(
        engine: AsyncEngine) -> None:
    world = World(engine)
    await world.call("e", 59)  # the first call learns the window: decided alone
    assert world.transactions == 2  # its decision, its answer
    before = world.transactions
    for remaining in range(58, 50, -1):  # eight calls: two blocks of four
        await world.call("e", remaining)
    assert world.transactions - before == 2
    budget = await world.budget()
    assert budget.in_flight == 4  # the second block's answers go in with the next decision
    await world.call("e", 50)
    budget = await world.budget()
    assert budget.window_remaining == 51 and budget.in_flight == 4


async def test_a_block_serves_the_companys_next_endpoints_but_not_one_with_4xx_answers(
        engine: AsyncEngine) -> None:
    world = World(engine)
    await world.call("a", 59)
    await world.call("a", 58, status=404)  # decided alone, counts toward "a"'s error budget
    before = world.transactions
    await world.call("b", 57)  # a block of four
    await world.call("c", 56)  # its permits serve any endpoint
    assert world.transactions - before == 1
    await world.call("a", 55)  # "a" had a 4xx this hour: the rest goes back, decided alone
    assert world.transactions - before == 2
    budget = await world.budget()
    assert budget.in_flight == 1 and budget.window_remaining == 56  # "a"'s answer is pending


async def test_an_answer_but_a_200_gives_the_rest_of_the_block_back_at_once(
        engine: AsyncEngine) -> None:
    world = World(engine)
    await world.call("e", 59)
    await world.call("e", 58, status=500)
    budget = await world.budget()
    assert budget.in_flight == 0 and budget.window_remaining == 58


async def test_the_minutes_last_seconds_are_decided_call_by_call(engine: AsyncEngine) -> None:
    world = World(engine)
    await world.call("e", 59)
    await world.call("e", 58)  # a block of four
    world.now = T0 + 56_000  # its permits are not used in the minute's last five seconds
    before = world.transactions
    await world.call("e", 57)
    await world.call("e", 56)
    assert world.transactions - before == 2  # each call decided alone, on the last answer
    budget = await world.budget()
    assert budget.in_flight == 1 and budget.window_remaining == 57


async def test_the_answer_that_tells_the_window_goes_in_at_once(engine: AsyncEngine) -> None:
    world = World(engine)
    await world.call("e", 59)
    budget = await world.budget()  # other callers wait for the window while it is unknown
    assert budget.in_flight == 0 and budget.window_remaining == 59


async def test_a_stopping_replica_gives_back_its_block_and_takes_in_its_answers(
        engine: AsyncEngine) -> None:
    # Left in the replica's memory, they counted as calls in flight for the company until
    # they went stale (minutes), and every other caller of the company waited on them.
    world = World(engine)
    await world.call("e", 59)
    for remaining in range(58, 52, -1):  # a block of four used, and two of the next
        await world.call("e", remaining)
    assert (await world.budget()).in_flight > 0
    await world.limiter.flush()
    budget = await world.budget()
    assert budget.in_flight == 0 and budget.window_remaining == 53


async def test_two_callers_taking_a_block_at_once_lose_no_permit(engine: AsyncEngine) -> None:
    # Two runs of one company in a replica may both find no block and each take one; the
    # block set first must be given back when the second replaces it, not forgotten (its
    # permits would count as calls in flight until they went stale).
    world = World(engine)
    await world.call("e", 59)  # the window is known: the next decisions take blocks
    first, second = await asyncio.gather(world.limiter.acquire(DIVISION, "e"),
                                         world.limiter.acquire(DIVISION, "e"))
    for permit, remaining in ((first, 58), (second, 57)):
        await world.limiter.complete(permit, 200, RateHeaders(
            minutely_limit=60, minutely_remaining=remaining, minutely_reset_ms=T0 + 60_000,
            daily_limit=5_000, daily_remaining=4_000 + remaining,
            daily_reset_ms=T0 + 86_400_000, date_ms=world.now - world.now % 1_000))
    await world.limiter.flush()
    budget = await world.budget()
    assert budget.in_flight == 0 and budget.window_remaining == 57


async def _in_flight(engine: AsyncEngine, division: int) -> int:
    async with engine.connect() as conn:
        state = await conn.scalar(sa.select(tables.rate_budgets.c.state)
                                  .where(tables.rate_budgets.c.division == division))
    return Budget.from_dict(state).in_flight


async def test_a_companys_block_is_given_back_when_its_last_run_in_the_replica_ends(
        engine: AsyncEngine) -> None:
    # Given back only when the replica stopped, a finished run's unused permits counted as
    # calls in flight for the company until they went stale, holding up its other callers.
    division = 4343
    store = PostgresRunStore(engine)
    limiter = PostgresRateLimiter(engine, block=4)
    reset_ms = wall_ms() + 50_000
    runs: list[uuid.UUID] = []
    for _ in range(2):  # one replica may drive two runs of a company at once
        ds, grant = uuid.uuid4(), uuid.uuid4()
        message = c.InitialRunRequested.create(datasource_id=ds, payload=c.InitialRunRequestedPayload(
            run_id=uuid.uuid4(), kind="initial", division=division, grant_id=grant,
            entities=(c.Entity.JOURNALS,), grant_claim=signed_claim(ds, grant, division)))
        assert await store.record_request("test", message) == "recorded"
        runs.append(message.payload.run_id)
    called = {run_id: asyncio.Event() for run_id in runs}
    end = {run_id: asyncio.Event() for run_id in runs}

    async def execute(run_id: uuid.UUID, owner: str) -> None:
        if run_id == runs[1]:
            await called[runs[0]].wait()
        for remaining in (59, 58) if run_id == runs[0] else (57,):
            permit = await limiter.acquire(division, "e")
            now = wall_ms()
            await limiter.complete(permit, 200, RateHeaders(
                minutely_limit=60, minutely_remaining=remaining, minutely_reset_ms=reset_ms,
                daily_limit=5_000, daily_remaining=4_000 + remaining,
                daily_reset_ms=reset_ms + 86_400_000, date_ms=now - now % 1_000))
        called[run_id].set()
        await end[run_id].wait()
        if run_id == runs[1]:
            raise RuntimeError("the run failed")  # however a run ends

    scheduler = RunScheduler(store, execute, owner="replica-a", max_concurrent=8,
                             poll_interval=0.05, ended=limiter.when_runs_end(store.divisions))
    scheduler.start()
    try:
        await asyncio.wait_for(called[runs[0]].wait(), timeout=20)
        await asyncio.wait_for(called[runs[1]].wait(), timeout=20)
        # the first run learned the window alone, then took a block of four for the company:
        # two permits used (answers held), two unused
        assert await _in_flight(engine, division) == 4
        end[runs[0]].set()
        await eventually(lambda: runs[0] not in scheduler.running)
        assert await _in_flight(engine, division) == 4  # the other run still uses the block
        end[runs[1]].set()
        await eventually(lambda: not scheduler.running)
        assert await _in_flight(engine, division) == 0
    finally:
        await scheduler.stop()


class LimitedExact:
    """Exact's subscriptions endpoint answering 200s through the company's rate budget."""

    def __init__(self, limiter: PostgresRateLimiter, reset_ms: int) -> None:
        self._limiter = limiter
        self._reset_ms = reset_ms
        self._remaining = 59

    async def _call(self, division: int) -> None:
        permit = await self._limiter.acquire(division, ENDPOINT)
        now = wall_ms()
        await self._limiter.complete(permit, 200, RateHeaders(
            minutely_limit=60, minutely_remaining=self._remaining,
            minutely_reset_ms=self._reset_ms, daily_limit=5_000,
            daily_remaining=4_000 + self._remaining, daily_reset_ms=self._reset_ms + 86_400_000,
            date_ms=now - now % 1_000))
        self._remaining -= 1

    async def list(self, division: int, grant_id: uuid.UUID) -> list[ExactSubscription]:
        await self._call(division)
        return []

    async def create(self, division: int, grant_id: uuid.UUID, topic: str,
                     callback_url: str) -> ExactSubscription:
        await self._call(division)
        return ExactSubscription(uuid.uuid4(), topic, callback_url)


async def test_the_webhook_keeper_gives_back_its_block_after_a_pass_unless_a_run_uses_it(
        engine: AsyncEngine) -> None:
    # Outside any run, the keeper's unused permits and held answers counted as calls in
    # flight for the company until its next call or the replica stopping.
    division, url = 4444, "https://connector.example/webhooks/exact"
    store = PostgresRunStore(engine)
    limiter = PostgresRateLimiter(engine, block=4)
    ds, grant = uuid.uuid4(), uuid.uuid4()
    message = c.InitialRunRequested.create(datasource_id=ds, payload=c.InitialRunRequestedPayload(
        run_id=uuid.uuid4(), kind="initial", division=division, grant_id=grant,
        entities=(c.Entity.JOURNALS,), grant_claim=signed_claim(ds, grant, division)))
    assert await store.record_request("test", message) == "recorded"
    end = asyncio.Event()

    async def execute(run_id: uuid.UUID, owner: str) -> None:
        await end.wait()

    scheduler = RunScheduler(store, execute, owner="replica-a", poll_interval=0.05,
                             ended=limiter.when_runs_end(store.divisions))
    keeper = SubscriptionKeeper(
        engine, cast(ExactWebhooks, LimitedExact(limiter, wall_ms() + 50_000)), url,
        calls_ended=limiter.when_calls_end(store.divisions, lambda: scheduler.executing))

    async def wanted() -> None:
        async with engine.begin() as conn:
            ds = uuid.uuid4()
            for topic in ("Accounts", "FinancialTransactions"):
                await conn.execute(sa.insert(subs).values(
                    datasource_id=ds, topic=topic, division=division, grant_id=grant,
                    callback_url=url, state="wanted"))

    scheduler.start()
    try:
        await eventually(lambda: bool(scheduler.executing))
        await wanted()
        assert await keeper.keep() == 1  # a list and two creations
        # a run of the company executes here: the block is left to it, its end gives it back
        assert await _in_flight(engine, division) > 0
        end.set()
        await eventually(lambda: not scheduler.running)
        assert await _in_flight(engine, division) == 0
        await wanted()
        assert await keeper.keep() == 1
        assert await _in_flight(engine, division) == 0
    finally:
        await scheduler.stop()
