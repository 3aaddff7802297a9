"""Checkpoints, the import order and the ETA."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ingest.domain.model import EntityCheckpoint, PageStats
from ingest.domain.progress import ProgressThrottle, calls_left, eta_seconds
from ingest.entities import CATALOG


def stats(rows: int, nxt: str | None, **kw: Any) -> PageStats:
    base: dict[str, Any] = {"amount_sum": None, "debit_sum": None, "id_hash_sum": 0,
                            "max_timestamp": None, "count_sum": None}
    base.update(kw)
    return PageStats(rows=rows, next_cursor=nxt, **base)


def test_a_checkpoint_adds_up_pages_and_wraps_the_id_hash() -> None:
    cp = EntityCheckpoint("Budgets")
    cp.advance(stats(60, "n1", amount_sum=Decimal("1.10"), id_hash_sum=2**64 - 1,
                     max_timestamp=7), batches=1)
    cp.advance(stats(5, None, amount_sum=Decimal("-0.10"), id_hash_sum=3, max_timestamp=5),
               batches=2)
    assert (cp.rows, cp.pages, cp.next_batch_seq, cp.done, cp.cursor) == (65, 2, 3, True, None)
    assert cp.amount_sum == Decimal("1.00") and cp.id_hash == 2 and cp.max_timestamp == 7
    with pytest.raises(ValueError):
        cp.advance(stats(1, None), batches=1)


def test_the_ledger_comes_before_the_expensive_reporting_balance() -> None:
    assert CATALOG.ordered(("Deleted", "ReportingBalance", "TransactionLines", "Divisions")) == (
        "Divisions", "TransactionLines", "ReportingBalance", "Deleted")


def test_the_eta_counts_the_lines_the_reporting_balance_announced(make_run: Any) -> None:
    run = make_run(("ReportingBalance", "TransactionLines"))
    run.checkpoints["ReportingBalance"].advance(stats(10, None, count_sum=4500), batches=1)
    run.checkpoints["TransactionLines"].advance(stats(1000, "n"), batches=1)
    assert calls_left(run, {"TransactionLines": 1000}) == 4
    assert eta_seconds(4, 1.0, daily_remaining=100, daily_limit=5000,
                       seconds_to_daily_reset=600) == 4.0


def test_the_eta_waits_for_the_daily_reset_when_today_is_spent() -> None:
    assert eta_seconds(10, 1.0, daily_remaining=4, daily_limit=5000,
                       seconds_to_daily_reset=600) == 600 + 6.0


def test_progress_is_throttled() -> None:
    throttle = ProgressThrottle(2.0)
    assert [throttle.due(t) for t in (0.0, 1.0, 2.5, 3.0, 4.6)] == [True, False, True, False, True]
