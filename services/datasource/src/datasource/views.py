"""Response models of the read API, and how they are built from domain objects.

Size: one response model per resource of the read API and the functions that build them from
domain objects, mostly field declarations; they change together with the read API.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from datasource.domain import (
    CompanyDomain,
    DataSource,
    LastSync,
    Run,
    RunPlan,
    TrialBalance,
    datasource_run_status,
    newest_by_role,
)

RunStatusName = Literal["initial_run_pending", "run_pending", "running", "waiting", "completed",
                        "completed_with_errors", "failed"]
RunOutcomeName = Literal["pending", "running", "waiting", "completed", "completed_with_errors",
                         "failed"]


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class CompanyDomainView(View):
    id: UUID
    name: str
    created_by: str
    created_at: datetime
    datasource_count: int


class PendingAuthorizationView(View):
    authorization_id: UUID
    purpose: Literal["create", "recreate"]
    mode: Literal["self", "share"]
    requested_by: str
    requested_at: datetime
    link_issued_at: datetime | None = Field(description="When auth reported the link ready.")
    link_expires_at: datetime | None
    link_fetch_url: str | None = Field(
        description="Auth's internal endpoint that serves the link (never the link itself)."
    )


class AuthorizationFailureView(View):
    authorization_id: UUID
    purpose: Literal["create", "recreate"]
    reason_code: str
    reason: str
    offered_division: int | None
    at: datetime


class RecreateRejectionView(View):
    authorization_id: UUID
    offered_division: int
    offered_division_name: str
    offered_grant_id: UUID
    reason: str
    at: datetime


class ReauthorizationView(View):
    grant_id: UUID
    reason: str
    at: datetime


class EntityProgressView(View):
    entity: str
    rows: int
    pages: int
    done: bool
    failure: str | None = Field(
        default=None, description="Why the entity could not be imported in this run (the next "
        "sync and any re-import try it again); None when it was imported.")
    dropped_fields: list[str] = Field(
        default_factory=list, description="Fields Exact no longer knows on the entity's "
        "endpoint: imported without them (null).")


class RunErrorView(View):
    reason_code: str
    reason: str
    retryable: bool


class BalanceDifferenceView(View):
    reporting_year: int
    reporting_period: int
    gl_account_code: str
    ledger_amount: Decimal = Field(description="Sum of AmountDC of the lines streamed.")
    exact_amount: Decimal = Field(description="Sum of Amount of Exact's ReportingBalance.")
    difference: Decimal = Field(description="exact_amount - ledger_amount")


class TrialBalanceView(View):
    checked_at: datetime
    checked: bool = Field(description="False: the check could not be made (see ``reason``).")
    reason: str | None
    basis: str = Field(description="processed (Status 50) or after_entry (20 and 50).")
    opening_balance_period: str
    keys_compared: int = Field(description="(reporting year, period, G/L account) keys.")
    keys_matching: int
    keys_matching_percent: float | None
    total_abs_difference: Decimal
    tolerance: Decimal
    largest_differences: list[BalanceDifferenceView]
    years_reread: list[int]


class PlannedEntityView(View):
    entity: str
    estimated_rows: int | None = Field(
        description="Rows still to read; null when nothing told beforehand (one call counted).")
    calls: int
    day: int = Field(description="Budget day (0 = the day the run starts) of its last call.")


class RunPlanView(View):
    planned_at: datetime = Field(description="When ingest made the plan (the run's start).")
    entities: list[PlannedEntityView] = Field(description="In import order.")
    calls: int
    days: int = Field(description="Daily budget resets the run waits for (0: ends that day).")
    eta_seconds: float
    finishes_at: datetime
    daily_limit: int
    daily_budget_remaining: int | None
    lower_bound: bool = Field(
        description="Some entity's rows were not known: at least ``calls``, ending no sooner "
        "than ``finishes_at``.")


class RunView(View):
    run_id: UUID
    datasource_id: UUID
    kind: str
    status: RunOutcomeName = Field(
        description="``waiting``: running, but nothing can be done until ``waiting_until`` "
        "(a rate budget is spent, or Exact allows no new access token yet). "
        "``completed_with_errors``: some entities could not be imported (see "
        "``progress[].failure``).")
    division: int | None
    entities: list[str]
    date_from: date | None
    date_to: date | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    last_event_at: datetime | None
    progress: list[EntityProgressView]
    rows: int = Field(description="Rows so far, all entities together.")
    calls_used: int | None
    daily_budget_remaining: int | None
    minutely_budget_remaining: int | None
    eta_seconds: float | None
    waiting_until: datetime | None = Field(
        default=None, description="While the run waits: when it is tried again (UTC).")
    waiting_reason: str | None = None
    batches: int | None
    duration_seconds: float | None
    resumed: int
    error: RunErrorView | None
    trial_balance: TrialBalanceView | None = Field(
        default=None, description="The ledger streamed against Exact's ReportingBalance, "
        "checked when the run completed (differences never fail a run).")
    plan: RunPlanView | None = Field(
        default=None, description="Ingest's plan, made before the run's first call (the "
        "latest start's, for a resumed run); null from ingest before contracts version 3.")


class LastSyncView(View):
    run_id: UUID
    status: RunOutcomeName
    at: datetime = Field(description="When the sync finished (while running: last heard of).")
    error: RunErrorView | None


class DataSourceSummaryView(View):
    id: UUID
    provider: Literal["exact_online"] = "exact_online"
    company_domain_id: UUID
    company_domain_name: str
    state: str
    authorization_mode: Literal["self", "share"]
    requested_by: str
    division: int | None
    division_name: str | None
    grant_id: UUID | None
    run_status: RunStatusName | None = Field(
        description="Of the initial run and re-imports only (never of scheduled syncs).")
    last_run: RunView | None = Field(description="The newest initial run or re-import.")
    last_sync: LastSyncView | None = Field(
        description="The newest scheduled (incremental) sync; its runs are in ``runs`` too.")
    last_failure_reason: str | None = Field(
        description="The most recent problem: authorization failure, recreate rejection, "
        "revoked grant or failed run."
    )
    created_at: datetime
    updated_at: datetime


class DataSourceView(DataSourceSummaryView):
    authorized_by: str | None
    connected_at: datetime | None
    vat_number: str | None = None
    company_verified: bool | None = None
    """False: nobody named the company in advance; show who connected which company."""
    pending_authorization: PendingAuthorizationView | None
    last_authorization_failure: AuthorizationFailureView | None
    last_recreate_rejection: RecreateRejectionView | None
    reauthorization: ReauthorizationView | None
    runs: list[RunView] = Field(description="Newest first.")


def domain_view(domain: CompanyDomain, datasource_count: int) -> CompanyDomainView:
    return CompanyDomainView(id=domain.id, name=domain.name, created_by=domain.created_by,
                             created_at=domain.created_at, datasource_count=datasource_count)


def run_view(run: Run) -> RunView:
    b, f = run.budget, run.failure
    progress = [EntityProgressView(entity=p.entity, rows=p.rows, pages=p.pages, done=p.done,
                                   failure=p.failure, dropped_fields=list(p.dropped_fields))
                for p in run.progress.values()]
    return RunView(
        run_id=run.run_id, datasource_id=run.datasource_id, kind=run.kind,
        status=run.shown_status,
        division=run.division, entities=list(run.entities), date_from=run.date_from,
        date_to=run.date_to, requested_at=run.requested_at, started_at=run.started_at,
        finished_at=run.finished_at, last_event_at=run.last_event_at, progress=progress,
        rows=sum(p.rows for p in progress),
        calls_used=b.calls_used if b else None,
        daily_budget_remaining=b.daily_remaining if b else None,
        minutely_budget_remaining=b.minutely_remaining if b else None,
        eta_seconds=b.eta_seconds if b else None,
        waiting_until=b.waiting_until if b and run.waiting else None,
        waiting_reason=b.waiting_reason if b and run.waiting else None, batches=run.batches,
        duration_seconds=run.duration_seconds, resumed=run.resumed,
        error=RunErrorView(reason_code=f.code, reason=f.reason, retryable=f.retryable) if f else None,
        trial_balance=trial_balance_view(run.trial_balance), plan=plan_view(run.plan),
    )


def plan_view(p: RunPlan | None) -> RunPlanView | None:
    if p is None:
        return None
    return RunPlanView(
        planned_at=p.at, calls=p.calls, days=p.days, eta_seconds=p.eta_seconds,
        finishes_at=p.finishes_at, daily_limit=p.daily_limit,
        daily_budget_remaining=p.daily_budget_remaining, lower_bound=p.lower_bound,
        entities=[PlannedEntityView(entity=e.entity, estimated_rows=e.estimated_rows,
                                    calls=e.calls, day=e.day) for e in p.entities])


def trial_balance_view(t: TrialBalance | None) -> TrialBalanceView | None:
    if t is None:
        return None
    return TrialBalanceView(
        checked_at=t.at, checked=t.checked, reason=t.reason, basis=t.basis,
        opening_balance_period=t.opening_balance_period, keys_compared=t.keys_compared,
        keys_matching=t.keys_matching,
        keys_matching_percent=round(100 * t.keys_matching / t.keys_compared, 2)
        if t.keys_compared else None,
        total_abs_difference=t.total_abs_difference, tolerance=t.tolerance,
        years_reread=list(t.years_reread),
        largest_differences=[BalanceDifferenceView(
            reporting_year=d.reporting_year, reporting_period=d.reporting_period,
            gl_account_code=d.gl_account_code, ledger_amount=d.ledger_amount,
            exact_amount=d.exact_amount, difference=d.difference)
            for d in t.largest_differences])


def summary_view(ds: DataSource, domain_name: str, last_run: Run | None,
                 last_sync: Run | None = None) -> DataSourceSummaryView:
    return DataSourceSummaryView(**_summary_fields(ds, domain_name, last_run, last_sync))


def datasource_view(ds: DataSource, domain_name: str, runs: list[Run], *,
                    latest: tuple[Run | None, Run | None] | None = None) -> DataSourceView:
    """``runs``: the newest runs of every kind; ``latest``: the newest initial run or
    re-import and the newest sync (looked up apart, as syncs soon fill the list; by default
    taken from ``runs``)."""
    last_run, last_sync = latest if latest is not None else newest_by_role(runs)
    p, f, r, a = ds.pending, ds.last_failure, ds.last_rejection, ds.reauthorization
    link = p.link if p else None
    return DataSourceView(
        **_summary_fields(ds, domain_name, last_run, last_sync),
        authorized_by=ds.binding.authorized_by if ds.binding else None,
        connected_at=ds.binding.connected_at if ds.binding else None,
        vat_number=ds.binding.vat_number if ds.binding else None,
        company_verified=ds.binding.verified if ds.binding else None,
        pending_authorization=PendingAuthorizationView(
            authorization_id=p.authorization_id, purpose=p.purpose, mode=p.mode,
            requested_by=p.requested_by, requested_at=p.requested_at,
            link_issued_at=link.issued_at if link else None,
            link_expires_at=link.expires_at if link else None,
            link_fetch_url=link.fetch_url if link else None,
        ) if p else None,
        last_authorization_failure=AuthorizationFailureView(
            authorization_id=f.authorization_id, purpose=f.purpose, reason_code=f.code,
            reason=f.reason, offered_division=f.offered_division, at=f.at,
        ) if f else None,
        last_recreate_rejection=RecreateRejectionView(
            authorization_id=r.authorization_id, offered_division=r.offered_division,
            offered_division_name=r.offered_division_name, offered_grant_id=r.offered_grant_id,
            reason=r.reason, at=r.at,
        ) if r else None,
        reauthorization=ReauthorizationView(grant_id=a.grant_id, reason=a.reason, at=a.at)
        if a else None,
        runs=[run_view(run) for run in runs],
    )


def last_sync_view(run: Run | None) -> LastSyncView | None:
    sync = LastSync.of(run)
    if sync is None:
        return None
    f = sync.failure
    return LastSyncView(
        run_id=sync.run_id, status=run.shown_status if run else sync.status.value,
        at=sync.at,
        error=RunErrorView(reason_code=f.code, reason=f.reason, retryable=f.retryable) if f else None)


def _summary_fields(ds: DataSource, domain_name: str, last_run: Run | None,
                    last_sync: Run | None) -> dict[str, object]:
    b = ds.binding
    return {
        "id": ds.id, "company_domain_id": ds.company_domain_id,
        "company_domain_name": domain_name, "state": ds.state.value,
        "authorization_mode": ds.authorization_mode, "requested_by": ds.requested_by,
        "division": b.division if b else None, "division_name": b.division_name if b else None,
        "grant_id": b.grant_id if b else None, "run_status": datasource_run_status(last_run),
        "last_run": run_view(last_run) if last_run else None,
        "last_sync": last_sync_view(last_sync),
        "last_failure_reason": _last_problem(ds, last_run),
        "created_at": ds.created_at, "updated_at": ds.updated_at,
    }


def _last_problem(ds: DataSource, last_run: Run | None) -> str | None:
    problems: list[tuple[datetime, str]] = []
    if ds.last_failure:
        problems.append((ds.last_failure.at, ds.last_failure.reason))
    if ds.last_rejection:
        problems.append((ds.last_rejection.at, ds.last_rejection.reason))
    if ds.reauthorization:
        problems.append((ds.reauthorization.at, ds.reauthorization.reason))
    if last_run and last_run.failure and last_run.finished_at:
        problems.append((last_run.finished_at, last_run.failure.reason))
    if last_run and last_run.failed_entities and last_run.finished_at:
        problems.append((last_run.finished_at, "not imported: " + "; ".join(
            f"{p.entity} ({p.failure})" for p in last_run.failed_entities)))
    return max(problems)[1] if problems else None
