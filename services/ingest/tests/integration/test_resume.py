"""A run stopped in the middle - its app shut down, or its replica dead - resumes from its
checkpoint: after dedupe on (run_id, entity, batch_seq) every row arrives exactly once, no
batch_seq changes its rows, and at most the page in flight is fetched again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import contracts as c
from connector_runtime.testing import eventually
from exact_sandbox.config import FaultSettings

pytestmark = pytest.mark.integration


def dedupe(batches: list[c.LedgerBatch]) -> dict[tuple[Any, ...], c.LedgerBatch]:
    kept: dict[tuple[Any, ...], c.LedgerBatch] = {}
    for b in batches:
        key = (b.payload.entity, b.payload.batch_seq)
        if key in kept:
            assert [r.model_dump() for r in kept[key].payload.rows] == \
                [r.model_dump() for r in b.payload.rows], f"{key} re-sent with other rows"
        kept.setdefault(key, b)
    return kept


async def check_exactly_once(world: Any, runs: Any, batches: Any, run_id: uuid.UUID) -> None:
    [completed] = runs.of_run(run_id, c.RunCompleted)
    await batches.until(lambda m: len(dedupe(batches.of_run(run_id))) >= completed.payload.batches)
    kept = dedupe(batches.of_run(run_id))
    expected = await world.sandbox.expected()
    totals = {str(t.entity): t for t in completed.payload.totals}
    for entity, figures in expected.items():
        if entity == "Deleted":
            continue
        ids = [r.id for (e, _), b in kept.items() if e == entity for r in b.payload.rows]
        assert len(ids) == len(set(ids)) == figures["count"] == totals[entity].rows, entity
        assert c.id_hash(ids) == figures["id_hash"] == totals[entity].id_hash, entity
    minimum = world.sandbox.minimum_calls(expected)
    calls = (await world.sandbox.stats())["calls_by_division"][str(world.sandbox.division)]
    assert minimum <= calls <= minimum + 1  # at most the page in flight is fetched again


async def two_replicas_and_a_run(world: Any, **settings: Any) -> tuple[Any, Any, uuid.UUID]:
    """Two ingest replicas; returns (the one running the run, the other one, run_id)."""
    replicas = [await world.start_app(**settings), await world.start_app(**settings)]
    run_id = (await world.request_run()).payload.run_id
    await eventually(lambda: _pages_at_least(world, run_id, 5), timeout=30)
    owner = (await world.run_row(run_id)).owner
    [running] = [app for app in replicas if app.state.ingest.scheduler.owner == owner]
    [other] = [app for app in replicas if app is not running]
    return running, other, run_id


async def test_a_run_stopped_with_its_replica_resumes_on_another(make_sandbox: Any,
                                                                 make_world: Any, tails: Any) -> None:
    runs, batches = tails
    world = make_world(make_sandbox(lines=2_500, faults=FaultSettings(latency_ms=30)))
    running, _other, run_id = await two_replicas_and_a_run(world)
    await world.stop_app(running)  # shutdown cancels the run and gives its lease back
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted) and x.payload.run_id == run_id
                                   for x in m), timeout=60)
    assert (await world.run_row(run_id)).status == "completed"
    started = runs.of_run(run_id, c.RunStarted)
    assert [s.payload.resumed for s in started] == [False, True]
    await check_exactly_once(world, runs, batches, run_id)


async def test_a_second_replica_takes_over_the_run_of_a_dead_one(make_sandbox: Any, make_world: Any,
                                                                tails: Any) -> None:
    runs, batches = tails
    world = make_world(make_sandbox(lines=2_500, faults=FaultSettings(latency_ms=30)))
    dying, survivor, run_id = await two_replicas_and_a_run(world, lease_seconds=2.0)
    owner = dying.state.ingest.scheduler.owner
    await dying.state.ingest.scheduler.stop(release=False)  # dies: its lease is left to expire
    assert (await world.run_row(run_id)).owner == owner
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted) and x.payload.run_id == run_id
                                   for x in m), timeout=60)
    assert survivor.state.ingest.scheduler.owner != owner
    assert [s.payload.resumed for s in runs.of_run(run_id, c.RunStarted)] == [False, True]
    await check_exactly_once(world, runs, batches, run_id)


async def _pages_at_least(world: Any, run_id: uuid.UUID, pages: int) -> bool:
    return await world.checkpoint_pages(run_id) >= pages
