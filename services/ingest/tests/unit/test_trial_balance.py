"""The trial-balance comparison, what pages leave in its state, and the check at a run's end."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import contracts as c
from ingest.domain.budget import BudgetView
from ingest.domain.errors import ExactServerError
from ingest.domain.model import Run
from ingest.domain.refresh import REREAD_SEQ_BASE, PageHashes, reread_seq
from ingest.domain.trial_balance import (
    LedgerLine,
    LineScope,
    Period,
    PeriodScope,
    RereadPolicy,
    TrialKey,
    TrialPage,
    TrialRules,
    compare,
    reread_scopes,
    touched_periods,
)
from ingest.row_hashes import row_hash
from ingest.trial_check import TrialBalanceCheck, trial_page

D = Decimal


def line(n: int, year: int = 2024, period: int = 3, amount: str = "10.00", gl: str = "8000",
         status: int = 50) -> LedgerLine:
    return LedgerLine(f"line-{n}", year, period, gl, 20, status, D(amount), date(year, period, 1))


def test_equal_sides_match_on_every_key() -> None:
    sides = {(2024, 1, "8000"): D("-100.10"), (2024, 1, "1300"): D("100.10")}
    result = compare(sides, dict(sides), D("0.005"))
    assert (result.keys_compared, result.keys_matching) == (2, 2)
    assert result.total_abs_difference == 0 and result.largest == () and result.all_match


def test_a_key_on_one_side_only_counts_as_zero_on_the_other() -> None:
    result = compare({(2024, 1, "8000"): D("5")}, {(2024, 2, "8000"): D("7")}, D(0))
    assert (result.keys_compared, result.keys_matching) == (2, 0)
    assert result.total_abs_difference == D("12")
    assert [(d.key, d.ledger, d.exact, d.difference) for d in result.largest] == [
        ((2024, 2, "8000"), D(0), D("7"), D("7")), ((2024, 1, "8000"), D("5"), D(0), D("-5"))]


def test_differences_within_the_tolerance_match_and_the_largest_come_first() -> None:
    ledger: dict[TrialKey, Decimal] = {(2024, p, "8000"): D("1.000") for p in range(1, 30)}
    exact = {k: v + D("0.004") for k, v in ledger.items()}  # float noise of Exact's doubles
    exact[(2024, 5, "8000")] = D("4")
    exact[(2024, 6, "8000")] = D("-9")
    result = compare(ledger, exact, D("0.005"), largest=1)
    assert result.keys_matching == 27
    assert [d.key for d in result.largest] == [(2024, 6, "8000")]  # |-10| before |3|
    assert result.total_abs_difference == D("13")


def test_a_page_touches_the_periods_of_new_lines_and_of_changed_lines_before_and_after(
        ) -> None:
    before = {"line-1": line(1, 2023, 4), "line-2": line(2, 2024)}
    page = [line(1, 2025, 2), line(2, 2024), line(3, 2022, 11)]
    assert touched_periods(before, page) == {(2023, 4), (2025, 2), (2022, 11)}
    assert touched_periods({"line-2": line(2, 2024)}, [line(2, 2024)]) == set()


def test_touched_periods_are_read_again_one_filter_per_run_of_consecutive_periods() -> None:
    assert reread_scopes({(2024, 3), (2024, 4), (2024, 5), (2024, 9), (2025, 1)}) == [
        PeriodScope(2024, 3, 5), PeriodScope(2024, 9, 9), PeriodScope(2025, 1, 1)]
    assert reread_scopes(set()) == []


def test_a_reread_waits_for_its_interval_and_never_takes_more_than_its_share_of_the_day(
        ) -> None:
    policy = RereadPolicy(min_interval_seconds=900, daily_share=0.1)
    assert policy.defer(since_last=None, calls=6, daily_remaining=None) is None
    assert policy.defer(since_last=901, calls=6, daily_remaining=4000) is None
    assert "900 s" in (policy.defer(since_last=300, calls=6, daily_remaining=4000) or "")
    assert "daily limit" in (policy.defer(since_last=None, calls=6, daily_remaining=59) or "")


def _lines_page(run: Run, last: bool) -> TrialPage:
    row = c.ROW_MODELS[c.Entity.TRANSACTION_LINES].model_validate({
        "ID": uuid.UUID(int=5), "EntryID": uuid.uuid4(), "Division": 100001,
        "Date": date(2024, 3, 4), "FinancialYear": 2024, "FinancialPeriod": 3,
        "GLAccountCode": "8000", "AmountDC": D("12.50"), "Type": 20, "Status": 50})
    page = trial_page(run, "TransactionLines", [row], last)
    assert page is not None
    return page


def test_a_full_read_sweeps_its_scope_after_the_last_page_and_a_sync_never(kit: Any) -> None:
    initial = kit.new_run((c.Entity.TRANSACTION_LINES,))
    assert _lines_page(initial, last=False).sweep_lines is None
    page = _lines_page(initial, last=True)
    assert page.sweep_lines == LineScope()
    assert page.lines == [LedgerLine(str(uuid.UUID(int=5)), 2024, 3, "8000", 20, 50, D("12.50"),
                                     date(2024, 3, 4))]
    reimport = kit.new_run((c.Entity.TRANSACTION_LINES,), date_from=date(2024, 1, 1))
    reimport.kind = "reimport"
    assert _lines_page(reimport, last=True).sweep_lines == LineScope(date(2024, 1, 1), None)
    sync = kit.new_run((c.Entity.TRANSACTION_LINES,))
    sync.kind = "incremental"
    assert _lines_page(sync, last=True).sweep_lines is None
    # the years a page changes matter only when the run does not read ReportingBalance whole
    assert _lines_page(sync, last=False).track_years
    full = kit.new_run((c.Entity.REPORTING_BALANCE, c.Entity.TRANSACTION_LINES))
    assert not _lines_page(full, last=False).track_years
    assert trial_page(sync, "GLAccounts", [kit.gl_row(1)], True) is None


class FakeTrialStore:
    def __init__(self, stale: set[Period], ledger: dict[TrialKey, Decimal],
                 exact: dict[TrialKey, Decimal]) -> None:
        self.stale, self.ledger, self.exact = stale, ledger, exact
        self.saved: list[TrialPage] = []
        self.rereads: list[tuple[datetime, int]] = []
        self.hashes: dict[str, bytes] = {}
        self.held: dict[Period, list[str]] = {}
        self.seen: dict[uuid.UUID, set[str]] = {}
        """Ids of the rows held per (year, first period of a scope)."""

    async def stale_periods(self, datasource_id: uuid.UUID) -> set[Period]:
        return set(self.stale)

    async def forget_stale(self, datasource_id: uuid.UUID, periods: set[Period]) -> None:
        self.stale -= periods

    async def balance_rows(self, datasource_id: uuid.UUID, scopes: list[PeriodScope]) -> int:
        return len(self.exact)

    async def last_reread(self, datasource_id: uuid.UUID) -> datetime | None:
        return self.rereads[-1][0] if self.rereads else None

    async def record_reread(self, datasource_id: uuid.UUID, at: datetime, calls: int) -> None:
        self.rereads.append((at, calls))

    async def differing(self, datasource_id: uuid.UUID, page: PageHashes) -> set[str]:
        return {i for i, h in page.hashes.items() if self.hashes.get(i) != h}

    async def unseen_balances(self, run: Run, scope: PeriodScope) -> list[str]:
        seen = self.seen.get(run.run_id, set())
        return sorted(set(self.held.get((scope.year, scope.period_from), [])) - seen)

    async def save_balances(self, run: Run, page: TrialPage, hashes: PageHashes | None = None,
                            gone: list[str] | None = None) -> None:
        self.saved.append(page)
        self.hashes.update(hashes.hashes if hashes else {})
        for i in gone or []:
            self.hashes.pop(i, None)
            for ids in self.held.values():
                ids[:] = [x for x in ids if x != i]  # the sweep drops them
        self.seen.setdefault(run.run_id, set()).update(str(b.row_id) for b in page.balances)
        scope = page.sweep_balances
        if isinstance(scope, PeriodScope):
            self.stale = {p for p in self.stale if not (
                p[0] == scope.year and scope.period_from <= p[1] <= scope.period_to)}
        for b in page.balances:
            self.exact[(b.year, b.period, b.gl_code)] = b.amount

    async def totals(self, datasource_id: uuid.UUID, rules: TrialRules
                     ) -> tuple[dict[TrialKey, Decimal], dict[TrialKey, Decimal]]:
        return self.ledger, self.exact


def checker(kit: Any, store: FakeTrialStore, exact: Any, rules: TrialRules | None = None,
            **kw: Any) -> TrialBalanceCheck:
    return TrialBalanceCheck(store, exact, kit.FakePublisher(), rules, max_batch_bytes=900_000,
                             **kw)


def rb_row(n: int, year: int, amount: str) -> c.Row:
    return c.ROW_MODELS[c.Entity.REPORTING_BALANCE].model_validate({
        "ID": n, "ReportingYear": year, "ReportingPeriod": 3, "GLAccountCode": "8000",
        "Amount": D(amount), "Status": 50, "Division": 100001})


async def test_a_sync_rereads_only_the_periods_it_changed_and_then_compares(kit: Any) -> None:
    run = kit.new_run((c.Entity.TRANSACTION_LINES,))
    run.kind = "incremental"
    store = FakeTrialStore({(2024, 3)}, {(2024, 3, "8000"): D("25")},
                           {(2024, 3, "8000"): D("20")})
    exact = kit.FakeExact({c.Entity.REPORTING_BALANCE: [
        kit.page_of([rb_row(1, 2024, "25")], None)]})
    check = await checker(kit, store, exact).check(run)
    [(request, _cursor)] = exact.requests
    assert (request.entity, request.date_from, request.date_to, request.periods) == (
        c.Entity.REPORTING_BALANCE, date(2024, 1, 1), date(2024, 12, 31), (3, 3))
    assert store.saved[-1].sweep_balances == PeriodScope(2024, 3, 3)
    assert check.checked and check.years_reread == (2024,)
    assert (check.keys_compared, check.keys_matching) == (1, 1)
    assert run.calls_used == 1 and store.stale == set()
    assert [calls for _at, calls in store.rereads] == [1]


async def test_a_reread_too_soon_or_too_dear_is_deferred_and_its_periods_kept(kit: Any) -> None:
    run = kit.new_run((c.Entity.TRANSACTION_LINES,))
    run.kind = "incremental"
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    store = FakeTrialStore({(2024, 3)}, {}, {})
    store.rereads.append((now - timedelta(seconds=60), 4))
    exact = kit.FakeExact({})
    check = await checker(kit, store, exact, now=lambda: now).check(run)
    assert not check.checked and "60 s ago" in (check.reason or "")
    assert exact.requests == [] and store.stale == {(2024, 3)}

    async def day_nearly_spent(division: int) -> BudgetView:
        return BudgetView(60, 60, 5000, 5, 1.0, 3600.0)

    later = now + timedelta(hours=1)
    check = await checker(kit, store, exact, now=lambda: later,
                                    budget=day_nearly_spent).check(run)
    assert not check.checked and "daily limit" in (check.reason or "")
    assert exact.requests == [] and store.stale == {(2024, 3)}


async def test_a_run_that_read_reportingbalance_in_full_rereads_nothing(kit: Any) -> None:
    run = kit.new_run((c.Entity.REPORTING_BALANCE, c.Entity.TRANSACTION_LINES))
    run.checkpoints["ReportingBalance"].done = True
    store = FakeTrialStore({(2023, 1), (2024, 3)}, {(2024, 3, "8000"): D("1")}, {})
    exact = kit.FakeExact({})
    check = await checker(kit, store, exact, TrialRules(basis="after_entry")).check(run)
    assert exact.requests == [] and check.years_reread == () and store.stale == set()
    assert check.basis == "after_entry"
    [diff] = check.largest_differences
    assert (diff.reporting_year, diff.reporting_period, diff.gl_account_code,
            diff.ledger_amount, diff.exact_amount, diff.difference) == (
        2024, 3, "8000", D("1"), D(0), D("-1"))


async def test_the_check_is_not_made_when_an_entity_failed_or_exact_refuses_the_reread(
        kit: Any) -> None:
    run = kit.new_run((c.Entity.REPORTING_BALANCE, c.Entity.TRANSACTION_LINES))
    run.checkpoints["TransactionLines"].fail("exact_error", "400 bad request")
    check = await checker(kit, FakeTrialStore(set(), {}, {}), kit.FakeExact({})).check(run)
    assert not check.checked and "TransactionLines could not be imported" in (check.reason or "")

    sync = kit.new_run((c.Entity.TRANSACTION_LINES,))
    exact = kit.FakeExact({c.Entity.REPORTING_BALANCE: [kit.page_of([], None)]})
    exact.raise_at[(c.Entity.REPORTING_BALANCE, 0)] = ExactServerError("503 from Exact")
    check = await checker(kit, FakeTrialStore({(2025, 1)}, {}, {}), exact).check(sync)
    assert not check.checked and check.keys_compared == 0
    assert check.reason == "ReportingBalance 2025 could not be read again: 503 from Exact"


async def test_a_reread_sends_consumers_its_changed_and_vanished_rows_once(kit: Any) -> None:
    run = kit.new_run((c.Entity.TRANSACTION_LINES,))
    run.kind = "incremental"
    store = FakeTrialStore({(2024, 3)}, {}, {})
    kept, changed = rb_row(1, 2024, "10"), rb_row(2, 2024, "20")
    store.hashes = {"1": row_hash(kept), "2": row_hash(rb_row(2, 2024, "5")), "3": b"old"}
    store.held = {(2024, 3): ["1", "2", "3"]}
    publisher = kit.FakePublisher()

    async def reread() -> None:
        exact = kit.FakeExact({c.Entity.REPORTING_BALANCE: [
            kit.page_of([kept], "next"), kit.page_of([changed, rb_row(4, 2024, "1")], None)]})
        await TrialBalanceCheck(store, exact, publisher, max_batch_bytes=900_000).check(run)

    await reread()
    [batch] = publisher.sent
    assert [r.id for r in batch.payload.rows] == [2, 4]  # the first page had nothing new
    assert batch.payload.entity == c.Entity.REPORTING_BALANCE and not batch.payload.last
    assert batch.payload.batch_seq == reread_seq(2024, 3, 1) > REREAD_SEQ_BASE
    [gone] = publisher.deletes
    assert gone.payload.reason == "deleted"
    assert [(r.entity, r.id) for r in gone.payload.rows] == [(c.Entity.REPORTING_BALANCE, "3")]
    assert gone.payload.batch_seq == reread_seq(2024, 3, 0)
    assert run.batches == 2 and "3" not in store.hashes
    assert store.hashes["2"] == row_hash(changed)

    # read again with nothing changed in Exact: nothing more goes out
    store.stale, store.rereads = {(2024, 3)}, []
    await reread()
    assert len(publisher.sent) == 1 and len(publisher.deletes) == 1


def test_reread_numbers_stay_in_their_block() -> None:
    assert reread_seq(2024, 3, 0) == REREAD_SEQ_BASE + 202403 * 1000
    assert reread_seq(9999, 99, 99, 9) < 2**31
    with pytest.raises(ValueError, match="beyond the re-read block"):
        reread_seq(2024, 3, 100)
    with pytest.raises(ValueError, match="beyond the re-read block"):
        reread_seq(2024, 3, 0, 10)
