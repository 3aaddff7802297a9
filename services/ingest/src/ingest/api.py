"""Read-only HTTP views for operators: ``GET /runs/{run_id}`` and
``GET /datasources/{datasource_id}/webhooks`` (the data source's webhook subscriptions).

A run not finished yet shows its plan as of now (:mod:`ingest.usecases.planning`: what is
left, its calls and the ETA on the company's budget; no call to Exact): before it starts,
the whole run.

Callers need a bearer token with the scope ``runs`` (``INGEST_API_CLIENTS``)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from connector_runtime.access import require
from ingest.domain.model import Run
from ingest.domain.plan import RunPlan
from ingest.usecases.planning import wire_plan


def runs_router(load: Callable[[uuid.UUID], Awaitable[Run | None]],
                plan: Callable[[Run], Awaitable[RunPlan]] | None = None) -> APIRouter:
    router = APIRouter(dependencies=[Depends(require("runs"))])

    @router.get("/runs/{run_id}")
    async def get_run(run_id: uuid.UUID) -> dict[str, Any]:
        run = await load(run_id)
        if run is None:
            raise HTTPException(status_code=404, detail="unknown run")
        planned = None
        if plan is not None and not run.status.finished:
            planned = wire_plan(await plan(run)).model_dump(mode="json")
        return {
            "run_id": str(run.run_id), "datasource_id": str(run.datasource_id),
            "kind": run.kind, "division": run.division, "status": run.status.value,
            "calls_used": run.calls_used, "batches": run.batches,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "waiting_reason": run.waiting_reason,
            "error": {"code": run.error_code, "reason": run.error_reason} if run.error_code else None,
            "entities": [
                {"entity": cp.entity, "rows": cp.rows, "pages": cp.pages, "done": cp.done,
                 "next_batch_seq": cp.next_batch_seq, "id_hash": cp.id_hash_hex,
                 "amount_sum": str(cp.amount_sum) if cp.amount_sum is not None else None,
                 "failed": {"code": cp.failed_code, "reason": cp.failed_reason}
                 if cp.failed else None,
                 "dropped_fields": list(cp.dropped_fields)}
                for cp in run.ordered
            ],
            "plan": planned,
        }

    return router


def webhooks_router(load: Callable[[uuid.UUID], Awaitable[list[dict[str, Any]]]],
                    listening: Callable[[], bool]) -> APIRouter:
    router = APIRouter(dependencies=[Depends(require("runs"))])

    @router.get("/datasources/{datasource_id}/webhooks")
    async def get_webhooks(datasource_id: uuid.UUID) -> dict[str, Any]:
        return {"datasource_id": str(datasource_id), "listener": listening(),
                "subscriptions": await load(datasource_id)}

    return router
