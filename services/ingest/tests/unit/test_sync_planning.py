"""Incremental-sync planning and run lifecycle rules (pure: no database, clock passed in)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ingest.domain import sync
from ingest.domain.catalog import DELETED, EntityCatalog
from ingest.domain.lifecycle import granted_again, requested_again
from ingest.domain.model import PageStats, RunStatus
from ingest.domain.schedule import SyncSchedule
from ingest.domain.sync import SyncState

CATALOG = EntityCatalog(order=("Divisions", "Budgets", "Accounts", "TransactionLines"),
                        sync=frozenset({"Accounts", "TransactionLines"}))
NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
SCHEDULE = SyncSchedule(interval_seconds=900, jitter=0.0, refresh_interval_seconds=3600)


def read(run: Any, entity: str, max_timestamp: int | None = None) -> None:
    run.checkpoints[entity].advance(PageStats(1, Decimal(0), None, 0, max_timestamp, None, None),
                                    batches=1)


def test_an_incremental_run_reads_the_sync_entities_then_deletions() -> None:
    assert sync.incremental_entities(CATALOG, refresh_due=False) == (
        "Accounts", "TransactionLines", DELETED)
    assert sync.incremental_entities(CATALOG, refresh_due=True) == (
        "Divisions", "Budgets", "Accounts", "TransactionLines", DELETED)
    assert sync.incremental_entities(CATALOG, refresh_due=False, retry=("Budgets",)) == (
        "Budgets", "Accounts", "TransactionLines", DELETED)


def test_a_completed_run_moves_cursors_forward_and_schedules_the_next_sync(
        make_run: Any) -> None:
    run = make_run(("Accounts", "TransactionLines", "Budgets", "Divisions"))
    read(run, "Accounts", 50)
    read(run, "TransactionLines", 7)
    read(run, "Divisions")
    run.checkpoints["Budgets"].fail("exact_rejected", "403")
    state = SyncState({"Accounts": 40, "TransactionLines": 9, DELETED: 3})
    update = sync.completed(run, state, SCHEDULE, NOW, CATALOG)
    assert update is not None
    assert update.cursors == {"Accounts": 50, "TransactionLines": 9, DELETED: 3}  # never back
    assert update.next_due_at == NOW + timedelta(seconds=900) and update.moves_next_due
    assert update.refresh_due_at == NOW + timedelta(seconds=3600)  # it read Divisions, Budgets
    assert update.retry == ("Budgets",)


def test_a_targeted_run_leaves_the_scheduled_sync_and_the_refresh(make_run: Any) -> None:
    run = make_run(("TransactionLines",), kind="incremental")
    read(run, "TransactionLines", 12)
    update = sync.completed(run, None, SCHEDULE, NOW, CATALOG)
    assert update is not None and not update.moves_next_due and update.refresh_due_at is None
    assert update.cursors == {"Accounts": 1, "TransactionLines": 12, DELETED: 1}


def test_an_entity_owed_stays_owed_until_read_in_full(make_run: Any) -> None:
    run = make_run(("Accounts",), kind="incremental")
    read(run, "Accounts", 5)
    assert sync.retry_entities(run, ("Budgets",), CATALOG) == ("Budgets",)
    ranged = make_run(("Budgets",), kind="incremental", date_from=date(2024, 1, 1))
    read(ranged, "Budgets")
    assert sync.retry_entities(ranged, ("Budgets",), CATALOG) == ("Budgets",)
    assert sync.run_cursors(ranged, CATALOG) == {}


def test_a_reimport_moves_no_sync_state(make_run: Any) -> None:
    assert sync.completed(make_run(("Accounts",), kind="reimport"), None, SCHEDULE, NOW,
                          CATALOG) is None


def test_only_a_failed_run_resumes_when_asked_again() -> None:
    assert requested_again(RunStatus.FAILED) is RunStatus.PENDING
    assert all(requested_again(s) is None for s in RunStatus if s is not RunStatus.FAILED)


def test_a_new_grant_resumes_paused_runs_and_leaves_finished_ones() -> None:
    assert granted_again(RunStatus.PAUSED) is RunStatus.PENDING
    assert granted_again(RunStatus.RUNNING) is RunStatus.RUNNING
    assert granted_again(RunStatus.COMPLETED) is None and granted_again(RunStatus.FAILED) is None


def test_an_expensive_full_refresh_waits_until_it_fits_its_share_of_the_day(
        make_run: Any) -> None:
    # 100,000 lines: ReportingBalance is ~1,334 pages; at 6-hourly refreshes that alone
    # would be 5,336 calls a day, more than Exact's 5,000
    schedule = SyncSchedule(interval_seconds=900, jitter=0.0, refresh_interval_seconds=21_600,
                            refresh_daily_share=0.25)
    assert schedule.refresh_interval(40) == 21_600  # a small company keeps the interval
    assert schedule.refresh_interval(1_334) == 86_400 * 1_334 / 1_250
    assert schedule.refresh_interval(1_334, daily_limit=30_000) == 21_600
    run = make_run(("Divisions", "Budgets"))
    read(run, "Budgets")
    run.checkpoints["Budgets"].pages = 1_250  # a 60-row endpoint of 75,000 rows
    read(run, "Divisions")
    update = sync.completed(run, None, schedule, NOW, CATALOG)
    assert update is not None and sync.refresh_cost(run, CATALOG) == 1_251
    assert update.refresh_due_at == NOW + timedelta(seconds=86_400 * 1_251 / 1_250)
    # refreshes never average more than the share: calls per day at the stretched interval
    assert 1_251 * 86_400 / schedule.refresh_interval(1_251) <= 0.25 * 5_000
