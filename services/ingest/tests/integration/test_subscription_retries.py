"""A failed webhook-subscription removal or creation is tried again after a back-off that
starts at seconds and doubles with each failure in a row, up to a minute, counted from the
failure; a success resets it.

Time passing is stood in for by ageing the rows' last attempt (``checked_at``)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.adapters.exact_webhooks import ExactSubscription, ExactWebhooks
from ingest.adapters.notification_tables import webhook_subscriptions as subs
from ingest.adapters.subscriptions import FAILED, REMOVING, SubscriptionKeeper
from ingest.domain.errors import ExactTransportError

pytestmark = pytest.mark.integration

URL = "https://connector.example/webhooks/exact"


class Exact:
    """Exact's subscriptions endpoint, down until told otherwise."""

    def __init__(self) -> None:
        self.down = True
        self.deleted: list[uuid.UUID] = []
        self.created: list[str] = []

    def _answer(self) -> None:
        if self.down:
            raise ExactTransportError("webhooks/WebhookSubscriptions: ConnectError")

    async def delete(self, division: int, grant_id: uuid.UUID, sub_id: uuid.UUID) -> bool:
        self._answer()
        self.deleted.append(sub_id)
        return True

    async def list(self, division: int, grant_id: uuid.UUID) -> list[ExactSubscription]:
        self._answer()
        return []

    async def create(self, division: int, grant_id: uuid.UUID, topic: str,
                     callback_url: str) -> ExactSubscription:
        self._answer()
        self.created.append(topic)
        return ExactSubscription(uuid.uuid4(), topic, callback_url)


async def _row(engine: AsyncEngine, state: str, **values: Any) -> uuid.UUID:
    ds = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(sa.insert(subs).values(
            datasource_id=ds, topic="Accounts", division=4711, grant_id=uuid.uuid4(),
            callback_url=URL, state=state, **values))
    return ds


async def _age(engine: AsyncEngine, ds: uuid.UUID, seconds: float) -> None:
    """As if the last attempt was ``seconds`` ago."""
    async with engine.begin() as conn:
        await conn.execute(subs.update().where(subs.c.datasource_id == ds).values(
            checked_at=sa.func.now() - timedelta(seconds=seconds)))


async def _state(engine: AsyncEngine, ds: uuid.UUID) -> tuple[str, int, str | None] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(subs.c.state, subs.c.failures, subs.c.error)
                                  .where(subs.c.datasource_id == ds))).first()
    return None if row is None else (row.state, row.failures, row.error)


async def test_a_failed_removal_is_tried_again_in_seconds_then_less_and_less_often(
        engine: AsyncEngine) -> None:
    exact = Exact()
    keeper = SubscriptionKeeper(engine, cast(ExactWebhooks, exact), URL)
    sub_id = uuid.uuid4()
    ds = await _row(engine, REMOVING, subscription_id=sub_id)

    assert await keeper.keep() == 1  # the removal fails: kept, with the reason
    state = await _state(engine, ds)
    assert state is not None and state[:2] == (REMOVING, 1) and "ConnectError" in (state[2] or "")
    assert await keeper.keep() == 0  # not at once again
    for failures, wait in ((1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 60), (7, 60)):
        await _age(engine, ds, wait - 1)
        assert await keeper.keep() == 0, f"tried again within {wait - 1} s of failure {failures}"
        await _age(engine, ds, wait + 0.5)
        assert await keeper.keep() == 1, f"not tried again {wait} s after failure {failures}"
        state = await _state(engine, ds)
        assert state is not None and state[:2] == (REMOVING, failures + 1)

    exact.down = False
    await _age(engine, ds, 60.5)
    assert await keeper.keep() == 1
    assert exact.deleted == [sub_id] and await _state(engine, ds) is None


async def test_a_failed_creation_backs_off_and_a_success_resets_the_count(
        engine: AsyncEngine) -> None:
    exact = Exact()
    keeper = SubscriptionKeeper(engine, cast(ExactWebhooks, exact), URL)
    ds = await _row(engine, FAILED, failures=2, error="Exact was down")
    await _age(engine, ds, 3)
    assert await keeper.keep() == 0  # the third try waits 4 s
    exact.down = False
    await _age(engine, ds, 4.5)
    assert await keeper.keep() == 1
    assert exact.created == ["Accounts"] and await _state(engine, ds) == ("active", 0, None)


class Slow(Exact):
    """Exact fails the company's calls only after a while."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.failed_at: datetime | None = None

    def _answer(self) -> None:
        self.failed_at = datetime.now(UTC)
        super()._answer()

    async def list(self, division: int, grant_id: uuid.UUID) -> list[ExactSubscription]:
        await asyncio.sleep(self.seconds)
        return await super().list(division, grant_id)


async def test_the_back_off_counts_from_the_failure_not_from_the_attempts_start(
        engine: AsyncEngine) -> None:
    # Counted from the start, a 1.5 s attempt left 0.5 s of a 2 s back-off.
    exact = Slow(1.5)
    keeper = SubscriptionKeeper(engine, cast(ExactWebhooks, exact), URL)
    ds = await _row(engine, "wanted")
    assert await keeper.keep() == 1
    async with engine.connect() as conn:
        checked_at = await conn.scalar(sa.select(subs.c.checked_at)
                                       .where(subs.c.datasource_id == ds))
    assert exact.failed_at is not None and checked_at >= exact.failed_at
    assert await _state(engine, ds) == (FAILED, 1,
                                        "webhooks/WebhookSubscriptions: ConnectError")
    await asyncio.sleep(1)
    assert await keeper.keep() == 0  # 1 s after the failure: still backing off
    exact.down, exact.seconds = False, 0
    await _age(engine, ds, 2.5)
    assert await keeper.keep() == 1
    assert await _state(engine, ds) == ("active", 0, None)


async def test_a_pass_tries_each_company_once_even_when_its_back_off_ends_within_the_pass(
        engine: AsyncEngine) -> None:
    # With no back-off, failing companies are due again at once: a pass that kept settling
    # them never ended, and data sources added at the start of the next pass waited for it.
    exact = Exact()
    keeper = SubscriptionKeeper(engine, cast(ExactWebhooks, exact), URL,
                                retry_first=timedelta(0))
    failing = [await _row(engine, FAILED, failures=1, error="Exact was down") for _ in range(3)]
    assert await asyncio.wait_for(keeper.keep(), timeout=20) == 3
    for ds in failing:
        state = await _state(engine, ds)
        assert state is not None and state[:2] == (FAILED, 2)
    async with engine.begin() as conn:
        await conn.execute(subs.delete().where(subs.c.datasource_id.in_(failing)))


class Stuck(Exact):
    """Calls for one company never answer (its budget held, Exact hanging for it)."""

    async def list(self, division: int, grant_id: uuid.UUID) -> list[ExactSubscription]:
        await asyncio.sleep(3600)
        return []


async def test_a_company_whose_calls_hang_is_given_up_on_for_this_pass(
        engine: AsyncEngine) -> None:
    keeper = SubscriptionKeeper(engine, cast(ExactWebhooks, Stuck()), URL,
                                per_company=timedelta(seconds=0.5))
    ds = await _row(engine, "wanted")
    assert await asyncio.wait_for(keeper.keep(), timeout=20) == 1
    state = await _state(engine, ds)
    assert state is not None and state[:2] == (FAILED, 1)
    async with engine.begin() as conn:
        await conn.execute(subs.delete().where(subs.c.datasource_id == ds))


class SlowSecondCreation(Exact):
    """Exact answers the list and the first creation at once; the second creation hangs."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def create(self, division: int, grant_id: uuid.UUID, topic: str,
                     callback_url: str) -> ExactSubscription:
        if self.created:
            await asyncio.sleep(3600)
        return await super().create(division, grant_id, topic, callback_url)


async def test_only_exacts_calls_are_timed_so_the_rows_updates_are_never_cut_off(
        engine: AsyncEngine) -> None:
    # The update recording the first subscription takes longer than the company's whole
    # allowance (a trigger sleeps in it). Timed with the calls, it was cut off mid-statement
    # and the failure's own updates then ran on that connection.
    exact = SlowSecondCreation()
    keeper = SubscriptionKeeper(engine, cast(ExactWebhooks, exact), URL,
                                retry_first=timedelta(seconds=10),
                                per_company=timedelta(seconds=0.5))
    ds = uuid.uuid4()
    async with engine.begin() as conn:
        for topic in ("Accounts", "FinancialTransactions"):
            await conn.execute(sa.insert(subs).values(
                datasource_id=ds, topic=topic, division=4711, grant_id=uuid.uuid4(),
                callback_url=URL, state="wanted"))
        await conn.execute(sa.text(
            "CREATE FUNCTION ingest.slow_activation() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(0.8); RETURN NEW; END $$"))
        await conn.execute(sa.text(
            "CREATE TRIGGER slow_activation BEFORE UPDATE ON ingest.webhook_subscriptions "
            f"FOR EACH ROW WHEN (NEW.datasource_id = '{ds}' AND OLD.state <> 'active' "
            "AND NEW.state = 'active') "
            "EXECUTE FUNCTION ingest.slow_activation()"))
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await asyncio.wait_for(keeper.keep(), timeout=20) == 1
        # the second creation still had what the first calls left of the 0.5 s
        assert 1.2 < loop.time() - started < 5
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(
                "DROP TRIGGER slow_activation ON ingest.webhook_subscriptions"))
            await conn.execute(sa.text("DROP FUNCTION ingest.slow_activation()"))
    async with engine.connect() as conn:
        rows = {r.topic: r for r in (await conn.execute(
            sa.select(subs).where(subs.c.datasource_id == ds))).all()}
    first, second = exact.created[0], ({"Accounts", "FinancialTransactions"}
                                       - set(exact.created)).pop()
    assert rows[first].state == "active" and rows[first].subscription_id is not None
    assert (rows[second].state, rows[second].failures) == (FAILED, 1)
    assert "took over 0.5 s" in (rows[second].error or "")
    assert await keeper.keep() == 0  # backing off: not at once again
    await _age(engine, ds, 10.5)
    assert await asyncio.wait_for(keeper.keep(), timeout=20) == 1
    assert (await _state_of(engine, ds, second))[:2] == (FAILED, 2)
    async with engine.begin() as conn:
        await conn.execute(subs.delete().where(subs.c.datasource_id == ds))


async def _state_of(engine: AsyncEngine, ds: uuid.UUID, topic: str) -> tuple[str, int]:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(subs.c.state, subs.c.failures).where(
            subs.c.datasource_id == ds, subs.c.topic == topic))).one()
    return row.state, row.failures
