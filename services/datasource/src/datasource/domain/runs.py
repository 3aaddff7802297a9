"""Data runs as the datasource service sees them, from ingest's run events.

A run is ``pending`` from the moment it is requested, ``running`` once ingest
reports it started or progressed, then ``completed`` or ``failed``. Run events
arrive at least once and possibly out of order, so every change is monotonic:

* ``completed`` is final and wins: all of the run's batches are out;
* ``failed`` is final unless the failure was ``retryable`` and ingest reports the run
  started or progressed again *after* the failure (a resumed run); a failure older
  than the run's latest resumption is ignored;
* progress figures per entity only grow (rows, pages, done), so an old
  ``RunProgress`` delivered late cannot shrink them; the rate-budget figures, the
  ETA and whether the run waits (``waiting_until``/``waiting_reason``: a budget is
  spent, or Exact allows no new access token yet) come from the most recent
  ``RunProgress``. A run that waits shows as ``waiting`` with the time it resumes.

Size: the monotonic merge rules above for each run event, kept in one module because they
depend on each other (a failure against a later resumption, progress against completion).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass
class EntityProgress:
    entity: str
    rows: int = 0
    pages: int = 0
    done: bool = False
    failure: str | None = None
    """Why the entity could not be imported (``code: reason``); the run finished the others."""
    dropped_fields: tuple[str, ...] = ()
    """Fields Exact no longer knows on the entity's endpoint: read without them (null)."""

    def merge(self, rows: int, pages: int, done: bool) -> None:
        self.rows = max(self.rows, rows)
        self.pages = max(self.pages, pages)
        self.done = self.done or done


@dataclass(frozen=True)
class RunFailure:
    code: str
    reason: str
    retryable: bool


@dataclass(frozen=True)
class Budget:
    """Figures of the most recent progress report."""

    calls_used: int
    daily_remaining: int | None = None
    minutely_remaining: int | None = None
    eta_seconds: float | None = None
    waiting_until: datetime | None = None
    """Set while the run waits: when ingest tries again (UTC)."""
    waiting_reason: str | None = None


@dataclass(frozen=True)
class PlannedEntity:
    entity: str
    calls: int
    day: int
    """Budget day (0 = the day the run starts) on which the entity's last call falls."""
    estimated_rows: int | None = None


@dataclass(frozen=True)
class RunPlan:
    """Ingest's plan of the run, made before its first call (``RunStarted.plan``): the
    calls it expects and when the company's daily budget lets it end."""

    at: datetime
    """When ingest made it (the ``RunStarted``'s time): a resumed run's newer plan wins."""
    calls: int
    days: int
    """Daily budget resets the run waits for: 0 = it ends on the day it starts."""
    eta_seconds: float
    finishes_at: datetime
    daily_limit: int
    daily_budget_remaining: int | None = None
    lower_bound: bool = False
    """Some entity's rows were not known: at least ``calls``, no sooner than ``finishes_at``."""
    entities: tuple[PlannedEntity, ...] = ()


@dataclass(frozen=True)
class BalanceDifference:
    """A key whose ledger total differs from Exact's ReportingBalance."""

    reporting_year: int
    reporting_period: int
    gl_account_code: str
    ledger_amount: Decimal
    exact_amount: Decimal

    @property
    def difference(self) -> Decimal:
        return self.exact_amount - self.ledger_amount


@dataclass(frozen=True)
class TrialBalance:
    """The run's trial-balance check (ingest's ``TrialBalanceChecked``)."""

    at: datetime
    checked: bool
    reason: str | None
    basis: str
    opening_balance_period: str
    keys_compared: int
    keys_matching: int
    total_abs_difference: Decimal
    tolerance: Decimal
    largest_differences: tuple[BalanceDifference, ...] = ()
    years_reread: tuple[int, ...] = ()


@dataclass(eq=False)
class Run:
    run_id: UUID
    datasource_id: UUID
    kind: str
    status: RunStatus
    requested_at: datetime
    entities: tuple[str, ...] = ()
    division: int | None = None
    grant_id: UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_event_at: datetime | None = None
    progress: dict[str, EntityProgress] = field(default_factory=dict)
    progress_at: datetime | None = None
    budget: Budget | None = None
    batches: int | None = None
    duration_seconds: float | None = None
    failure: RunFailure | None = None
    resumed: int = 0
    resumed_at: datetime | None = None
    trial_balance: TrialBalance | None = None
    plan: RunPlan | None = None

    @classmethod
    def requested(
        cls,
        *,
        run_id: UUID,
        datasource_id: UUID,
        kind: str,
        division: int,
        grant_id: UUID,
        entities: tuple[str, ...],
        now: datetime,
        date_from: date | None = None,
        date_to: date | None = None,
    ) -> Run:
        return cls(
            run_id=run_id, datasource_id=datasource_id, kind=kind, status=RunStatus.PENDING,
            requested_at=now, entities=entities, division=division, grant_id=grant_id,
            date_from=date_from, date_to=date_to,
            progress={e: EntityProgress(e) for e in entities},
        )

    @classmethod
    def observed(cls, *, run_id: UUID, datasource_id: UUID, kind: str, at: datetime) -> Run:
        """A run datasource did not request (e.g. ingest's scheduled sync), first seen now."""
        return cls(run_id=run_id, datasource_id=datasource_id, kind=kind,
                   status=RunStatus.PENDING, requested_at=at)

    @property
    def finished(self) -> bool:
        return self.status in (RunStatus.COMPLETED, RunStatus.FAILED)

    @property
    def waiting(self) -> bool:
        """Running, but its latest progress says it waits (until ``budget.waiting_until``)."""
        return self.status is RunStatus.RUNNING and self.budget is not None \
            and self.budget.waiting_until is not None

    @property
    def failed_entities(self) -> tuple[EntityProgress, ...]:
        return tuple(p for p in self.progress.values() if p.failure is not None)

    @property
    def shown_status(self) -> str:
        """``status``, or ``waiting`` while a running run waits, or ``completed_with_errors``
        for a completed run that could not import every entity."""
        if self.waiting:
            return "waiting"
        if self.status is RunStatus.COMPLETED and self.failed_entities:
            return "completed_with_errors"
        return self.status.value

    def started(self, at: datetime, *, division: int, entities: Iterable[str], resumed: bool,
                plan: RunPlan | None = None) -> None:
        self._seen(at)
        if plan is not None and (self.plan is None or plan.at >= self.plan.at):
            self.plan = plan  # the latest start's plan; an older one delivered late is ignored
        if self.division is None:
            self.division = division
        if not self.entities:
            self.entities = tuple(entities)
        for entity in self.entities:
            self.progress.setdefault(entity, EntityProgress(entity))
        if resumed:
            self.resumed += 1
            if self.resumed_at is None or at > self.resumed_at:
                self.resumed_at = at
        self._to_running(at)

    def progressed(self, at: datetime, entities: Iterable[tuple[str, int, int, bool]],
                   budget: Budget) -> None:
        self._seen(at)
        if self.status is RunStatus.COMPLETED:
            return
        if self.status is RunStatus.FAILED and not self._may_resume(at):
            return
        for entity, rows, pages, done in entities:
            self.progress.setdefault(entity, EntityProgress(entity)).merge(rows, pages, done)
        if self.progress_at is None or at >= self.progress_at:
            self.progress_at = at
            calls = max(budget.calls_used, self.budget.calls_used if self.budget else 0)
            self.budget = Budget(calls, budget.daily_remaining, budget.minutely_remaining,
                                 budget.eta_seconds, budget.waiting_until, budget.waiting_reason)
        self._to_running(at)

    def completed(self, at: datetime, *, totals: Iterable[tuple[str, int, int]], batches: int,
                  calls_used: int, duration_seconds: float,
                  failed: Iterable[tuple[str, str]] = (),
                  dropped: Iterable[tuple[str, str]] = ()) -> None:
        """``failed``: (entity, why) of the entities that could not be imported (the run
        completed with errors); ``dropped``: (entity, field) Exact did not know."""
        self._seen(at)
        if self.status is RunStatus.COMPLETED:
            return
        for entity, rows, pages in totals:
            progress = self.progress.setdefault(entity, EntityProgress(entity))
            progress.rows, progress.pages, progress.done = rows, pages, True
        for entity, why in failed:
            self.progress.setdefault(entity, EntityProgress(entity)).failure = why
        for entity, name in dropped:
            progress = self.progress.setdefault(entity, EntityProgress(entity))
            progress.dropped_fields = tuple(sorted({*progress.dropped_fields, name}))
        self.status = RunStatus.COMPLETED
        self.started_at = self.started_at or at
        self.finished_at = at
        self.failure = None
        self.batches = batches
        self.duration_seconds = duration_seconds
        last = self.budget
        self.budget = Budget(calls_used, last.daily_remaining if last else None,
                             last.minutely_remaining if last else None, 0.0)

    def trial_balance_checked(self, check: TrialBalance) -> None:
        """Keep the newest check (a run is checked once; a redelivery changes nothing)."""
        self._seen(check.at)
        if self.trial_balance is None or check.at >= self.trial_balance.at:
            self.trial_balance = check

    def failed(self, at: datetime, *, code: str, reason: str, retryable: bool) -> None:
        self._seen(at)
        if self.status is RunStatus.COMPLETED:
            return
        if self.status is RunStatus.FAILED and self.finished_at is not None and at <= self.finished_at:
            return
        if self.status is RunStatus.RUNNING and self.resumed_at is not None and at < self.resumed_at:
            return  # a failure from before the latest resumption
        self.status = RunStatus.FAILED
        self.finished_at = at
        self.failure = RunFailure(code, reason, retryable)

    def _may_resume(self, at: datetime) -> bool:
        return (
            self.status is RunStatus.FAILED
            and self.failure is not None
            and self.failure.retryable
            and self.finished_at is not None
            and at > self.finished_at
        )

    def _to_running(self, at: datetime) -> None:
        if self.started_at is None or at < self.started_at:
            self.started_at = at
        if self.status is RunStatus.PENDING:
            self.status = RunStatus.RUNNING
        elif self._may_resume(at):
            self.status = RunStatus.RUNNING
            self.finished_at = None
            self.failure = None

    def _seen(self, at: datetime) -> None:
        if self.last_event_at is None or at > self.last_event_at:
            self.last_event_at = at


SYNC_KINDS = frozenset({"incremental"})
"""Runs ingest schedules by itself to keep a data source current (they may carry the slower
full refresh of the entities without a sync endpoint). They are recorded as runs, but the
data source's ``run_status`` follows only the initial run and re-imports: a sync every 15
minutes must not flip it between running and completed, nor show a failed sync as a failed
data source. Syncs are summarised separately as :class:`LastSync`."""


def is_sync(run: Run) -> bool:
    return run.kind in SYNC_KINDS


@dataclass(frozen=True)
class LastSync:
    """The newest scheduled sync of a data source: when, how it went, why it failed."""

    run_id: UUID
    status: RunStatus
    at: datetime
    """When it finished (or, while it runs, when it was last heard of)."""
    failure: RunFailure | None = None

    @classmethod
    def of(cls, run: Run | None) -> LastSync | None:
        if run is None:
            return None
        at = run.finished_at or run.last_event_at or run.started_at or run.requested_at
        return cls(run.run_id, run.status, at, run.failure)


def newest_by_role(runs: Iterable[Run]) -> tuple[Run | None, Run | None]:
    """(newest initial run or re-import, newest scheduled sync) among ``runs``."""
    imports = [r for r in runs if not is_sync(r)]
    syncs = [r for r in runs if is_sync(r)]

    def newest(found: list[Run]) -> Run | None:
        return max(found, key=lambda r: r.requested_at) if found else None

    return newest(imports), newest(syncs)


def datasource_run_status(latest: Run | None) -> str | None:
    """The run status shown on a data source, from its newest initial run or re-import
    (syncs never count, see :data:`SYNC_KINDS`): ``initial_run_pending``, ``run_pending``,
    ``running``, ``waiting`` (until the time its ``last_run`` gives), ``completed``,
    ``completed_with_errors`` or ``failed`` (None before any such run)."""
    if latest is None or is_sync(latest):
        return None
    if latest.status is RunStatus.PENDING:
        return "initial_run_pending" if latest.kind == "initial" else "run_pending"
    return latest.shown_status
