"""Mapping between table rows and domain objects (both directions)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from datasource.domain import (
    AuthorizationFailure,
    AuthorizationLink,
    BalanceDifference,
    Binding,
    Budget,
    CompanyDomain,
    DataSource,
    EntityProgress,
    ExpectedCompany,
    PendingAuthorization,
    PlannedEntity,
    Reauthorization,
    RecreateRejection,
    Run,
    RunFailure,
    RunPlan,
    RunStatus,
    State,
    TrialBalance,
)
from datasource.domain import events as ev

Row = Mapping[Any, Any]


def domain_from_row(row: Row) -> CompanyDomain:
    return CompanyDomain(row["id"], row["name"], row["created_by"], row["created_at"])


def domain_values(domain: CompanyDomain) -> dict[str, Any]:
    return {"id": domain.id, "name": domain.name, "created_by": domain.created_by,
            "created_at": domain.created_at}


def datasource_from_row(row: Row) -> DataSource:
    return DataSource(
        id=row["id"],
        company_domain_id=row["company_domain_id"],
        state=State(row["state"]),
        authorization_mode=cast(ev.Mode, row["authorization_mode"]),
        requested_by=row["requested_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        binding=_binding(row),
        pending=_pending(row),
        last_failure=_failure(row),
        last_rejection=_rejection(row),
        reauthorization=_reauthorization(row),
    )


def datasource_values(ds: DataSource) -> dict[str, Any]:
    b, p, f, r, a = ds.binding, ds.pending, ds.last_failure, ds.last_rejection, ds.reauthorization
    link = p.link if p else None
    return {
        "id": ds.id,
        "company_domain_id": ds.company_domain_id,
        "state": ds.state.value,
        "authorization_mode": ds.authorization_mode,
        "requested_by": ds.requested_by,
        "created_at": ds.created_at,
        "updated_at": ds.updated_at,
        "division": b.division if b else None,
        "division_name": b.division_name if b else None,
        "grant_id": b.grant_id if b else None,
        "authorized_by": b.authorized_by if b else None,
        "connected_at": b.connected_at if b else None,
        "vat_number": b.vat_number if b else None,
        "company_verified": b.verified if b else None,
        "pending_authorization_id": p.authorization_id if p else None,
        "pending_purpose": p.purpose if p else None,
        "pending_mode": p.mode if p else None,
        "pending_requested_by": p.requested_by if p else None,
        "pending_requested_at": p.requested_at if p else None,
        "pending_resume_state": p.resume_state.value if p else None,
        "pending_expected_division": p.expected.division if p and p.expected else None,
        "pending_expected_vat_number": p.expected.vat_number if p and p.expected else None,
        "link_fetch_url": link.fetch_url if link else None,
        "link_expires_at": link.expires_at if link else None,
        "link_issued_at": link.issued_at if link else None,
        "failure_authorization_id": f.authorization_id if f else None,
        "failure_purpose": f.purpose if f else None,
        "failure_code": f.code if f else None,
        "failure_reason": f.reason if f else None,
        "failure_offered_division": f.offered_division if f else None,
        "failure_at": f.at if f else None,
        "rejection_authorization_id": r.authorization_id if r else None,
        "rejection_offered_division": r.offered_division if r else None,
        "rejection_offered_division_name": r.offered_division_name if r else None,
        "rejection_offered_grant_id": r.offered_grant_id if r else None,
        "rejection_reason": r.reason if r else None,
        "rejection_at": r.at if r else None,
        "reauthorization_grant_id": a.grant_id if a else None,
        "reauthorization_reason": a.reason if a else None,
        "reauthorization_at": a.at if a else None,
    }


def run_from_row(row: Row) -> Run:
    budget = None
    if row["calls_used"] is not None:
        budget = Budget(row["calls_used"], row["daily_budget_remaining"],
                        row["minutely_budget_remaining"], row["eta_seconds"],
                        row["waiting_until"], row["waiting_reason"])
    failure = None
    if row["failure_code"] is not None:
        failure = RunFailure(row["failure_code"], row["failure_reason"], bool(row["failure_retryable"]))
    return Run(
        run_id=row["run_id"], datasource_id=row["datasource_id"], kind=row["kind"],
        status=RunStatus(row["status"]), requested_at=row["requested_at"],
        entities=tuple(row["entities"]), division=row["division"], grant_id=row["grant_id"],
        date_from=row["date_from"], date_to=row["date_to"], started_at=row["started_at"],
        finished_at=row["finished_at"], last_event_at=row["last_event_at"],
        progress={p["entity"]: EntityProgress(p["entity"], p["rows"], p["pages"], p["done"],
                                              p.get("failure"),
                                              tuple(p.get("dropped_fields", ())))
                  for p in row["progress"]},
        progress_at=row["progress_at"], budget=budget, batches=row["batches"],
        duration_seconds=row["duration_seconds"], failure=failure, resumed=row["resumed"],
        resumed_at=row["resumed_at"], trial_balance=_trial_balance(row["trial_balance"]),
        plan=_plan(row["plan"]),
    )


def run_values(run: Run) -> dict[str, Any]:
    b, f = run.budget, run.failure
    return {
        "run_id": run.run_id, "datasource_id": run.datasource_id, "kind": run.kind,
        "status": run.status.value, "requested_at": run.requested_at,
        "entities": list(run.entities), "division": run.division, "grant_id": run.grant_id,
        "date_from": run.date_from, "date_to": run.date_to, "started_at": run.started_at,
        "finished_at": run.finished_at, "last_event_at": run.last_event_at,
        "progress": [{"entity": p.entity, "rows": p.rows, "pages": p.pages, "done": p.done,
                      "failure": p.failure, "dropped_fields": list(p.dropped_fields)}
                     for p in run.progress.values()],
        "progress_at": run.progress_at,
        "calls_used": b.calls_used if b else None,
        "daily_budget_remaining": b.daily_remaining if b else None,
        "minutely_budget_remaining": b.minutely_remaining if b else None,
        "eta_seconds": b.eta_seconds if b else None,
        "waiting_until": b.waiting_until if b else None,
        "waiting_reason": b.waiting_reason if b else None,
        "batches": run.batches, "duration_seconds": run.duration_seconds,
        "failure_code": f.code if f else None, "failure_reason": f.reason if f else None,
        "failure_retryable": f.retryable if f else None,
        "resumed": run.resumed, "resumed_at": run.resumed_at,
        "trial_balance": _trial_balance_values(run.trial_balance),
        "plan": _plan_values(run.plan),
    }


def _plan_values(p: RunPlan | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"at": p.at.isoformat(), "calls": p.calls, "days": p.days,
            "eta_seconds": p.eta_seconds, "finishes_at": p.finishes_at.isoformat(),
            "daily_limit": p.daily_limit, "daily_budget_remaining": p.daily_budget_remaining,
            "lower_bound": p.lower_bound,
            "entities": [{"entity": e.entity, "calls": e.calls, "day": e.day,
                          "estimated_rows": e.estimated_rows} for e in p.entities]}


def _plan(raw: dict[str, Any] | None) -> RunPlan | None:
    if raw is None:
        return None
    return RunPlan(
        at=datetime.fromisoformat(raw["at"]), calls=raw["calls"], days=raw["days"],
        eta_seconds=raw["eta_seconds"], finishes_at=datetime.fromisoformat(raw["finishes_at"]),
        daily_limit=raw["daily_limit"], daily_budget_remaining=raw["daily_budget_remaining"],
        lower_bound=raw["lower_bound"],
        entities=tuple(PlannedEntity(e["entity"], e["calls"], e["day"], e["estimated_rows"])
                       for e in raw["entities"]))


def _trial_balance_values(t: TrialBalance | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"at": t.at.isoformat(), "checked": t.checked, "reason": t.reason, "basis": t.basis,
            "opening_balance_period": t.opening_balance_period,
            "keys_compared": t.keys_compared, "keys_matching": t.keys_matching,
            "total_abs_difference": str(t.total_abs_difference), "tolerance": str(t.tolerance),
            "years_reread": list(t.years_reread),
            "largest_differences": [
                {"reporting_year": d.reporting_year, "reporting_period": d.reporting_period,
                 "gl_account_code": d.gl_account_code, "ledger_amount": str(d.ledger_amount),
                 "exact_amount": str(d.exact_amount)} for d in t.largest_differences]}


def _trial_balance(raw: dict[str, Any] | None) -> TrialBalance | None:
    if raw is None:
        return None
    return TrialBalance(
        at=datetime.fromisoformat(raw["at"]), checked=raw["checked"], reason=raw["reason"],
        basis=raw["basis"], opening_balance_period=raw["opening_balance_period"],
        keys_compared=raw["keys_compared"], keys_matching=raw["keys_matching"],
        total_abs_difference=Decimal(raw["total_abs_difference"]),
        tolerance=Decimal(raw["tolerance"]), years_reread=tuple(raw["years_reread"]),
        largest_differences=tuple(
            BalanceDifference(d["reporting_year"], d["reporting_period"], d["gl_account_code"],
                              Decimal(d["ledger_amount"]), Decimal(d["exact_amount"]))
            for d in raw["largest_differences"]))


def _binding(row: Row) -> Binding | None:
    if row["division"] is None:
        return None
    return Binding(row["division"], row["division_name"], row["grant_id"], row["authorized_by"],
                   row["connected_at"], row["vat_number"], bool(row["company_verified"]))


def _pending(row: Row) -> PendingAuthorization | None:
    if row["pending_authorization_id"] is None:
        return None
    link = None
    if row["link_fetch_url"] is not None:
        link = AuthorizationLink(row["link_fetch_url"], row["link_expires_at"], row["link_issued_at"])
    return PendingAuthorization(
        row["pending_authorization_id"], cast(ev.Purpose, row["pending_purpose"]),
        cast(ev.Mode, row["pending_mode"]), row["pending_requested_by"],
        row["pending_requested_at"], State(row["pending_resume_state"]), link,
        None if row["pending_expected_division"] is None
        and row["pending_expected_vat_number"] is None
        else ExpectedCompany(row["pending_expected_division"], row["pending_expected_vat_number"]),
    )


def _failure(row: Row) -> AuthorizationFailure | None:
    if row["failure_code"] is None:
        return None
    return AuthorizationFailure(row["failure_authorization_id"], cast(ev.Purpose, row["failure_purpose"]),
                                row["failure_code"], row["failure_reason"], row["failure_at"],
                                row["failure_offered_division"])


def _rejection(row: Row) -> RecreateRejection | None:
    if row["rejection_reason"] is None:
        return None
    return RecreateRejection(row["rejection_authorization_id"], row["rejection_offered_division"],
                             row["rejection_offered_division_name"], row["rejection_offered_grant_id"],
                             row["rejection_reason"], row["rejection_at"])


def _reauthorization(row: Row) -> Reauthorization | None:
    if row["reauthorization_reason"] is None:
        return None
    return Reauthorization(row["reauthorization_grant_id"], row["reauthorization_reason"],
                           row["reauthorization_at"])
