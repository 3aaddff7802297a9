"""Claiming runs across replicas: one company (division) is driven by one replica at a time."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

import contracts as c
from connector_runtime.devstack.testing import eventually, signed_claim
from connector_runtime.messaging.broker import is_transient
from ingest.adapters.repository import PostgresRunStore
from ingest.adapters.tables import refresh_hashes, trial_exact, trial_lines
from ingest.domain.errors import LeaseLost
from ingest.domain.model import EntityCheckpoint, PageStats, Run
from ingest.domain.refresh import PageHashes
from ingest.domain.trial_balance import BalanceRow, LedgerLine, TrialPage

pytestmark = pytest.mark.integration

LEASE = timedelta(seconds=30)


async def _request(store: PostgresRunStore, division: int, kind: str = "initial") -> uuid.UUID:
    ds, grant = uuid.uuid4(), uuid.uuid4()
    message = c.InitialRunRequested.create(
        datasource_id=ds, payload=c.InitialRunRequestedPayload(
            run_id=uuid.uuid4(), kind=kind, division=division,  # type: ignore[arg-type]
            grant_id=grant, entities=(c.Entity.JOURNALS,),
            grant_claim=signed_claim(ds, grant, division)))
    assert await store.record_request("test", message) == "recorded"
    return message.payload.run_id


async def _started(store: PostgresRunStore, division: int) -> tuple[uuid.UUID, Run]:
    """A new run of ``division``, claimed and started by replica-a."""
    run_id = await _request(store, division)
    assert await store.claim("replica-a", 1, LEASE) == [run_id]
    run = await store.load(run_id)
    assert run is not None
    await store.start(run, "replica-a", [])
    return run_id, run


async def test_a_company_held_by_one_replica_is_not_claimed_by_another(engine: AsyncEngine
                                                                       ) -> None:
    store = PostgresRunStore(engine)
    first = await _request(store, 810_001)
    second = await _request(store, 810_001, "incremental")
    other_company = await _request(store, 810_002)
    assert await store.claim("replica-a", 1, LEASE) == [first]
    # replica b may take another company, never the one replica a drives
    assert await store.claim("replica-b", 10, LEASE) == [other_company]
    # replica a may drive a second run of its own company
    assert await store.claim("replica-a", 10, LEASE) == [second]
    # once replica a gives the company back, it is free for anyone
    await store.release("replica-a", [first, second])
    assert set(await store.claim("replica-b", 10, LEASE)) == {first, second}


async def test_replicas_claiming_at_once_never_split_a_company(engine: AsyncEngine) -> None:
    store = PostgresRunStore(engine)
    divisions = [820_000 + i for i in range(6)]
    owner_of: dict[uuid.UUID, int] = {}
    for division in divisions:
        for _ in range(3):
            owner_of[await _request(store, division)] = division
    claims = await asyncio.gather(*(store.claim(f"replica-{n}", random.randint(1, 5), LEASE)
                                    for n in range(4)))
    holders: dict[int, set[int]] = {}
    for replica, claimed in enumerate(claims):
        for run_id in claimed:
            holders.setdefault(owner_of[run_id], set()).add(replica)
    assert holders and all(len(replicas) == 1 for replicas in holders.values())


async def test_a_dead_replicas_company_is_taken_over_after_its_lease(engine: AsyncEngine) -> None:
    store = PostgresRunStore(engine)
    first = await _request(store, 830_001)
    second = await _request(store, 830_001)
    assert await store.claim("replica-a", 1, timedelta(seconds=0.2)) == [first]
    assert await store.claim("replica-b", 10, LEASE) == []
    taken = await eventually(lambda: store.claim("replica-b", 10, LEASE), timeout=10)
    assert set(taken) == {first, second}


async def _first_page_saved(store: PostgresRunStore, division: int
                            ) -> tuple[uuid.UUID, Run, EntityCheckpoint, PageStats]:
    """A run of ``division`` started by replica-a, with a first page of 5 Journals saved (one
    call); the page, to save again."""
    run_id, run = await _started(store, division)
    cp = run.checkpoints[c.Entity.JOURNALS.value]
    page = PageStats(rows=5, amount_sum=None, debit_sum=None, id_hash_sum=7, max_timestamp=None,
                     count_sum=None,
                     next_cursor=f"api/v1/{division}/financial/Journals?$skiptoken=x")
    cp.advance(page, 1)
    run.calls_used = 1
    await store.save_page(run, cp, "replica-a", [])
    return run_id, run, cp, page


async def test_a_page_moves_the_checkpoint_only_for_the_replica_holding_the_run(
        engine: AsyncEngine) -> None:
    store = PostgresRunStore(engine)
    run_id, run, cp, page = await _first_page_saved(store, 840_001)
    saved = await store.load(run_id)
    assert saved is not None and saved.calls_used == 1
    assert saved.checkpoints[cp.entity].rows == 5
    assert saved.checkpoints[cp.entity].cursor == page.next_cursor

    await store.release("replica-a", [run_id])  # replica b holds the run now
    assert await store.claim("replica-b", 1, LEASE) == [run_id]
    cp.advance(page, 1)
    run.calls_used = 2
    with pytest.raises(LeaseLost):
        await store.save_page(run, cp, "replica-a", [])
    kept = await store.load(run_id)
    assert kept is not None and kept.calls_used == 1
    assert kept.checkpoints[cp.entity].rows == 5 and kept.checkpoints[cp.entity].pages == 1


async def test_a_page_of_a_lost_run_leaves_no_hashes_nor_trial_rows(engine: AsyncEngine) -> None:
    store = PostgresRunStore(engine)
    run_id, run = await _started(store, 850_001)
    cp = run.checkpoints[c.Entity.JOURNALS.value]

    def page(n: int) -> tuple[PageHashes, TrialPage]:
        line = LedgerLine(f"line-{n}", 2024, 3, "1300", 20, 50, Decimal("12.50"),
                          date(2024, 3, 1))
        balance = BalanceRow(n, 2024, 3, "1300", 50, Decimal("-4.25"))
        return (PageHashes(cp.entity, {f"row-{n}": bytes([n])}),
                TrialPage([line], [balance], [], track_years=False))

    async def held() -> tuple[set[str], set[str], set[int]]:
        async with engine.connect() as conn:
            return (set((await conn.scalars(sa.select(refresh_hashes.c.row_id).where(
                        refresh_hashes.c.datasource_id == run.datasource_id))).all()),
                    set((await conn.scalars(sa.select(trial_lines.c.line_id).where(
                        trial_lines.c.datasource_id == run.datasource_id))).all()),
                    set((await conn.scalars(sa.select(trial_exact.c.row_id).where(
                        trial_exact.c.datasource_id == run.datasource_id))).all()))

    hashes, trial = page(1)
    await store.save_page(run, cp, "replica-a", [], hashes=hashes, trial=trial)
    assert await held() == ({"row-1"}, {"line-1"}, {1})

    await store.release("replica-a", [run_id])  # replica b holds the run now
    assert await store.claim("replica-b", 1, LEASE) == [run_id]
    hashes, trial = page(2)
    with pytest.raises(LeaseLost):
        await store.save_page(run, cp, "replica-a", [], hashes=hashes, trial=trial)
    assert await held() == ({"row-1"}, {"line-1"}, {1})


async def test_a_page_whose_connection_broke_fails_as_a_transient_database_error(
        engine: AsyncEngine) -> None:
    # a page commits its statement alone, straight through the driver: a connection that
    # broke under it must still come out as SQLAlchemy's transient error (the run resumes
    # rather than fails) and leave the pool, so the next page gets a working one
    store = PostgresRunStore(engine)
    run_id, run, cp, page = await _first_page_saved(store, 860_001)
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as other:
        await other.execute(  # every connection of the pool is cut
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    await asyncio.sleep(0.5)  # the backends end once they see the signal
    cp.advance(page, 1)
    with pytest.raises(sa.exc.DBAPIError) as failed:
        for _ in range(engine.pool.size() + 1):  # pooled connections: each cut one fails once
            await store.save_page(run, cp, "replica-a", [])
    assert is_transient(failed.value) and failed.value.connection_invalidated
    await store.save_page(run, cp, "replica-a", [])
    saved = await store.load(run_id)
    assert saved is not None and saved.checkpoints[cp.entity].pages == 2
