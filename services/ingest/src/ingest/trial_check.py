"""The trial-balance check at the end of a run (rules: :mod:`ingest.domain.trial_balance`).

While a run streams, each TransactionLines page (and each deletion) and each ReportingBalance
page leaves its share in the data source's trial-balance state, committed with the page's
checkpoint (:func:`trial_page`). When every entity is settled the check compares the data
source's cumulative ledger - what consumers now hold - with Exact's ReportingBalance:

* initial runs, full re-imports and syncs that carry the full refresh read ReportingBalance
  in full, so its state is current;
* any other run that changed ledger lines (a sync, a re-import of TransactionLines) reads the
  touched reporting years of ReportingBalance again, one year filter each (Exact's advice:
  "For optimal filter, only include a reporting year in the filter"), so the check follows
  the changes within the same sync.

The outcome is a ``TrialBalanceChecked`` event; a difference, or a check that cannot be made
(an entity failed, Exact refused the re-read), is reported and never fails the run.
"""

from __future__ import annotations

from contextlib import aclosing
from datetime import date
from decimal import Decimal

import structlog

from contracts import Entity, Row, TrialBalanceCheckedPayload, TrialBalanceDifference
from contracts.rows import ReportingBalance, TransactionLine
from ingest.domain.errors import BudgetSpent, ExactError, TokenError
from ingest.domain.model import Run
from ingest.domain.trial_balance import (
    BalanceRow,
    LedgerLine,
    LineScope,
    TrialBalance,
    TrialPage,
    TrialRules,
    YearScope,
    compare,
)
from ingest.ports import EntityRequest, ExactApi, TrialStore

log = structlog.get_logger("trial_balance")

LINES, BALANCES = Entity.TRANSACTION_LINES.value, Entity.REPORTING_BALANCE.value


def trial_page(run: Run, entity: str, rows: list[Row], last: bool) -> TrialPage | None:
    """What a page of ``entity`` leaves in the trial-balance state (None: nothing)."""
    if entity == LINES:
        page = TrialPage([ledger_line(r) for r in rows if isinstance(r, TransactionLine)], [], [],
                         track_years=not reads_balances_in_full(run))
        if last and not run.incremental:  # a full read: lines in scope it did not see are gone
            page.sweep_lines = LineScope(run.date_from, run.date_to)
        return page
    if entity == BALANCES:
        page = TrialPage([], [balance_row(r) for r in rows if isinstance(r, ReportingBalance)],
                         [])
        if last:
            page.sweep_balances = balance_scope(run)
        return page
    return None


def reads_balances_in_full(run: Run) -> bool:
    """The run reads all of ReportingBalance itself: the check needs no year again."""
    return (BALANCES in run.checkpoints and run.date_from is None and run.date_to is None)


def ledger_line(row: TransactionLine) -> LedgerLine:
    return LedgerLine(line_id=str(row.id).lower(), year=row.financial_year,
                      period=row.financial_period, gl_code=row.gl_account_code or "",
                      type=row.type, status=row.status, amount=row.amount_dc, on=row.date)


def balance_row(row: ReportingBalance) -> BalanceRow:
    return BalanceRow(row_id=row.id, year=row.reporting_year, period=row.reporting_period,
                      gl_code=row.gl_account_code or "", status=row.status, amount=row.amount)


def balance_scope(run: Run) -> YearScope:
    """The reporting years a run's ReportingBalance read covers (year filter of a range)."""
    return YearScope(run.date_from.year if run.date_from else None,
                     run.date_to.year if run.date_to else None)


class TrialBalanceCheck:
    def __init__(self, store: TrialStore, exact: ExactApi, rules: TrialRules | None = None
                 ) -> None:
        self._store = store
        self._exact = exact
        self.rules = rules or TrialRules()

    async def check(self, run: Run) -> TrialBalanceCheckedPayload:
        failed = [cp.entity for cp in run.failed_entities if cp.entity in (LINES, BALANCES)]
        if failed:
            return self._payload(run, None, f"{' and '.join(failed)} could not be imported "
                                 "in this run; the next sync checks again")
        years = sorted(await self._stale_years(run))
        for year in years:
            try:
                await self._reread(run, year)
            except (ExactError, BudgetSpent, TokenError) as exc:
                log.warning("trial_balance_reread_failed", year=year, error=str(exc)[:300])
                return self._payload(run, None, f"ReportingBalance {year} could not be read "
                                     f"again: {exc}", years)
        ledger, exact = await self._store.totals(run.datasource_id, self.rules)
        result = compare(ledger, exact, self.rules.tolerance)
        log.info("trial_balance_checked", keys=result.keys_compared,
                 matching=result.keys_matching,
                 total_abs_difference=str(result.total_abs_difference), years_reread=years)
        return self._payload(run, result, None, years)

    async def _stale_years(self, run: Run) -> set[int]:
        """Years the run changed ledger lines in that its own ReportingBalance read (if
        any) did not cover."""
        touched = await self._store.touched_years(run.run_id)
        cp = run.checkpoints.get(BALANCES)
        if cp is not None and cp.done:
            scope = balance_scope(run)
            touched = {y for y in touched if not scope.covers(y)}
        return touched

    async def _reread(self, run: Run, year: int) -> None:
        request = EntityRequest(run.division, run.grant_id, Entity.REPORTING_BALANCE,
                                date(year, 1, 1), date(year, 12, 31))
        async with aclosing(self._exact.pages(request, None)) as pages:
            async for page in pages:
                rows = [balance_row(r) for r in page.rows if isinstance(r, ReportingBalance)]
                last = page.stats.next_cursor is None
                run.calls_used += page.calls
                await self._store.save_balances(run, TrialPage(
                    [], rows, [], sweep_balances=YearScope(year, year) if last else None))

    def _payload(self, run: Run, result: TrialBalance | None, reason: str | None,
                 years: list[int] | None = None) -> TrialBalanceCheckedPayload:
        return TrialBalanceCheckedPayload(
            run_id=run.run_id, kind=run.kind, division=run.division,
            checked=result is not None, reason=reason, basis=self.rules.basis,
            opening_balance_period=self.rules.opening_period,
            keys_compared=result.keys_compared if result else 0,
            keys_matching=result.keys_matching if result else 0,
            total_abs_difference=result.total_abs_difference if result else Decimal(0),
            tolerance=self.rules.tolerance,
            largest_differences=tuple(
                TrialBalanceDifference(reporting_year=d.key[0], reporting_period=d.key[1],
                                       gl_account_code=d.key[2], ledger_amount=d.ledger,
                                       exact_amount=d.exact, difference=d.difference)
                for d in (result.largest if result else ())),
            years_reread=tuple(years or ()))
