"""One entity Exact refuses never sinks a run, and a field Exact retired never stops one:
against the (strict) sandbox, the real broker and database.

* an endpoint answering a permanent 400/403/404: the run completes with errors naming the
  entity, every other entity reconciles exactly, and the next incremental sync reads the
  failed entity again (in full) once Exact serves it;
* a field removed from an endpoint: the run completes, the field is reported on RunCompleted,
  and no page is fetched more than twice because of it.
"""

from __future__ import annotations

from typing import Any

import pytest

import contracts as c
from connector_runtime.devstack.testing import Infra

from .test_incremental import make_due
from .test_initial_run import assert_reconciles, batches_by_key

pytestmark = pytest.mark.integration


def completed_of(runs: Any, run_id: Any) -> c.RunCompleted:
    [completed] = runs.of_run(run_id, c.RunCompleted)
    assert isinstance(completed, c.RunCompleted)
    return completed


@pytest.mark.parametrize("status,code", [(403, "not_authorized"), (404, "exact_error"),
                                         (400, "exact_error")])
async def test_an_entity_exact_refuses_fails_alone_and_the_next_sync_reads_it(
        infra: Infra, make_sandbox: Any, make_world: Any, tails: Any, status: int,
        code: str) -> None:
    runs, batches = tails
    world = make_world(make_sandbox(lines=1_500))
    await world.sandbox.admin.model(refused_endpoints={"budget/Budgets": status})
    await world.start_app(incremental_interval_seconds=3600, incremental_jitter=0)
    request = await world.request_run()
    run_id = request.payload.run_id
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted | c.RunFailed)
                                   and x.payload.run_id == run_id for x in m), timeout=60)
    completed = completed_of(runs, run_id)
    p = completed.payload
    assert p.outcome == "completed_with_errors"
    assert [(f.entity, f.reason_code) for f in p.failed_entities] == [(c.Entity.BUDGETS, code)]
    assert "budget/Budgets" in p.failed_entities[0].reason
    await batches.until(lambda m: sum(1 for x in m if x.payload.run_id == run_id) >= p.batches)
    expected = await world.sandbox.expected()
    others = {k: v for k, v in expected.items() if k != "Budgets"}
    totals = {str(t.entity) for t in p.totals}
    assert "Budgets" not in totals and set(others) - {"Deleted"} <= totals
    kept = batches_by_key(batches.of_run(run_id))
    assert_reconciles(completed, kept, others, budgets=False)
    stats = await world.sandbox.stats()
    assert stats["calls_by_endpoint"]["budget/Budgets"] == 1  # refused once, not retried

    # Exact serves the entity again: the next incremental sync reads it in full
    await world.sandbox.admin.reset_model()
    await make_due(infra, request.datasource_id)

    def synced(msgs: list[c.Message]) -> list[c.RunCompleted]:
        return [m for m in msgs if isinstance(m, c.RunCompleted)
                and m.datasource_id == request.datasource_id and m.payload.kind == "incremental"]

    await runs.until(lambda m: bool(synced(m)), timeout=60)
    [sync] = synced(runs.messages)
    assert sync.payload.outcome == "completed" and sync.payload.failed_entities == ()
    budgets = {t.entity: t for t in sync.payload.totals}[c.Entity.BUDGETS]
    assert budgets.rows == expected["Budgets"]["count"]
    sync_id = sync.payload.run_id
    await batches.until(lambda m: sum(1 for x in m if x.payload.run_id == sync_id)
                        >= sync.payload.batches)
    sent = [r.id for k, b in batches_by_key(batches.of_run(sync_id)).items()
            if k[1] == c.Entity.BUDGETS for r in b.payload.rows]  # type: ignore[union-attr]
    assert c.id_hash(sent) == expected["Budgets"]["id_hash"]


async def test_a_field_exact_retired_is_dropped_reported_and_costs_one_call(
        make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, batches = tails
    world = make_world(make_sandbox(lines=500))
    await world.sandbox.admin.model(
        retired_fields={"hrm/Costcenters": ["Active"], "budget/Budgets": ["Costunit"]},
        int64_as_string=True)
    await world.start_app()
    request = await world.request_run()
    run_id = request.payload.run_id
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted | c.RunFailed)
                                   and x.payload.run_id == run_id for x in m), timeout=60)
    p = completed_of(runs, run_id).payload
    assert p.outcome == "completed" and p.failed_entities == ()
    assert sorted((d.entity, d.endpoint, d.field) for d in p.dropped_fields) == [
        (c.Entity.BUDGETS, "budget/Budgets", "Costunit"),
        (c.Entity.COST_CENTERS, "hrm/Costcenters", "Active")]
    await batches.until(lambda m: sum(1 for x in m if x.payload.run_id == run_id) >= p.batches)
    kept = batches_by_key(batches.of_run(run_id))
    assert_reconciles(completed_of(runs, run_id), kept, await world.sandbox.expected())
    centers = [r for k, b in kept.items() if k[1] == c.Entity.COST_CENTERS
               for r in b.payload.rows]
    assert centers and all(r.active is None for r in centers)  # type: ignore[union-attr]
    stats = await world.sandbox.stats()
    expected = await world.sandbox.expected()
    pages = {"hrm/Costcenters": -(-expected["CostCenters"]["count"] // 60),
             "budget/Budgets": -(-expected["Budgets"]["count"] // 60)}
    for endpoint, n in pages.items():  # one refused call, then each page once
        assert stats["calls_by_endpoint"][endpoint] == n + 1, endpoint
