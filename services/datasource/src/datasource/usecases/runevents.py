"""Ingest's run events applied to runs (part of the run-event use case).

A run datasource did not request (ingest's own scheduled runs) is recorded when
first seen. ``RunFailed`` with ``grant_revoked`` also tells the data source that its
grant is dead, as auth's ``GrantRevoked`` does; whichever comes first moves it to
``needs_reauthorization``, the other is a no-op.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import contracts as c
from datasource.domain import (
    BalanceDifference,
    Budget,
    PlannedEntity,
    Run,
    RunPlan,
    TrialBalance,
)
from datasource.domain.errors import NotCurrentGrant, UnknownSubject
from datasource.domain.events import Event
from datasource.ports import UnitOfWork

RunEvent: TypeAlias = (c.RunStarted | c.RunProgress | c.RunCompleted | c.RunFailed
                       | c.TrialBalanceChecked)


async def apply_run_event(event: RunEvent, uow: UnitOfWork, now: datetime) -> list[Event]:
    p = event.payload
    at = event.occurred_at
    run = await uow.runs.get(p.run_id)
    is_new = run is None
    if run is None:
        if await uow.datasources.get(event.datasource_id) is None:
            raise UnknownSubject(f"run {p.run_id} of unknown data source {event.datasource_id}")
        run = Run.observed(run_id=p.run_id, datasource_id=event.datasource_id, kind=p.kind, at=at)
    match event:
        case c.RunStarted():
            run.started(at, division=event.payload.division,
                        entities=[e.value for e in event.payload.entities],
                        resumed=event.payload.resumed, plan=run_plan(at, event.payload.plan))
        case c.RunProgress():
            q = event.payload
            run.progressed(at, [(e.entity.value, e.rows, e.pages, e.done) for e in q.entities],
                           Budget(q.calls_used, q.daily_budget_remaining,
                                  q.minutely_budget_remaining, q.eta_seconds,
                                  q.waiting_until, q.waiting_reason))
        case c.RunCompleted():
            q2 = event.payload
            if run.division is None:
                run.division = q2.division
            run.completed(at, totals=[(t.entity.value, t.rows, t.pages) for t in q2.totals],
                          batches=q2.batches, calls_used=q2.calls_used,
                          duration_seconds=q2.duration_seconds,
                          failed=[(str(f.entity), f"{f.reason_code}: {f.reason}")
                                  for f in q2.failed_entities],
                          dropped=[(d.entity.value, d.field) for d in q2.dropped_fields])
        case c.RunFailed():
            q3 = event.payload
            run.failed(at, code=q3.reason_code, reason=q3.reason, retryable=q3.retryable)
        case c.TrialBalanceChecked():
            run.trial_balance_checked(trial_balance(at, event.payload))
    if is_new:
        await uow.runs.add(run)
    else:
        await uow.runs.update(run)
    if isinstance(event, c.RunFailed) and event.payload.reason_code == "grant_revoked":
        return await _grant_dead(run, event.payload.reason, now, uow)
    return []


async def _grant_dead(run: Run, reason: str, now: datetime, uow: UnitOfWork) -> list[Event]:
    ds = await uow.datasources.get(run.datasource_id)
    if ds is None or ds.binding is None:
        return []
    grant_id = run.grant_id or ds.binding.grant_id
    try:
        ds.grant_revoked(grant_id, reason=f"A data run failed: {reason}", now=now)
    except NotCurrentGrant:
        return []
    await uow.datasources.update(ds)
    return list(ds.events)


def trial_balance(at: datetime, p: c.TrialBalanceCheckedPayload) -> TrialBalance:
    return TrialBalance(
        at=at, checked=p.checked, reason=p.reason, basis=p.basis,
        opening_balance_period=p.opening_balance_period, keys_compared=p.keys_compared,
        keys_matching=p.keys_matching, total_abs_difference=p.total_abs_difference,
        tolerance=p.tolerance, years_reread=p.years_reread,
        largest_differences=tuple(
            BalanceDifference(d.reporting_year, d.reporting_period, d.gl_account_code,
                              d.ledger_amount, d.exact_amount) for d in p.largest_differences))


def run_plan(at: datetime, p: c.RunPlan | None) -> RunPlan | None:
    if p is None:
        return None  # a producer before contracts version 3
    return RunPlan(
        at=at, calls=p.calls, days=p.days, eta_seconds=p.eta_seconds, finishes_at=p.finishes_at,
        daily_limit=p.daily_limit, daily_budget_remaining=p.daily_budget_remaining,
        lower_bound=p.lower_bound,
        entities=tuple(PlannedEntity(e.entity.value, e.calls, e.day, e.estimated_rows)
                       for e in p.entities))
