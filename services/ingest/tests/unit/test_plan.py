"""Sharing a company's daily budget and planning an import over days."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ingest.domain.catalog import DELETED
from ingest.domain.model import PageStats, Run
from ingest.domain.plan import BudgetShare, entity_calls, largest_in_one_day, plan, run_plan
from ingest.domain.years import year_calls
from ingest.entities import CATALOG

IMPORT_ORDER = (*CATALOG.order, DELETED)

PAGE = {"TransactionLines": 1000, "GLAccounts": 1000, "GLClassifications": 1000,
        "Accounts": 1000}
"""Sync endpoints read 1000 rows a page; every other entity 60 (the default)."""


def company(lines: int) -> dict[str, int]:
    """Rows of a sandbox company with ``lines`` TransactionLines (ReportingBalance: the
    measured 80,004 rows per 100,000 lines)."""
    return {"Divisions": 1, "GLClassifications": 12, "GLAccounts": 29, "Journals": 5,
            "FinancialPeriods": 48, "CostCenters": 6, "CostUnits": 4,
            "Accounts": min(5000, max(10, lines // 100)), "Budgets": 768,
            "TransactionLines": lines, "ReportingBalance": lines * 80_004 // 100_000}


def test_an_entity_costs_one_call_per_page_and_at_least_one() -> None:
    assert entity_calls(80_004, 60) == 1_334
    assert entity_calls(100_000, 1000) == 100
    assert entity_calls(100_001, 1000) == 101
    assert entity_calls(0, 1000) == 1


def test_each_kind_of_run_leaves_its_reserve() -> None:
    share = BudgetShare(sync_reserve=0.1, floor=0.01)
    assert share.allowance("initial") == 4_500
    assert share.allowance("reimport") == 4_000
    assert share.allowance("incremental") == 4_950
    assert share.allowance("initial", daily_limit=15) == 14


def test_a_100000_line_company_finishes_on_its_first_day() -> None:
    p = plan(company(100_000), PAGE, IMPORT_ORDER)
    assert p.days == 0
    assert p.calls == 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 13 + 100 + 1_334
    assert p.eta_seconds == pytest.approx(p.calls)  # 60 calls a minute: a second each


def test_the_ledger_comes_first_and_reportingbalance_takes_the_following_days() -> None:
    p = plan(company(1_000_000), PAGE, IMPORT_ORDER, seconds_to_reset=3_600)
    assert p.day_of("TransactionLines") == 0
    assert p.day_of("ReportingBalance") == 3  # 13,334 calls at 4,500 a day
    assert p.days == 3
    left_last_day = p.calls - 3 * 4_500
    assert p.eta_seconds == pytest.approx(3_600 + 2 * 86_400 + left_last_day)


def test_a_day_already_spent_waits_for_the_reset() -> None:
    p = plan(company(1_000), PAGE, IMPORT_ORDER, today_remaining=400, seconds_to_reset=600)
    assert p.entities[0].day == 1  # 400 left today is below the initial run's reserve
    assert p.eta_seconds == pytest.approx(600 + p.calls)


def test_a_sync_may_use_the_reserve_but_not_the_floor() -> None:
    rows = {"TransactionLines": 50_000}
    assert plan(rows, PAGE, IMPORT_ORDER, kind="incremental", today_remaining=100).days == 0
    assert plan(rows, PAGE, IMPORT_ORDER, kind="incremental", today_remaining=99).days == 1


def test_largest_company_that_finishes_in_one_day() -> None:
    # all entities: lines/1000 (ledger) + 0.80004 * lines / 60 (ReportingBalance) + 21 fixed
    per_line = 1 / 1000 + 0.80004 / 60
    largest = largest_in_one_day(per_line, 21)
    assert 310_000 < largest < 315_000
    # the model's fixed part ignores the rounding up of each entity's last page: within 1%
    assert plan(company(largest - 3_000), PAGE, IMPORT_ORDER).days == 0
    assert plan(company(largest + 2_000), PAGE, IMPORT_ORDER).days == 1
    # the ledger and master data alone (ReportingBalance later): a much larger company
    assert largest_in_one_day(1 / 1000, 21) == 4_479_000


def by_year(lines: int, years: int = 4) -> dict[str, int]:
    """ReportingBalance read a year at a time: its calls when its rows spread evenly over
    ``years`` years (the sandbox's companies span 4)."""
    rows = company(lines)["ReportingBalance"]
    spread = {2026 - i: rows // years + (1 if i < rows % years else 0) for i in range(years)}
    return {"ReportingBalance": year_calls(spread, 60)}


def test_read_by_year_the_balances_cost_a_partial_page_a_year_more() -> None:
    """The figures of docs/capacity.md ("One large company")."""
    assert plan(company(100_000), PAGE, IMPORT_ORDER, calls=by_year(100_000)).calls == 1_457
    largest = plan(company(312_000), PAGE, IMPORT_ORDER, calls=by_year(312_000))
    assert (largest.calls, largest.days) == (4_500, 0)
    assert plan(company(313_000), PAGE, IMPORT_ORDER, calls=by_year(313_000)).days == 1
    million = plan(company(1_000_000), PAGE, IMPORT_ORDER, calls=by_year(1_000_000))
    assert (million.calls, million.days) == (14_361, 3)
    assert million.day_of("TransactionLines") == 0
    # day 0 holds the ledger and the most recent year: 1,025 + 3,334 of its 4,500 calls
    assert million.calls - million.entities[-1].calls == 1_025
    assert by_year(1_000_000)["ReportingBalance"] == 4 * 3_334


def test_no_allowance_is_refused() -> None:
    with pytest.raises(ValueError):
        plan({"Journals": 1}, PAGE, IMPORT_ORDER, share=BudgetShare(sync_reserve=1.0))


NOW = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)


ENTITIES = tuple(company(1))


def a_run(entities: tuple[str, ...] = ENTITIES, kind: str = "initial") -> Run:
    return Run(run_id=uuid.uuid4(), datasource_id=uuid.uuid4(), correlation_id=uuid.uuid4(),
               kind=kind, division=1, grant_id=uuid.uuid4(),  # type: ignore[arg-type]
               entities=CATALOG.ordered(entities))


def test_a_run_plan_prices_every_entity_and_ends_on_the_clock_passed_in() -> None:
    rows = company(100_000)
    planned = run_plan(a_run(), rows, PAGE, now=NOW)
    assert [p.entity for p in planned.plan.entities] == list(CATALOG.ordered(ENTITIES))
    assert planned.plan.calls == 21 + 100 + 1_334 and planned.plan.days == 0
    assert planned.complete and planned.estimated == frozenset(ENTITIES)
    assert planned.finishes_at == NOW + timedelta(seconds=planned.plan.calls)  # 60 a minute
    assert planned.daily_limit == 5_000 and planned.daily_remaining is None


def test_what_is_already_spent_today_moves_the_rest_to_the_next_day() -> None:
    # 1,200 left today: 700 above the sync reserve. 1,455 calls do not fit; the reset is in 2 h.
    planned = run_plan(a_run(), company(100_000), PAGE, now=NOW, daily_remaining=1_200,
                       daily_limit=5_000, seconds_to_reset=7_200)
    assert planned.plan.days == 1
    assert planned.plan.day_of("TransactionLines") == 0
    assert planned.plan.day_of("ReportingBalance") == 1
    assert planned.finishes_at == NOW + timedelta(seconds=7_200 + (1_455 - 700))


def test_a_large_company_is_planned_over_days_with_the_ledger_on_the_first() -> None:
    planned = run_plan(a_run(), company(1_000_000), PAGE, now=NOW)
    assert planned.plan.calls == 25 + 1_000 + 13_334 and planned.plan.days == 3
    assert planned.plan.day_of("TransactionLines") == 0
    assert planned.finishes_at - NOW > timedelta(days=3)


def test_unknown_entities_count_one_call_and_the_plan_says_it_is_a_lower_bound() -> None:
    planned = run_plan(a_run(), {"TransactionLines": 5_000}, PAGE, now=NOW)
    assert not planned.complete and planned.estimated == {"TransactionLines"}
    assert planned.plan.calls == 5 + (len(ENTITIES) - 1)


def test_a_resumed_run_plans_only_what_is_left() -> None:
    run = a_run(("Divisions", "TransactionLines"))
    run.checkpoints["Divisions"].advance(PageStats(1, None, None, 0, None, None, None), 1)
    run.checkpoints["TransactionLines"].advance(
        PageStats(4_000, None, None, 0, None, None, "next"), 4)
    planned = run_plan(run, {"Divisions": 1, "TransactionLines": 10_000}, PAGE, now=NOW)
    assert [(p.entity, p.rows, p.calls) for p in planned.plan.entities] == [
        ("TransactionLines", 6_000, 6)]


def test_reportingbalance_read_first_tells_the_lines_coming() -> None:
    run = a_run(("ReportingBalance", "TransactionLines"))
    run.checkpoints["ReportingBalance"].advance(
        PageStats(60, None, None, 0, None, 12_345, None), 1)
    planned = run_plan(run, {}, PAGE, now=NOW)
    assert [(p.entity, p.rows) for p in planned.plan.entities] == [("TransactionLines", 12_345)]
    assert planned.complete
