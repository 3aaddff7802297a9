"""The operators' read API: a run's view carries its plan while the run is not finished."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

import contracts as c
from connector_runtime.access import ApiClient, token_sha256
from ingest.api import runs_router
from ingest.domain.model import Run, RunStatus
from ingest.usecases.planning import RunPlanner

TOKEN = "api-test-token"


async def view(run: Run, clock: Any) -> dict[str, Any]:
    async def load(run_id: uuid.UUID) -> Run | None:
        return run if run_id == run.run_id else None

    async def known_rows(datasource_id: uuid.UUID) -> dict[str, int]:
        return {"TransactionLines": 250_000}

    app = FastAPI()
    app.state.api_clients = (ApiClient(name="ops", token_sha256=token_sha256(TOKEN),
                                       scopes=("runs",)),)
    app.include_router(runs_router(load, RunPlanner(clock, known_rows=known_rows).plan))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        answer = await client.get(f"/runs/{run.run_id}")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


async def test_a_pending_run_shows_its_plan_before_it_starts(make_run: Any, clock: Any) -> None:
    run = make_run((c.Entity.DIVISIONS, c.Entity.TRANSACTION_LINES))
    plan = (await view(run, clock))["plan"]
    assert [(p["entity"], p["estimated_rows"], p["calls"]) for p in plan["entities"]] == [
        ("Divisions", None, 1), ("TransactionLines", 250_000, 250)]
    assert (plan["calls"], plan["days"], plan["lower_bound"]) == (251, 0, True)


async def test_a_finished_run_has_no_plan(make_run: Any, clock: Any) -> None:
    run = make_run((c.Entity.DIVISIONS,), status=RunStatus.COMPLETED)
    assert (await view(run, clock))["plan"] is None
