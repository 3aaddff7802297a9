"""ReportingBalance read one year at a time, most recent first: which years, what a
checkpoint holds between them, and what the reads cost (domain only, no IO)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from ingest.adapters.endpoints import first_page_params
from ingest.domain.model import PageStats, Run
from ingest.domain.plan import run_plan
from ingest.domain.progress import calls_left
from ingest.domain.years import descending, year_calls, years_left
from ingest.entities import CATALOG, spec_for

NOW = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)


def page(rows: int, cursor: str | None, years: dict[int, int] | None = None) -> PageStats:
    return PageStats(rows, None, None, 0, None, None, cursor, year_rows=years or {})


def a_run(*entities: str) -> Run:
    return Run(run_id=uuid.uuid4(), datasource_id=uuid.uuid4(), correlation_id=uuid.uuid4(),
               kind="initial", division=1, grant_id=uuid.uuid4(),
               entities=CATALOG.ordered(entities))


def periods_read(run: Run, years: dict[int, int]) -> None:
    run.checkpoints["FinancialPeriods"].advance(page(sum(years.values()), None, years), 1)


def test_years_go_down_from_the_most_recent_each_once() -> None:
    assert descending([2023, 2025, 2024, 2025]) == (2025, 2024, 2023)
    assert years_left([2023, 2025, 2024], None, started=False) == (2025, 2024, 2023)
    assert years_left([2023, 2025, 2024], 2024, started=True) == (2024, 2023)
    # a read that began unfiltered (no year in its checkpoint) goes on unfiltered
    assert years_left([2023, 2024], None, started=True) == ()
    assert years_left([], None, started=False) == ()


def test_each_year_costs_its_pages_and_at_least_one_call() -> None:
    rows = {2025: 0, 2024: 61, 2023: 120}
    assert year_calls(rows, 60) == 1 + 2 + 2  # one unfiltered read would be ceil(181/60) = 4
    assert year_calls(rows, 60, years=(2024, 2023)) == 4
    # a resumed year: the rows already read are taken off
    assert year_calls(rows, 60, years=(2024, 2023), read={2024: 60}) == 1 + 2


def test_the_years_are_financial_periods_once_read_to_the_end() -> None:
    run = a_run("FinancialPeriods", "ReportingBalance")
    balances = run.checkpoints["ReportingBalance"]
    assert run.years_to_read(balances) == ()  # FinancialPeriods not read: read whole
    run.checkpoints["FinancialPeriods"].advance(page(12, "next", {2023: 12}), 1)
    assert run.years_to_read(balances) == ()  # not to the end: its years may be incomplete
    run.checkpoints["FinancialPeriods"].advance(page(24, None, {2024: 12, 2025: 12}), 1)
    assert run.years_to_read(balances) == (2025, 2024, 2023)
    assert run.years_to_read(run.checkpoints["FinancialPeriods"]) == ()  # not a by-year entity


def test_a_run_without_financial_periods_reads_the_balances_whole() -> None:
    run = a_run("ReportingBalance")
    assert run.years_to_read(run.checkpoints["ReportingBalance"]) == ()


def test_a_checkpoint_moves_to_the_next_year_after_a_years_last_page() -> None:
    run = a_run("FinancialPeriods", "ReportingBalance")
    periods_read(run, {2024: 12, 2025: 12})
    cp = run.checkpoints["ReportingBalance"]
    cp.year = 2025
    cp.advance(page(60, "api/v1/1/financial/ReportingBalance?$skiptoken=60", {2025: 60}), 1,
               next_year=2024)
    assert (cp.year, cp.done) == (2025, False) and cp.cursor is not None
    assert run.years_to_read(cp) == (2025, 2024)  # a resume goes on with 2025's next page
    cp.advance(page(5, None, {2025: 5}), 1, next_year=2024)
    assert (cp.year, cp.cursor, cp.done) == (2024, None, False)
    assert run.years_to_read(cp) == (2024,)
    cp.advance(page(0, None), 1)  # a year without balances
    assert cp.done and cp.year == 2024
    assert cp.rows == 65 and cp.pages == 3
    assert cp.year_rows == {2025: 65, 2024: 0}


def test_the_plan_counts_a_page_run_per_year() -> None:
    run = a_run("FinancialPeriods", "ReportingBalance")
    known = {"FinancialPeriods": 36, "ReportingBalance": 181}
    by_year = {"ReportingBalance": {2023: 120, 2024: 61, 2025: 0}}
    planned = run_plan(run, known, {}, now=NOW, known_year_rows=by_year)
    assert [(p.entity, p.calls) for p in planned.plan.entities] == [
        ("FinancialPeriods", 1), ("ReportingBalance", 5)]
    # without the earlier read's years: one unfiltered read's pages
    assert run_plan(run, known, {}, now=NOW).plan.calls == 1 + 4


def test_a_run_resumed_in_a_year_plans_that_years_rest_and_the_older_years() -> None:
    run = a_run("FinancialPeriods", "ReportingBalance")
    periods_read(run, {2023: 12, 2024: 12, 2025: 12})
    cp = run.checkpoints["ReportingBalance"]
    cp.year = 2025
    cp.advance(page(0, None), 1, next_year=2024)  # 2025 had none; 2024 next
    cp.advance(page(60, "next", {2024: 60}), 1, next_year=2023)
    by_year = {"ReportingBalance": {2023: 120, 2024: 61, 2025: 0}}
    planned = run_plan(run, {"ReportingBalance": 181}, {}, now=NOW, known_year_rows=by_year)
    assert [(p.entity, p.rows, p.calls) for p in planned.plan.entities] == [
        ("ReportingBalance", 121, 1 + 2)]


def test_a_years_first_page_filters_on_that_year() -> None:
    spec = spec_for("ReportingBalance")
    assert first_page_params(spec, 1, None, None, year=2025)["$filter"] == \
        "ReportingYear eq 2025"
    # a re-import with a date range reads its years one at a time the same way
    assert first_page_params(spec, 1, date(2024, 1, 1), date(2025, 12, 31),
                             year=2024)["$filter"] == "ReportingYear eq 2024"
    assert "$filter" not in first_page_params(spec, 1, None, None)


def test_the_eta_counts_at_least_a_call_per_year_still_to_read() -> None:
    run = a_run("FinancialPeriods", "ReportingBalance")
    assert calls_left(run, {}) == 2  # nothing known: a call each
    periods_read(run, {2023: 12, 2024: 12, 2025: 12})
    assert calls_left(run, {}) == 3  # the three years of balances
    cp = run.checkpoints["ReportingBalance"]
    cp.year = 2025
    cp.advance(page(10, None, {2025: 10}), 1, next_year=2024)
    assert calls_left(run, {}) == 2
