"""``connector run RUN_ID`` shows a run and its plan as ingest's read API answers it (the CLI's
``api.run`` answered by a mock transport), the plan's one-line summary, and ``connector status``
showing the plan datasource's read API keeps for a data source's unfinished run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import typer
from pydantic import SecretStr
from rich.console import Console
from typer.testing import CliRunner

from connector_cli import run_plan, status
from connector_cli.settings import CliSettings
from datasource import views
from datasource.domain import Binding, DataSource, PlannedEntity, Run, RunPlan, State

RUN_ID = uuid.uuid4()
NOW = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
PLAN = {
    "entities": [{"entity": "TransactionLines", "estimated_rows": 1_000_000, "calls": 1_000,
                  "day": 0},
                 {"entity": "ReportingBalance", "estimated_rows": 800_040, "calls": 13_334,
                  "day": 3}],
    "calls": 14_334, "days": 3, "eta_seconds": 265_534.0,
    "finishes_at": "2026-03-05T23:45:34+00:00", "daily_limit": 5_000,
    "daily_budget_remaining": 1_200, "lower_bound": False,
}


def answer(request: httpx.Request) -> httpx.Response:
    assert request.headers["Authorization"] == "Bearer ops-token"
    if request.url.path != f"/runs/{RUN_ID}":
        return httpx.Response(404, json={"detail": "unknown run"})
    return httpx.Response(200, json={
        "run_id": str(RUN_ID), "kind": "initial", "status": "pending", "calls_used": 0,
        "waiting_reason": None, "plan": PLAN})


def test_the_summary_says_the_calls_the_budget_days_and_the_end() -> None:
    line = run_plan.summary(PLAN, NOW)
    assert line == ("plan: 14,334 calls, ends after 3 daily resets, by 2026-03-05 23:45 UTC "
                    "(in 3.1 days); 1,200 of 5,000 calls left today")
    short = {**PLAN, "days": 0, "finishes_at": "2026-03-02T22:20:00+00:00", "lower_bound": True,
             "daily_budget_remaining": None}
    assert run_plan.summary(short, NOW) == (
        "plan: at least 14,334 calls, ends today, at least by 2026-03-02 22:20 UTC (in 20 min)")


def test_connector_run_shows_the_plan_of_a_run_before_it_starts() -> None:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a group, so ``run`` is a sub-command
    settings = CliSettings.model_construct(ingest_api_url="http://ingest",
                                           datasource_api_token=SecretStr("ops-token"))
    run_plan.register(app, lambda: settings, transport=httpx.MockTransport(answer))
    done = CliRunner().invoke(app, ["run", str(RUN_ID)])
    assert done.exit_code == 0, done.output
    assert f"run {RUN_ID} (initial) pending: 0 calls used" in done.output
    assert "14,334 calls, ends after 3 daily resets" in done.output
    assert "ReportingBalance" in done.output and "13,334" in done.output
    missing = CliRunner().invoke(app, ["run", str(uuid.uuid4())])
    assert missing.exit_code == 1 and "answered 404" in missing.output


def test_connector_run_says_when_ingest_does_not_answer() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app = typer.Typer()
    app.command("noop")(lambda: None)
    settings = CliSettings.model_construct(ingest_api_url="http://ingest",
                                           datasource_api_token=SecretStr("ops-token"))
    run_plan.register(app, lambda: settings, transport=httpx.MockTransport(refuse))
    done = CliRunner().invoke(app, ["run", str(RUN_ID)])
    assert done.exit_code == 2 and "did not answer: ConnectError" in done.output



def test_connector_status_shows_the_plan_of_a_data_sources_unfinished_run() -> None:
    ds = DataSource(id=uuid.uuid4(), company_domain_id=uuid.uuid4(), state=State.CONNECTED,
                    authorization_mode="share", requested_by="anna", created_at=NOW,
                    updated_at=NOW, binding=Binding(4711, "De Vries BV", uuid.uuid4(), "Jan", NOW))
    run = Run.requested(run_id=RUN_ID, datasource_id=ds.id, kind="initial", division=4711,
                        grant_id=uuid.uuid4(), entities=("TransactionLines",), now=NOW)
    run.started(NOW, division=4711, entities=(), resumed=False, plan=RunPlan(
        at=NOW, calls=14_334, days=3, eta_seconds=265_534.0,
        finishes_at=datetime(2026, 3, 5, 23, 45, 34, tzinfo=UTC), daily_limit=5_000,
        daily_budget_remaining=1_200, lower_bound=True,
        entities=(PlannedEntity("TransactionLines", 14_334, 3, None),)))
    answer = views.summary_view(ds, "Bakkerij de Vries", run).model_dump(mode="json")
    row = status._source_row(answer)  # as ``status`` reads the read API's answer
    data = {"at": NOW.isoformat(), "datasources": [row], "consumer_lag": [],
            "dead_letters": [], "exact_budget_today": [], "grants_expiring": [], "errors": {}}
    console = Console(record=True, width=200)
    status.render(data, console)
    out = console.export_text()
    assert "at least 14,334 calls, ETA at least 3.1 days" in out, out

    run.completed(NOW, totals=[("TransactionLines", 10, 1)], batches=1, calls_used=14_000,
                  duration_seconds=1.0)
    done = status._source_row(views.summary_view(ds, "Bakkerij de Vries", run)
                              .model_dump(mode="json"))
    assert done["last_run"]["plan"] is None  # a finished run's plan is history
