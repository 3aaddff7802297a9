"""Exact as it really behaves: faults at a few percent, a low minutely limit and a spent
daily budget (zero 429s, zero rule violations), and a grant withdrawn in the middle of a run."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

import contracts as c
from connector_runtime.devstack.testing import signed_claim
from exact_sandbox.config import FaultSettings, Limits

pytestmark = pytest.mark.integration


def completed_of(runs: Any, run_id: uuid.UUID) -> Any:
    [completed] = runs.of_run(run_id, c.RunCompleted)
    return completed


async def assert_matches_expected(world: Any, completed: Any) -> None:
    expected = await world.sandbox.expected()
    totals = {str(t.entity): t for t in completed.payload.totals}
    for entity, figures in expected.items():
        if entity != "Deleted":
            assert (totals[entity].rows, totals[entity].id_hash) == \
                (figures["count"], figures["id_hash"]), entity
    assert totals["TransactionLines"].amount_dc_debit_sum == \
        Decimal(expected["TransactionLines"]["sum_debit_dc"])


async def test_server_errors_broken_pages_timeouts_and_refused_tokens_are_survived(
        make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, _ = tails
    faults = FaultSettings(seed=11, error_5xx_rate=0.06, malformed_json_rate=0.06, drop_rate=0.04,
                           timeout_rate=0.04, hang_seconds=5, unauthorized_rate=0.04,
                           unauthorized_next=1)  # at least the first call: "token expired"
    sandbox = make_sandbox(lines=1_500, faults=faults, division=654_321,  # same faults each run
                           limits=Limits(minutely=1_000_000, daily=10**9, refresh_window_s=600))
    world = make_world(sandbox)
    await world.start_app(exact_timeout_seconds=0.4, exact_unauthorized_retry_seconds=0.05)
    run_id = (await world.request_run()).payload.run_id
    await runs.until(lambda m: any(isinstance(x, (c.RunCompleted, c.RunFailed))
                                   and x.payload.run_id == run_id for x in m), timeout=60)
    await assert_matches_expected(world, completed_of(runs, run_id))
    stats = await sandbox.stats()
    injected = stats["faults_injected"]
    assert {"error_5xx", "malformed", "timeout", "drop", "unauthorized"} <= set(injected), injected
    assert stats["rule_violations"] == {}
    # a passing 401 is asked again with the same token: the valid token is not dropped
    assert len(world.auth.rejections) < injected["unauthorized"]


async def test_a_low_minutely_limit_causes_no_429(make_sandbox: Any, make_world: Any,
                                                  tails: Any) -> None:
    runs, _ = tails
    # a minute passes in a quarter of a real second: the run spans several windows of 5 calls
    sandbox = make_sandbox(lines=10, limits=Limits(minutely=5, daily=10_000), clock_speed=240.0)
    world = make_world(sandbox)
    await world.start_app()
    run_id = (await world.request_run()).payload.run_id
    await runs.until(lambda m: any(isinstance(x, (c.RunCompleted, c.RunFailed))
                                   and x.payload.run_id == run_id for x in m), timeout=60)
    completed = completed_of(runs, run_id)
    await assert_matches_expected(world, completed)
    stats = await sandbox.stats()
    assert stats["responses_429"] == 0 and stats["rule_violations"] == {}
    # one page a call (a call refused for an expired token is not counted by the sandbox)
    assert stats["calls_total"] == completed.payload.batches > 4 * 5


async def test_a_spent_daily_budget_waits_for_the_reset_without_429(make_sandbox: Any,
                                                                   make_world: Any,
                                                                   tails: Any) -> None:
    runs, _ = tails
    # 10 calls a minute, 15 a day; a minute passes in half a real second. The run learns that
    # clock, spends the day's 15 calls well before midnight, waits, and ends the next day.
    sandbox = make_sandbox(lines=10, limits=Limits(minutely=10, daily=15), clock_speed=120.0)
    world = make_world(sandbox)
    await world.start_app()
    await sandbox.admin.clock(set="2025-03-03T23:50:00Z")
    run_id = (await world.request_run()).payload.run_id
    await runs.until(lambda m: any(isinstance(x, (c.RunCompleted, c.RunFailed))
                                   and x.payload.run_id == run_id for x in m), timeout=60)
    completed = completed_of(runs, run_id)
    await assert_matches_expected(world, completed)
    stats = await sandbox.stats()
    assert stats["responses_429"] == 0 and stats["rule_violations"] == {}
    assert stats["calls_total"] == completed.payload.batches > 15  # two days' budgets used
    waiting = [p.payload for p in runs.of_run(run_id, c.RunProgress) if p.payload.waiting_until]
    assert waiting and "daily" in (waiting[0].waiting_reason or "")
    assert len(runs.of_run(run_id, c.RunStarted)) == 1  # waiting is not a restart


async def test_a_withdrawn_grant_pauses_the_run_until_a_recreate_brings_a_new_one(
        make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, _batches = tails
    sandbox = make_sandbox(lines=1_000)
    world = make_world(sandbox)
    await world.start_app()
    await sandbox.faults(revoke_after_calls=8, divisions=[sandbox.division])
    request = await world.request_run()
    run_id = request.payload.run_id
    await runs.until(lambda m: any(isinstance(x, c.RunFailed) and x.payload.run_id == run_id
                                   for x in m), timeout=30)
    [failed] = runs.of_run(run_id, c.RunFailed)
    assert failed.payload.reason_code == "grant_revoked" and failed.payload.retryable
    assert (await world.run_row(run_id)).status == "paused"
    stats = await sandbox.stats()
    assert stats["calls_total"] == 9  # 8 pages, the refused call, and no hammering after it
    assert stats["rule_violations"] == {}

    await sandbox.faults()  # the new grant is not withdrawn
    new_grant = uuid.uuid4()
    world.auth.add(new_grant, await sandbox.grant(), sandbox.division)
    accepted = c.RecreateAccepted.create(
        datasource_id=request.datasource_id, correlation_id=uuid.uuid4(),
        payload=c.RecreateAcceptedPayload(
            division=sandbox.division, grant_id=new_grant,
            previous_grant_id=request.payload.grant_id,
            grant_claim=signed_claim(request.datasource_id, new_grant, sandbox.division)))
    await world.publish(c.DATASOURCE_EVENTS, accepted)
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted) and x.payload.run_id == run_id
                                   for x in m), timeout=30)
    await assert_matches_expected(world, completed_of(runs, run_id))
    assert [s.payload.resumed for s in runs.of_run(run_id, c.RunStarted)] == [False, True]
