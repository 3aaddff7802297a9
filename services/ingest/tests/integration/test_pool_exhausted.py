"""A run that cannot get a pooled database connection in time is not failed for good: the
pool's timeout (``sqlalchemy.exc.TimeoutError``) is transient like an unreachable database,
so the run's task ends, its lease expires and the run resumes from its checkpoint once
connections are free again - every row exactly once, no RunFailed."""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

import contracts as c
from connector_runtime import host
from connector_runtime.devstack.testing import eventually
from connector_runtime.persistence.db import create_engine
from exact_sandbox.config import FaultSettings

pytestmark = pytest.mark.integration

POOL_TIMEOUT = 1.0
HOLD = 2.5
"""How long the test keeps the replica's shared connection: past the pool timeout, so the
run's next page commit or rate-budget transaction gives up waiting."""


async def test_a_run_that_waits_too_long_for_a_connection_resumes_and_completes(
        make_sandbox: Any, make_world: Any, tails: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    runs, batches = tails
    monkeypatch.setattr(host, "create_engine",
                        functools.partial(create_engine, pool_timeout=POOL_TIMEOUT))
    world = make_world(make_sandbox(lines=2_000, faults=FaultSettings(latency_ms=20)))
    # two connections: the outbox relay keeps one for its leader lock, so the run, the relay's
    # batches and the scheduler share the other
    app = await world.start_app(database_pool_size=2, database_max_overflow=0,
                                lease_seconds=2.0)
    engine = app.state.ingest.store._engine
    assert engine.sync_engine.pool.size() == 2
    run_id = (await world.request_run()).payload.run_id
    await eventually(lambda: _pages_at_least(world, run_id, 3), timeout=30)

    # the replica's shared connection is taken for longer than its pool timeout
    await _hold_the_pool(engine, HOLD)

    await runs.until(lambda m: any(isinstance(x, c.RunCompleted) and x.payload.run_id == run_id
                                   for x in m), timeout=60)
    assert runs.of_run(run_id, c.RunFailed) == []
    started = [s.payload.resumed for s in runs.of_run(run_id, c.RunStarted)]
    assert started[0] is False and True in started[1:], started  # it did stop, then resumed
    [completed] = runs.of_run(run_id, c.RunCompleted)
    await batches.until(lambda m: len(_kept(batches.of_run(run_id))) >= completed.payload.batches)
    kept = _kept(batches.of_run(run_id))
    for entity, figures in (await world.sandbox.expected()).items():
        if entity != "Deleted":  # every row arrived, none twice, after dedupe on batch_seq
            ids = [r.id for (e, _), rows in kept.items() if e == entity for r in rows]
            assert len(ids) == len(set(ids)) == figures["count"], entity
            assert c.id_hash(ids) == figures["id_hash"], entity


async def _hold_the_pool(engine: Any, seconds: float) -> None:
    """Check out the pool's last free connection (retrying while the replica uses it) and
    keep it."""
    while True:
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
                await asyncio.sleep(seconds)
                return
        except sa.exc.TimeoutError:
            continue


def _kept(sent: list[c.LedgerBatch]) -> dict[tuple[Any, int], list[Any]]:
    return {(b.payload.entity, b.payload.batch_seq): b.payload.rows for b in sent}


async def _pages_at_least(world: Any, run_id: uuid.UUID, pages: int) -> bool:
    return await world.checkpoint_pages(run_id) >= pages
