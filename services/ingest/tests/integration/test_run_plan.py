"""A run's plan in RunStarted and in ``GET /runs/{id}``, made without any call to Exact: a
first import is a lower bound (nothing is known of the company yet); a re-import is planned
from the first read and costs exactly the calls it planned."""

from __future__ import annotations

from typing import Any

import pytest

import contracts as c

pytestmark = pytest.mark.integration


async def test_run_started_carries_the_plan_and_a_reimport_costs_what_it_planned(
        make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, _ = tails
    world = make_world(make_sandbox(lines=2_500))
    await world.start_app()

    first = await world.request_run()
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted)
                                   and x.payload.run_id == first.payload.run_id for x in m))
    [started] = runs.of_run(first.payload.run_id, c.RunStarted)
    plan = started.payload.plan
    assert plan is not None and plan.lower_bound  # nothing read of this company before
    assert [p.entity for p in plan.entities] == list(started.payload.entities)
    assert plan.calls == len(c.ALL_ENTITIES) and plan.days == 0
    calls_before = (await world.sandbox.stats())["calls_total"]

    again = await world.request_run(kind="reimport", datasource_id=first.datasource_id)
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted)
                                   and x.payload.run_id == again.payload.run_id for x in m))
    [started] = runs.of_run(again.payload.run_id, c.RunStarted)
    [completed] = runs.of_run(again.payload.run_id, c.RunCompleted)
    plan = started.payload.plan
    assert plan is not None and not plan.lower_bound
    expected = await world.sandbox.expected()
    rows = {p.entity: p.estimated_rows for p in plan.entities}
    assert rows[c.Entity.TRANSACTION_LINES] == expected["TransactionLines"]["count"]
    assert plan.calls == completed.payload.calls_used == world.sandbox.minimum_calls(expected)
    assert plan.daily_budget_remaining is not None  # from the first run's rate headers
    assert plan.finishes_at > started.occurred_at
    # planning made no call of its own: the re-import's calls are all the sandbox saw since
    assert (await world.sandbox.stats())["calls_total"] - calls_before == plan.calls
