"""Run status from ingest's run events, through the real broker, shown by the read API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import contracts as c

pytestmark = pytest.mark.integration

TL = c.Entity.TRANSACTION_LINES
GL = c.Entity.GL_ACCOUNTS


async def connected_with_run(service: Any, division: int) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    command = service.create_command()
    await service.send(c.DATASOURCE_COMMANDS, command)
    request = await service.one(c.AUTH_REQUESTS, command.datasource_id, c.AuthorizationRequested)
    grant = uuid.uuid4()
    await service.send(c.AUTH_EVENTS, service.exact_authorized(request, division=division, grant_id=grant))
    run_request = await service.one(c.INGEST_REQUESTS, command.datasource_id, c.InitialRunRequested)
    return command.datasource_id, run_request.payload.run_id, grant


def progress(ds_id: uuid.UUID, run_id: uuid.UUID, rows: int, *, done: bool = False) -> c.RunProgress:
    return c.RunProgress.create(datasource_id=ds_id, payload=c.RunProgressPayload(
        run_id=run_id, kind="initial", calls_used=rows // 1000 + 1, daily_budget_remaining=4900,
        minutely_budget_remaining=55, eta_seconds=42.0,
        entities=(c.EntityProgress(entity=TL, rows=rows, pages=rows // 1000 + 1, done=done),
                  c.EntityProgress(entity=GL, rows=40, pages=1, done=True))))


async def sentinel_seen(service: Any, ds_id: uuid.UUID) -> dict[str, Any]:
    """A later run event on the same partition: once it shows, everything before it was handled."""
    marker = uuid.uuid4()
    await service.send(c.RUN_EVENTS, c.RunStarted.create(datasource_id=ds_id, payload=c.RunStartedPayload(
        run_id=marker, kind="incremental", division=1, entities=(GL,))))
    await service.until_datasource(ds_id, lambda d: any(r["run_id"] == str(marker) for r in d["runs"]))
    run = await service.get(f"/runs/{marker}")
    assert run["kind"] == "incremental" and run["status"] == "running"
    return await service.datasource(ds_id)  # type: ignore[no-any-return]


async def test_run_events_move_the_run_from_pending_to_completed(service: Any) -> None:
    ds_id, run_id, _ = await connected_with_run(service, division=801)
    detail = await service.datasource(ds_id)
    assert detail["run_status"] == "initial_run_pending"
    started = c.RunStarted.create(datasource_id=ds_id, payload=c.RunStartedPayload(
        run_id=run_id, kind="initial", division=801, entities=c.ALL_ENTITIES))
    await service.send(c.RUN_EVENTS, started, progress(ds_id, run_id, 1000))
    detail = await service.until_datasource(ds_id, lambda d: d["last_run"]["rows"] >= 1040)
    assert detail["run_status"] == "running"
    last = detail["last_run"]
    assert last["eta_seconds"] == 42.0 and last["daily_budget_remaining"] == 4900
    rows = {p["entity"]: p for p in last["progress"]}
    assert rows["TransactionLines"] == {"entity": "TransactionLines", "rows": 1000, "pages": 2,
                                        "done": False, "failure": None, "dropped_fields": []}
    assert rows["GLAccounts"]["done"]

    completed = c.RunCompleted.create(datasource_id=ds_id, payload=c.RunCompletedPayload(
        run_id=run_id, kind="initial", division=801, batches=5, calls_used=6, duration_seconds=95.5,
        totals=(c.EntityTotals(entity=TL, rows=2500, pages=3, id_hash="x"),
                c.EntityTotals(entity=GL, rows=40, pages=1, id_hash="y"))))
    await service.send(c.RUN_EVENTS, completed)
    detail = await service.until_datasource(ds_id, lambda d: d["run_status"] == "completed")
    run = await service.get(f"/runs/{run_id}")
    assert run["status"] == "completed" and run["batches"] == 5 and run["duration_seconds"] == 95.5
    assert run["finished_at"] is not None and run["started_at"] is not None
    assert {p["entity"]: p["rows"] for p in run["progress"]}["TransactionLines"] == 2500
    summary = {d["id"]: d for d in await service.get("/datasources", state="connected")}[str(ds_id)]
    assert summary["run_status"] == "completed" and summary["last_run"]["run_id"] == str(run_id)


async def test_a_run_completed_with_errors_shows_which_entities_are_missing_and_why(
        service: Any) -> None:
    ds_id, run_id, _ = await connected_with_run(service, division=805)
    completed = c.RunCompleted.create(datasource_id=ds_id, payload=c.RunCompletedPayload(
        run_id=run_id, kind="initial", division=805, batches=3, calls_used=4,
        duration_seconds=12.0, totals=(c.EntityTotals(entity=TL, rows=2500, pages=3, id_hash="x"),),
        outcome="completed_with_errors",
        failed_entities=(c.EntityFailure(entity=c.Entity.BUDGETS, reason_code="not_authorized",
                                         reason="budget/Budgets: HTTP 403: scope"),),
        dropped_fields=(c.DroppedField(entity=c.Entity.COST_CENTERS, endpoint="hrm/Costcenters",
                                       field="Active"),)))
    await service.send(c.RUN_EVENTS, completed)
    detail = await service.until_datasource(
        ds_id, lambda d: d["run_status"] == "completed_with_errors")
    run = await service.get(f"/runs/{run_id}")
    assert run["status"] == "completed_with_errors"
    by_entity = {p["entity"]: p for p in run["progress"]}
    assert by_entity["Budgets"]["failure"] == "not_authorized: budget/Budgets: HTTP 403: scope"
    assert by_entity["CostCenters"]["dropped_fields"] == ["Active"]
    assert by_entity["TransactionLines"]["done"] and by_entity["TransactionLines"]["failure"] is None
    assert "Budgets" in detail["last_failure_reason"]


async def test_a_runs_trial_balance_check_is_shown_next_to_the_run(service: Any) -> None:
    ds_id, run_id, _ = await connected_with_run(service, division=807)
    checked = c.TrialBalanceChecked.create(datasource_id=ds_id, payload=c.TrialBalanceCheckedPayload(
        run_id=run_id, kind="initial", division=807, checked=True, basis="processed",
        opening_balance_period="as_booked", keys_compared=829, keys_matching=828,
        total_abs_difference=Decimal("114.08"), tolerance=Decimal("0.005"),
        largest_differences=(c.TrialBalanceDifference(
            reporting_year=2024, reporting_period=7, gl_account_code="8000",
            ledger_amount=Decimal("-418.45"), exact_amount=Decimal("-532.53"),
            difference=Decimal("-114.08")),)))
    await service.send(c.RUN_EVENTS, checked)
    await service.until_datasource(ds_id, lambda d: d["runs"][0]["trial_balance"] is not None)
    check = (await service.get(f"/runs/{run_id}"))["trial_balance"]
    assert check["checked"] and check["keys_matching_percent"] == 99.88
    assert (check["keys_compared"], check["keys_matching"]) == (829, 828)
    assert Decimal(check["total_abs_difference"]) == Decimal("114.08")
    [diff] = check["largest_differences"]
    assert (diff["reporting_year"], diff["reporting_period"], diff["gl_account_code"]) == (
        2024, 7, "8000")
    assert Decimal(diff["difference"]) == Decimal("-114.08")


async def test_out_of_order_and_duplicate_run_events_do_not_regress_the_run(service: Any) -> None:
    ds_id, run_id, _ = await connected_with_run(service, division=802)
    started = c.RunStarted.create(datasource_id=ds_id, payload=c.RunStartedPayload(
        run_id=run_id, kind="initial", division=802, entities=c.ALL_ENTITIES))
    early = progress(ds_id, run_id, 1000)
    completed = c.RunCompleted.create(datasource_id=ds_id, payload=c.RunCompletedPayload(
        run_id=run_id, kind="initial", division=802, batches=3, calls_used=4, duration_seconds=30.0,
        totals=(c.EntityTotals(entity=TL, rows=2500, pages=3, id_hash="x"),)))
    late = progress(ds_id, run_id, 2000).model_copy(
        update={"occurred_at": completed.occurred_at - timedelta(seconds=5)})
    # completion first, then the older progress and start, and everything twice
    await service.send(c.RUN_EVENTS, completed, late, started, early, completed, late)
    detail = await sentinel_seen(service, ds_id)
    run = next(r for r in detail["runs"] if r["run_id"] == str(run_id))
    assert run["status"] == "completed" and run["error"] is None
    assert {p["entity"]: p["rows"] for p in run["progress"]}["TransactionLines"] == 2500
    assert run["started_at"] == started.occurred_at.isoformat().replace("+00:00", "Z")


def planned(ds_id: uuid.UUID, run_id: uuid.UUID, calls: int, *, resumed: bool = False,
            minutes: int = 0) -> c.RunStarted:
    """A start of the run with ingest's plan (``minutes`` after now)."""
    started = c.RunStarted.create(datasource_id=ds_id, payload=c.RunStartedPayload(
        run_id=run_id, kind="initial", division=804, entities=(TL, GL), resumed=resumed,
        plan=c.RunPlan(
            entities=(c.PlannedEntity(entity=TL, estimated_rows=None, calls=calls - 1, day=1),
                      c.PlannedEntity(entity=GL, estimated_rows=40, calls=1, day=0)),
            calls=calls, days=1, eta_seconds=90_000.0,
            finishes_at=datetime(2026, 3, 5, 23, 45, tzinfo=UTC), daily_limit=5_000,
            daily_budget_remaining=1_200, lower_bound=True)))
    return started.model_copy(update={"occurred_at": started.occurred_at
                                      + timedelta(minutes=minutes)})


async def test_the_read_api_shows_the_plan_of_the_runs_latest_start(service: Any) -> None:
    ds_id, run_id, _ = await connected_with_run(service, division=804)
    first, resumed = planned(ds_id, run_id, 6_000), planned(ds_id, run_id, 4_000, resumed=True,
                                                           minutes=5)
    # the resumed start's plan wins, whatever the order and however often each arrives
    await service.send(c.RUN_EVENTS, first, resumed, first, resumed)
    detail = await sentinel_seen(service, ds_id)
    plan = detail["last_run"]["plan"]
    assert plan["calls"] == 4_000 and plan["days"] == 1 and plan["lower_bound"] is True
    assert plan["daily_budget_remaining"] == 1_200 and plan["eta_seconds"] == 90_000.0
    assert plan["planned_at"] == resumed.occurred_at.isoformat().replace("+00:00", "Z")
    assert plan["entities"] == [
        {"entity": "TransactionLines", "estimated_rows": None, "calls": 3_999, "day": 1},
        {"entity": "GLAccounts", "estimated_rows": 40, "calls": 1, "day": 0}]
    assert (await service.get(f"/runs/{run_id}"))["plan"] == plan
    summary = {d["id"]: d for d in await service.get("/datasources", state="connected")}[str(ds_id)]
    assert summary["last_run"]["plan"] == plan


async def test_a_run_failed_with_a_revoked_grant_needs_reauthorization(service: Any) -> None:
    ds_id, run_id, grant = await connected_with_run(service, division=803)
    failed = c.RunFailed.create(datasource_id=ds_id, payload=c.RunFailedPayload(
        run_id=run_id, kind="initial", reason_code="grant_revoked",
        reason="The connection to Exact Online was withdrawn", retryable=True))
    await service.send(c.RUN_EVENTS, failed)
    event = await service.one(c.DATASOURCE_EVENTS, ds_id, c.DataSourceNeedsReauthorization)
    assert event.payload.grant_id == grant and event.payload.division == 803
    detail = await service.until_datasource(ds_id, lambda d: d["state"] == "needs_reauthorization")
    assert detail["run_status"] == "failed"
    assert detail["last_run"]["error"]["reason_code"] == "grant_revoked"
    assert "withdrawn" in detail["last_failure_reason"]


async def test_read_api_answers_404_for_unknown_ids_and_validates_queries(service: Any) -> None:
    assert (await service.client.get(f"/datasources/{uuid.uuid4()}")).status_code == 404
    assert (await service.client.get(f"/runs/{uuid.uuid4()}")).status_code == 404
    assert (await service.client.get("/datasources/not-a-uuid")).status_code == 422
    assert (await service.client.get("/datasources", params={"state": "bogus"})).status_code == 422
    assert await service.get("/datasources", company_domain_id=str(uuid.uuid4())) == []


async def test_a_run_that_waits_for_a_token_shows_waiting_and_until_when(service: Any) -> None:
    from datetime import UTC, datetime

    ds_id, run_id, _ = await connected_with_run(service, division=806)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=9)
    waiting = c.RunProgress.create(datasource_id=ds_id, payload=c.RunProgressPayload(
        run_id=run_id, kind="initial", calls_used=3, entities=(),
        waiting_until=until, waiting_reason="Exact Online allows a new access token later"))
    await service.send(c.RUN_EVENTS, waiting)
    detail = await service.until_datasource(ds_id, lambda d: d["run_status"] == "waiting")
    last = detail["last_run"]
    assert last["status"] == "waiting"
    assert datetime.fromisoformat(last["waiting_until"].replace("Z", "+00:00")) == until
    assert "access token" in last["waiting_reason"]
    await service.send(c.RUN_EVENTS, progress(ds_id, run_id, 1000))  # resumed
    detail = await service.until_datasource(ds_id, lambda d: d["run_status"] == "running")
    assert detail["last_run"]["waiting_until"] is None
