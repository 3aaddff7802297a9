"""The run use case: execute (or resume) one run, every entity from its checkpoint to the end.

Entities go in import order through the page loop (:mod:`ingest.usecases.pages`: fetched one
page ahead, batches sent in order, checkpoints committed behind the broker's acks). A run that
is cancelled or whose replica dies resumes from the last checkpoints: at most the pages in
flight (:data:`~ingest.pipeline.PAGES_IN_FLIGHT`) are fetched and sent again, with the same
batch_seq values.

Incremental runs read each sync entity after its Timestamp cursor and then ``sync/Deleted``;
a sync without changes costs one call and sends nothing. A re-import ends each entity with
a LedgerDeletes ``replaced`` marker after its last batch: consumers drop rows of that scope
the re-import did not send, so a re-import replaces instead of duplicating.

Entities without a sync endpoint keep a content hash per row (:mod:`ingest.domain.refresh`):
every full read writes them with its checkpoints; an incremental run that carries the full
refresh sends only the rows whose hash changed and, after the entity's last page, the rows
it did not see as LedgerDeletes ``deleted``.

Each page of TransactionLines or ReportingBalance (and each deletion of a line) also leaves its
share in the data source's trial-balance state in the checkpoint's transaction; when every
entity is settled the run is checked against Exact's ReportingBalance
(:mod:`ingest.trial_check`) and ``TrialBalanceChecked`` goes out just before ``RunCompleted``.

How a run leaves RUNNING: RunCompleted; waiting (daily or error budget spent: claimable
again after the reset, RunProgress says until when; the same while Exact allows no new
access token yet after one was refused); paused with RunFailed(grant_revoked,
retryable) until a recreate brings a new grant; or RunFailed with a reason.

Size: the run's whole life (start or resume, the entities in order, deletions, the trial-balance
check, and each way a run ends) is one use case; the page loop, planning and refresh already live
in their own modules, and what is left is the order in which they are called.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

import structlog

from connector_runtime.messaging.broker import is_transient
from contracts import (
    Entity,
    EntityProgress,
    EntityTotals,
    Message,
    RunCompleted,
    RunCompletedPayload,
    RunFailed,
    RunFailedPayload,
    RunProgress,
    RunProgressPayload,
    RunStarted,
    RunStartedPayload,
    TrialBalanceChecked,
)
from contracts.run_events import DroppedField, EntityFailure, RunFailureCode
from ingest import metrics
from ingest.domain.budget import BudgetView
from ingest.domain.errors import (
    COMPANY_WIDE_403,
    AuthUnavailable,
    BudgetSpent,
    ExactError,
    ExactRequestRejected,
    Forbidden,
    GrantRevoked,
    GrantUnknown,
    IngestError,
    InvalidData,
    LeaseLost,
    RateLimited,
    TokenNotYetAllowed,
)
from ingest.domain.model import CLAIMABLE, DELETED, EntityCheckpoint, Run, RunStatus
from ingest.domain.plan import BudgetShare
from ingest.domain.progress import ProgressThrottle, calls_left, eta_seconds
from ingest.ports import BatchPublisher, Clock, ExactApi, RunStore
from ingest.trial_check import TrialBalanceCheck
from ingest.usecases.pages import PageLoop, Reading
from ingest.usecases.planning import BudgetOf, KnownRows, KnownYearRows, RunPlanner, wire_plan

log = structlog.get_logger("runner")


@dataclass(frozen=True)
class RunnerConfig:
    max_batch_bytes: int = 900_000
    progress_interval: float = 2.0
    default_minutely_limit: int = 60
    share: BudgetShare = field(default_factory=BudgetShare)
    """What each kind of run leaves of a company's day (initial runs keep a sync reserve)."""

    def planner(self, clock: Clock, *, known_rows: KnownRows | None = None,
                budget: BudgetOf | None = None,
                known_year_rows: KnownYearRows | None = None) -> RunPlanner:
        """The run planner with this config's budget share and minutely limit, so the plan
        and the run it announces count the same budget."""
        return RunPlanner(clock, known_rows=known_rows, budget=budget, share=self.share,
                          default_minutely_limit=self.default_minutely_limit,
                          known_year_rows=known_year_rows)


class RunExecutor:
    def __init__(self, store: RunStore, exact: ExactApi, publisher: BatchPublisher, clock: Clock,
                 config: RunnerConfig | None = None, trial: TrialBalanceCheck | None = None,
                 planner: RunPlanner | None = None) -> None:
        self._store = store
        self._exact = exact
        self._publisher = publisher
        self._clock = clock
        self._config = config or RunnerConfig()
        self._trial = trial
        self._planner = planner or self._config.planner(clock)
        self._pages = PageLoop(store, exact, publisher, clock, self._progress,
                               max_batch_bytes=self._config.max_batch_bytes,
                               share=self._config.share)

    async def execute(self, run_id: uuid.UUID, owner: str) -> None:
        """Run (or resume) ``run_id`` while ``owner`` holds its lease."""
        run = await self._store.load(run_id)
        if run is None or run.status not in CLAIMABLE:
            return
        # bound for the rest of the run's task (the scheduler gives each run task its own
        # context), so every line of the run, the scheduler's too, says which run it is about
        structlog.contextvars.bind_contextvars(
            run_id=str(run.run_id), datasource_id=str(run.datasource_id),
            division=run.division, correlation_id=str(run.correlation_id))
        try:
            await self._execute(run, owner)
        except LeaseLost as exc:
            log.warning("run_lease_lost", detail=str(exc))

    async def _execute(self, run: Run, owner: str) -> None:
        waited, resumed = run.status is RunStatus.WAITING, run.resumed
        started: list[Message] = []
        if not waited:
            plan = await self._planner.plan(run)  # before the run's first call
            started.append(self._event(run, RunStarted, RunStartedPayload(
                run_id=run.run_id, kind=run.kind, division=run.division,
                entities=tuple(Entity(e) for e in run.data_entities), resumed=resumed,
                plan=wire_plan(plan))))
            log.info("run_planned", calls=plan.plan.calls, days=plan.plan.days,
                     eta_seconds=round(plan.plan.eta_seconds), lower_bound=not plan.complete)
        await self._store.start(run, owner, started)
        metrics.run_entered(run.kind, RunStatus.RUNNING)
        log.info("run_executing", owner=owner, resumed=resumed, after_wait=waited, kind=run.kind)
        try:
            await self._import(run, owner)
        except IngestError as exc:
            if isinstance(exc, LeaseLost):
                raise
            await self._stop(run, owner, exc)
            return
        except Exception as exc:
            if is_transient(exc):
                raise  # database or broker away: the lease expires and the run resumes
            # a bug must end the run visibly, not make it hop between replicas forever
            log.exception("run_crashed", error=type(exc).__name__)
            await self._fail(run, owner, "internal", f"internal error: {type(exc).__name__}",
                             retryable=True)
            return
        if run.nothing_imported:
            first = run.failed_entities[0]
            await self._fail(run, owner, first.failed_code or "exact_error",
                             f"no entity could be imported; first: {first.failed_reason}",
                             retryable=False)
            return
        checked = await self._checked(run)
        completed = self._completed(run)
        await self._store.finish(run, owner, RunStatus.COMPLETED, [*checked, completed])
        metrics.run_entered(run.kind, RunStatus.COMPLETED)
        metrics.RUN_DURATION.labels(run.kind).observe(completed.payload.duration_seconds)
        log.info("run_completed", calls_used=run.calls_used, batches=run.batches,
                 failed=[cp.entity for cp in run.failed_entities],
                 rows={cp.entity: cp.rows for cp in run.ordered})

    async def _import(self, run: Run, owner: str) -> None:
        reading = Reading(ProgressThrottle(self._config.progress_interval))
        for cp in run.ordered:
            began = self._clock.monotonic()
            while not cp.settled:
                try:
                    if cp.entity == DELETED:
                        await self._pages.read_deletions(run, cp, owner, reading)
                    else:
                        await self._pages.read_entity(run, cp, owner, reading)
                except GrantRevoked:
                    current = await self._store.current_grant(run.run_id)
                    if current is None or current == run.grant_id:
                        raise
                    log.info("run_uses_new_grant", grant_id=str(current))
                    run.grant_id = current
                except (ExactRequestRejected, Forbidden, InvalidData) as exc:
                    if not entity_scoped(exc):
                        raise
                    await self._entity_failed(run, cp, owner, reading, exc)
                if cp.done:  # how long each entity took (this execution's part of it)
                    log.info("entity_read", entity=cp.entity, rows=cp.rows, pages=cp.pages,
                             seconds=round(self._clock.monotonic() - began, 3))

    async def _entity_failed(self, run: Run, cp: EntityCheckpoint, owner: str,
                             reading: Reading, exc: ExactError) -> None:
        """One entity cannot be imported: record why and go on with the others (the next
        incremental run and any re-import read it again)."""
        code, _ = _outcome(exc)
        cp.fail(code, str(exc))
        await self._store.save_page(run, cp, owner, [self._progress(run, reading.budget)])
        metrics.ENTITY_FAILURES.labels(cp.entity, code).inc()
        log.warning("entity_failed", entity=cp.entity, reason_code=code, reason=str(exc)[:300],
                    status=exc.status)

    # ---- leaving RUNNING -------------------------------------------------------------------

    async def _stop(self, run: Run, owner: str, exc: IngestError) -> None:
        if isinstance(exc, BudgetSpent | TokenNotYetAllowed):
            until = self._clock.now() + timedelta(seconds=exc.wait_seconds)
            run.waiting_reason = str(exc)
            event = self._progress(run, None, waiting=(until, str(exc)))
            await self._store.finish(run, owner, RunStatus.WAITING, [event], not_before=until)
            metrics.run_entered(run.kind, RunStatus.WAITING)
            log.info("run_waiting", kind=exc.kind, until=until.isoformat())
            return
        if isinstance(exc, GrantRevoked):
            run.error_code, run.error_reason = "grant_revoked", _reauthorize(exc)
            await self._store.finish(run, owner, RunStatus.PAUSED, [self._failed(run, True)])
            metrics.run_entered(run.kind, RunStatus.PAUSED)
            log.warning("run_paused_grant_revoked", reason=str(exc))
            return
        code, retryable = _outcome(exc)
        await self._fail(run, owner, code, str(exc), retryable=retryable)

    async def _fail(self, run: Run, owner: str, code: str, reason: str, *, retryable: bool
                    ) -> None:
        run.error_code, run.error_reason = code, reason[:1000]
        await self._store.finish(run, owner, RunStatus.FAILED, [self._failed(run, retryable)])
        metrics.run_entered(run.kind, RunStatus.FAILED)
        log.warning("run_failed", reason_code=code, reason=reason[:300], retryable=retryable)

    # ---- events ----------------------------------------------------------------------------

    def _event(self, run: Run, cls: type[Message], payload: object) -> Message:
        return cls.create(datasource_id=run.datasource_id, correlation_id=run.correlation_id,
                          payload=payload)

    def _progress(self, run: Run, budget: BudgetView | None,
                  waiting: tuple[datetime, str] | None = None) -> Message:
        sizes = {e: self._exact.page_size(Entity(e)) for e in run.data_entities}
        per_call = budget.seconds_per_call if budget else 60 / self._config.default_minutely_limit
        eta = eta_seconds(calls_left(run, sizes), per_call,
                          daily_remaining=budget.daily_remaining if budget else None,
                          daily_limit=budget.daily_limit if budget else None,
                          seconds_to_daily_reset=budget.seconds_to_daily_reset if budget else None)
        payload = RunProgressPayload(
            run_id=run.run_id, kind=run.kind,
            entities=tuple(EntityProgress(entity=Entity(cp.entity), rows=cp.rows, pages=cp.pages,
                                          done=cp.done, failed=cp.failed)
                           for cp in run.ordered if cp.entity != DELETED),
            calls_used=run.calls_used,
            daily_budget_remaining=budget.daily_remaining if budget else None,
            minutely_budget_remaining=budget.minutely_remaining if budget else None,
            eta_seconds=round(eta, 1),
            waiting_until=waiting[0] if waiting else None,
            waiting_reason=waiting[1] if waiting else None,
        )
        return self._event(run, RunProgress, payload)

    async def _checked(self, run: Run) -> list[Message]:
        """The run's trial-balance check (never fails the run: a difference is reported)."""
        if self._trial is None:
            return []
        payload = await self._trial.check(run)
        metrics.trial_balance_checked(payload)
        return [self._event(run, TrialBalanceChecked, payload)]

    def _completed(self, run: Run) -> Message:
        started = run.started_at or self._clock.now()
        return self._event(run, RunCompleted, RunCompletedPayload(
            run_id=run.run_id, kind=run.kind, division=run.division,
            totals=tuple(EntityTotals(entity=Entity(cp.entity), rows=cp.rows, pages=cp.pages,
                                      amount_dc_sum=cp.amount_sum,
                                      amount_dc_debit_sum=cp.debit_sum,
                                      id_hash=cp.id_hash_hex,
                                      deleted=cp.deleted if run.incremental else None)
                    for cp in run.ordered if cp.entity != DELETED and cp.done),
            batches=run.batches, calls_used=run.calls_used,
            duration_seconds=round((self._clock.now() - started).total_seconds(), 3),
            outcome="completed_with_errors" if run.failed_entities else "completed",
            failed_entities=_failures(run), dropped_fields=self._dropped(run)))

    def _dropped(self, run: Run) -> tuple[DroppedField, ...]:
        return tuple(
            DroppedField(entity=Entity(cp.entity), field=name,
                         endpoint=self._exact.endpoint_path(Entity(cp.entity), run.date_from,
                                                            run.date_to))
            for cp in run.ordered if cp.entity != DELETED for name in cp.dropped_fields)

    def _failed(self, run: Run, retryable: bool) -> Message:
        return self._event(run, RunFailed, RunFailedPayload(
            run_id=run.run_id, kind=run.kind,
            reason_code=cast("RunFailureCode", run.error_code or "internal"),
            reason=run.error_reason or "", retryable=retryable,
            failed_entities=_failures(run), dropped_fields=self._dropped(run)))


def _failures(run: Run) -> tuple[EntityFailure, ...]:
    return tuple(EntityFailure(entity="Deleted" if cp.entity == DELETED else Entity(cp.entity),
                               reason_code=cast("RunFailureCode", cp.failed_code),
                               reason=cp.failed_reason or "", retryable=True)
                 for cp in run.failed_entities)


def entity_scoped(exc: ExactError) -> bool:
    """Exact refused one endpoint (400/404, a 403 for a scope or right, rows that do not fit):
    the other entities can still be imported. A 403 whose ``Reason`` bars the whole company
    or user stops the run."""
    return not (isinstance(exc, Forbidden) and exc.reason in COMPANY_WIDE_403)


def _reauthorize(exc: GrantRevoked) -> str:
    return (f"{exc} - the Exact Online connection must be authorized again (recreate the data "
            "source); the run resumes from its checkpoint with the new grant")


def _outcome(exc: IngestError) -> tuple[str, bool]:
    """RunFailed ``reason_code`` and ``retryable`` for an error that ends a run."""
    if isinstance(exc, GrantUnknown):
        return "not_authorized", False
    if isinstance(exc, Forbidden):
        return "not_authorized", False
    if isinstance(exc, AuthUnavailable):
        return "internal", True
    if isinstance(exc, RateLimited):
        return "rate_limited", True
    if isinstance(exc, InvalidData):
        return "invalid_data", False
    if isinstance(exc, ExactRequestRejected):
        return "exact_error", False
    if isinstance(exc, ExactError):
        return "exact_error", True
    return "internal", True
