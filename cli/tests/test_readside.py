"""``connector domains | list | show`` render what datasource's read API answers (the answers
are built by the service's own views; HTTP answered by a mock transport)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import typer
from typer.testing import CliRunner

from connector_cli import readside
from connector_cli.settings import CliSettings
from datasource import views
from datasource.domain import Binding, CompanyDomain, DataSource, Run, State

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DOMAIN = CompanyDomain(uuid.uuid4(), "Bakkerij de Vries", "anna", T0)
DS = DataSource(id=uuid.uuid4(), company_domain_id=DOMAIN.id, state=State.CONNECTED, authorization_mode="share",
                requested_by="anna", created_at=T0, updated_at=T0,
                binding=Binding(4711, "De Vries BV", uuid.uuid4(), "Jan Admin", T0))
RUN = Run.requested(run_id=uuid.uuid4(), datasource_id=DS.id, kind="initial", division=4711,
                    grant_id=uuid.uuid4(), entities=("GLAccounts",), now=T0)


def answer(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/company-domains":
        body: object = [views.domain_view(DOMAIN, 1).model_dump(mode="json")]
    elif path == "/datasources":
        assert request.url.params.get("state") == "connected"
        body = [views.summary_view(DS, DOMAIN.name, RUN).model_dump(mode="json")]
    elif path == f"/datasources/{DS.id}":
        body = views.datasource_view(DS, DOMAIN.name, [RUN]).model_dump(mode="json")
    else:
        return httpx.Response(404, json={"detail": f"no data source {path.rsplit('/', 1)[-1]}"})
    return httpx.Response(200, json=body)


def run(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    readside.register(app, CliSettings, httpx.MockTransport(answer))
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_domains_lists_each_domain_with_its_data_source_count() -> None:
    code, out = run("domains")
    assert code == 0 and "Bakkerij de Vries" in out and str(DOMAIN.id) in out


def test_list_shows_state_division_and_run_status() -> None:
    code, out = run("list", "--state", "connected")
    assert code == 0
    assert "connected" in out and "4711 De Vries BV" in out and "initial_run_pending" in out


def test_show_prints_the_data_source_and_its_runs_or_json() -> None:
    code, out = run("show", str(DS.id))
    assert code == 0 and str(RUN.run_id) in out and "Jan Admin" in out
    code, out = run("show", str(DS.id), "--json")
    assert code == 0 and json.loads(out)["division"] == 4711


def test_an_unknown_data_source_exits_with_1_and_says_so() -> None:
    code, out = run("show", str(uuid.uuid4()))
    assert code == 1 and "no data source" in out


def test_a_waiting_run_is_shown_with_until_when_and_why() -> None:
    from connector_cli.readside import _run_status

    waiting = {"run_status": "waiting", "last_run": {
        "waiting_until": "2026-01-05T09:09:00Z", "waiting_reason": "no new token yet"}}
    assert _run_status(waiting) == "waiting until 2026-01-05T09:09:00Z: no new token yet"
    assert _run_status({"run_status": None, "last_run": None}) == "-"
