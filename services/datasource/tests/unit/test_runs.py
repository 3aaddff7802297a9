"""Run status from ingest's run events: monotonic, idempotent, tolerant of out-of-order delivery."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from datasource.domain import (
    Budget,
    LastSync,
    PlannedEntity,
    Run,
    RunPlan,
    RunStatus,
    datasource_run_status,
    newest_by_role,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def requested(kind: str = "initial") -> Run:
    return Run.requested(run_id=uuid.uuid4(), datasource_id=uuid.uuid4(), kind=kind, division=101,
                         grant_id=uuid.uuid4(), entities=("GLAccounts", "TransactionLines"), now=T0)


def progress(run: Run, minute: int, rows: int, done: bool = False, calls: int = 1,
             eta: float | None = 60.0) -> None:
    run.progressed(at(minute), [("TransactionLines", rows, rows // 1000 + 1, done)],
                   Budget(calls, 4000, 50, eta))


def test_a_requested_run_is_pending_then_running_then_completed() -> None:
    run = requested()
    assert run.status is RunStatus.PENDING and datasource_run_status(run) == "initial_run_pending"
    run.started(at(1), division=101, entities=["GLAccounts", "TransactionLines"], resumed=False)
    assert run.status is RunStatus.RUNNING and run.started_at == at(1)
    progress(run, 2, 1000)
    assert run.progress["TransactionLines"].rows == 1000
    run.completed(at(3), totals=[("TransactionLines", 2500, 3), ("GLAccounts", 40, 1)], batches=4,
                  calls_used=9, duration_seconds=120.0)
    assert run.status is RunStatus.COMPLETED and run.finished_at == at(3)
    assert all(p.done for p in run.progress.values())
    assert run.progress["TransactionLines"].rows == 2500
    assert run.budget is not None and run.budget.calls_used == 9 and run.budget.eta_seconds == 0.0
    assert datasource_run_status(run) == "completed"


def test_progress_after_completion_does_not_regress_the_run() -> None:
    run = requested()
    run.completed(at(5), totals=[("TransactionLines", 2500, 3)], batches=3, calls_used=9,
                  duration_seconds=300.0)
    progress(run, 3, 1000)
    run.started(at(1), division=101, entities=[], resumed=False)
    run.failed(at(6), code="internal", reason="late failure", retryable=False)
    assert run.status is RunStatus.COMPLETED
    assert run.progress["TransactionLines"].rows == 2500 and run.progress["TransactionLines"].done
    assert run.failure is None
    assert run.started_at == at(1)  # the real start, learned late
    assert run.finished_at == at(5)


def test_an_older_progress_report_delivered_late_does_not_shrink_figures() -> None:
    run = requested()
    progress(run, 4, 3000, calls=7, eta=10.0)
    progress(run, 2, 1000, calls=3, eta=99.0)
    assert run.progress["TransactionLines"].rows == 3000
    assert run.budget is not None and run.budget.eta_seconds == 10.0 and run.budget.calls_used == 7


def test_progress_before_the_start_event_means_running_and_start_time_is_the_earliest() -> None:
    run = requested()
    progress(run, 3, 500)
    assert run.status is RunStatus.RUNNING and run.started_at == at(3)
    run.started(at(1), division=101, entities=[], resumed=False)
    assert run.started_at == at(1) and run.status is RunStatus.RUNNING


def test_a_non_retryable_failure_is_final() -> None:
    run = requested()
    run.started(at(1), division=101, entities=[], resumed=False)
    run.failed(at(2), code="not_authorized", reason="no rights on TransactionLines", retryable=False)
    progress(run, 3, 100)
    run.started(at(4), division=101, entities=[], resumed=True)
    assert run.status is RunStatus.FAILED
    assert run.failure is not None and run.failure.reason == "no rights on TransactionLines"
    assert run.progress["TransactionLines"].rows == 0
    assert datasource_run_status(run) == "failed"


def test_a_retryable_failure_followed_by_a_resume_runs_again() -> None:
    run = requested()
    run.started(at(1), division=101, entities=[], resumed=False)
    run.failed(at(2), code="rate_limited", reason="daily limit reached", retryable=True)
    run.started(at(10), division=101, entities=[], resumed=True)
    assert run.status is RunStatus.RUNNING and run.failure is None and run.finished_at is None
    assert run.resumed == 1 and run.started_at == at(1)


def test_a_failure_older_than_the_latest_resume_is_ignored() -> None:
    run = requested()
    run.started(at(1), division=101, entities=[], resumed=False)
    run.started(at(10), division=101, entities=[], resumed=True)
    run.failed(at(5), code="rate_limited", reason="old news", retryable=True)
    assert run.status is RunStatus.RUNNING


def test_an_older_failure_does_not_replace_a_newer_one() -> None:
    run = requested()
    run.failed(at(5), code="exact_error", reason="newer", retryable=False)
    run.failed(at(3), code="internal", reason="older", retryable=False)
    assert run.failure is not None and run.failure.reason == "newer"


def test_completion_wins_over_a_failure() -> None:
    run = requested()
    run.failed(at(5), code="exact_error", reason="boom", retryable=True)
    run.completed(at(4), totals=[], batches=0, calls_used=1, duration_seconds=1.0)
    assert run.status is RunStatus.COMPLETED and run.failure is None


def test_a_run_first_seen_through_its_events_is_recorded() -> None:
    run = Run.observed(run_id=uuid.uuid4(), datasource_id=uuid.uuid4(), kind="incremental", at=at(1))
    run.started(at(1), division=101, entities=["GLAccounts"], resumed=False)
    assert run.status is RunStatus.RUNNING and run.entities == ("GLAccounts",) and run.division == 101
    assert set(run.progress) == {"GLAccounts"}


def test_run_status_shown_on_the_data_source() -> None:
    assert datasource_run_status(None) is None
    assert datasource_run_status(requested("reimport")) == "run_pending"
    running = requested()
    progress(running, 1, 10)
    assert datasource_run_status(running) == "running"


def test_scheduled_syncs_never_change_the_data_sources_run_status() -> None:
    initial = requested()
    initial.completed(at(3), totals=[("TransactionLines", 2500, 3)], batches=3, calls_used=9,
                      duration_seconds=120.0)
    syncs = []
    for n, minute in enumerate((15, 30, 45)):
        sync = Run.observed(run_id=uuid.uuid4(), datasource_id=initial.datasource_id,
                            kind="incremental", at=at(minute))
        sync.started(at(minute), division=101, entities=["TransactionLines"], resumed=False)
        if n == 2:
            sync.failed(at(minute + 1), code="exact_error", reason="Exact answered 500",
                        retryable=True)
        else:
            sync.completed(at(minute + 1), totals=[], batches=0, calls_used=5,
                           duration_seconds=1.0)
        syncs.append(sync)
    last_run, last_sync = newest_by_role([*syncs, initial])
    assert last_run is initial and last_sync is syncs[-1]
    assert datasource_run_status(last_run) == "completed"  # not "failed" after a failed sync
    assert datasource_run_status(syncs[-1]) is None  # a sync is never a data source's run status
    sync = LastSync.of(last_sync)
    assert sync is not None and sync.status is RunStatus.FAILED and sync.at == at(46)
    assert sync.failure is not None and sync.failure.reason == "Exact answered 500"

    running = Run.observed(run_id=uuid.uuid4(), datasource_id=initial.datasource_id,
                           kind="incremental", at=at(60))
    running.started(at(60), division=101, entities=[], resumed=False)
    last_run, last_sync = newest_by_role([running, *syncs, initial])
    assert datasource_run_status(last_run) == "completed" and last_sync is running
    assert LastSync.of(running) == LastSync(running.run_id, RunStatus.RUNNING, at(60))

    reimport = requested("reimport")
    reimport.requested_at = at(61)
    last_run, _ = newest_by_role([reimport, running, initial])
    assert datasource_run_status(last_run) == "run_pending"  # re-imports do count
    assert newest_by_role([]) == (None, None)


def test_a_run_whose_latest_progress_waits_shows_waiting_until_it_progresses_again() -> None:
    run = requested()
    progress(run, 1, 1000)
    run.progressed(at(2), [("TransactionLines", 1000, 2, False)],
                   Budget(5, 4000, 50, None, at(10), "Exact allows a new access token at 09:10"))
    assert run.status is RunStatus.RUNNING and run.waiting
    assert datasource_run_status(run) == "waiting"
    assert run.budget is not None and run.budget.waiting_until == at(10)
    progress(run, 11, 2000)  # resumed: its next report no longer waits
    assert not run.waiting and datasource_run_status(run) == "running"


def plan(minute: int, calls: int) -> RunPlan:
    return RunPlan(at=at(minute), calls=calls, days=1, eta_seconds=90_000.0,
                   finishes_at=at(minute) + timedelta(seconds=90_000), daily_limit=5_000,
                   daily_budget_remaining=1_200, lower_bound=True,
                   entities=(PlannedEntity("TransactionLines", calls - 1, 1, 100_000),
                             PlannedEntity("GLAccounts", 1, 0, None)))


def test_the_latest_starts_plan_is_kept_and_an_older_one_delivered_late_is_not() -> None:
    run = requested()
    run.started(at(1), division=101, entities=[], resumed=False, plan=plan(1, 6_000))
    assert run.plan == plan(1, 6_000)
    run.started(at(9), division=101, entities=[], resumed=True, plan=plan(9, 4_000))
    run.started(at(1), division=101, entities=[], resumed=False, plan=plan(1, 6_000))  # again
    run.started(at(9), division=101, entities=[], resumed=True, plan=None)  # an older producer
    assert run.plan == plan(9, 4_000)
