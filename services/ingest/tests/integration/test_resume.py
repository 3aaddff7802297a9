"""A run stopped in the middle - its replica dead, or shut down - resumes from its
checkpoint on another replica: after dedupe on (run_id, entity, batch_seq) every row arrives
exactly once, no batch_seq changes its rows, and at most the page in flight is fetched again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import contracts as c
from connector_runtime.devstack.testing import eventually
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


async def check_exactly_once(world: Any, runs: Any, batches: Any, run_id: uuid.UUID, *,
                             refetched: int = 1) -> None:
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
    # each interruption fetches at most the page that was in flight again
    assert minimum <= calls <= minimum + refetched


async def test_a_dead_replicas_run_is_taken_over_and_a_stopped_replicas_run_resumed(
        make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, batches = tails
    world = make_world(make_sandbox(lines=2_000, faults=FaultSettings(latency_ms=20)))
    replicas = [await world.start_app(lease_seconds=2.0), await world.start_app(lease_seconds=2.0)]
    run_id = (await world.request_run()).payload.run_id
    await eventually(lambda: _pages_at_least(world, run_id, 5), timeout=30)
    owner = (await world.run_row(run_id)).owner
    [dying] = [app for app in replicas if app.state.ingest.scheduler.owner == owner]
    [survivor] = [app for app in replicas if app is not dying]

    # the owner dies: its lease is left to expire, then the other replica takes the run over
    await dying.state.ingest.scheduler.stop(release=False)
    assert (await world.run_row(run_id)).owner == owner
    await eventually(lambda: _owned_by(world, run_id, survivor.state.ingest.scheduler.owner),
                     timeout=15)
    await eventually(lambda: _pages_at_least(world, run_id, 14), timeout=30)

    # the survivor is shut down in the middle: it gives the run back, a restarted replica
    # resumes it at once (no lease to wait for)
    await world.stop_app(survivor)
    assert (await world.run_row(run_id)).owner is None
    dying.state.ingest.scheduler.start()
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted) and x.payload.run_id == run_id
                                   for x in m), timeout=60)
    assert [s.payload.resumed for s in runs.of_run(run_id, c.RunStarted)] == [False, True, True]
    await check_exactly_once(world, runs, batches, run_id, refetched=2)


async def _owned_by(world: Any, run_id: uuid.UUID, owner: str) -> bool:
    return bool((await world.run_row(run_id)).owner == owner)


async def _pages_at_least(world: Any, run_id: uuid.UUID, pages: int) -> bool:
    return await world.checkpoint_pages(run_id) >= pages
