"""The trial-balance check at the end of a run (rules: :mod:`ingest.domain.trial_balance`).

While a run streams, each TransactionLines page (and each deletion) and each ReportingBalance
page leaves its share in the data source's trial-balance state, committed with the page's
checkpoint (:func:`trial_page`). When every entity is settled the check compares the data
source's cumulative ledger - what consumers now hold - with Exact's ReportingBalance:

* initial runs, full re-imports and syncs that carry the full refresh read ReportingBalance
  in full, so its state is current;
* any other run that changed ledger lines (a sync, a re-import of TransactionLines, a
  targeted run after webhook notifications) reads ReportingBalance again for only the
  reporting periods whose totals changed: one filter per run of consecutive periods of a
  year (``ReportingYear ge Y and ReportingYear le Y and ReportingPeriod ge P and
  ReportingPeriod le Q``), so the check follows the changes within the same sync;
* the rows a re-read brings reach consumers as a full refresh would send them, within the
  re-read's scope: new rows and rows whose content hash changed go out as LedgerBatch of
  ReportingBalance, rows of those periods Exact no longer reports as LedgerDeletes
  ``deleted`` (numbered in the block of :func:`ingest.domain.refresh.reread_seq`); the
  refresh hashes are written with the trial state once the broker acknowledged them, so the
  next full refresh does not send them again;
* those re-reads are paced (:class:`ingest.domain.trial_balance.RereadPolicy`): at most one
  per data source every ``min_interval_seconds`` and never more than ``daily_share`` of the
  calls left of the company's day. A deferred re-read keeps its periods (``trial_stale``)
  for the next check, which reports ``checked=false`` with the reason meanwhile.

The outcome is a ``TrialBalanceChecked`` event; a difference, or a check that cannot be made
(an entity failed, Exact refused the re-read), is reported and never fails the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from datetime import UTC, date, datetime
from decimal import Decimal

import structlog

from contracts import Entity, Row, TrialBalanceCheckedPayload, TrialBalanceDifference, id_texts
from contracts.rows import ReportingBalance, TransactionLine
from ingest.batching import build_batches, build_gone
from ingest.domain.budget import BudgetView
from ingest.domain.errors import BudgetSpent, ExactError, TokenError
from ingest.domain.model import Run
from ingest.domain.refresh import DELETES_PER_MESSAGE, PageHashes, reread_seq
from ingest.domain.trial_balance import (
    BalanceRow,
    LedgerLine,
    LineScope,
    Period,
    PeriodScope,
    RereadPolicy,
    TrialBalance,
    TrialPage,
    TrialRules,
    YearScope,
    compare,
    reread_scopes,
)
from ingest.ports import BatchPublisher, EntityRequest, ExactApi, Outgoing, TrialStore
from ingest.row_hashes import page_hashes, row_key

log = structlog.get_logger("trial_balance")

LINES, BALANCES = Entity.TRANSACTION_LINES.value, Entity.REPORTING_BALANCE.value


def trial_page(run: Run, entity: str, rows: list[Row], last: bool) -> TrialPage | None:
    """What a page of ``entity`` leaves in the trial-balance state (None: nothing)."""
    if entity == LINES:
        page = TrialPage(ledger_lines(rows), [], [], track_years=not reads_balances_in_full(run))
        if last and not run.incremental:  # a full read: lines in scope it did not see are gone
            page.sweep_lines = LineScope(run.date_from, run.date_to)
        return page
    if entity == BALANCES:
        page = TrialPage([], balance_rows(rows), [])
        if last:
            page.sweep_balances = balance_scope(run)
        return page
    return None


def reads_balances_in_full(run: Run) -> bool:
    """The run reads all of ReportingBalance itself: the check needs no year again."""
    return (BALANCES in run.checkpoints and run.date_from is None and run.date_to is None)


def ledger_lines(rows: list[Row]) -> list[LedgerLine]:
    """What a page's TransactionLines add; the ids' texts in one call (:func:`id_texts`: the
    line's id as ``str(id).lower()`` writes it), which was most of a line's cost."""
    lines = [r for r in rows if isinstance(r, TransactionLine)]
    new = tuple.__new__  # what LedgerLine(...) does, without its Python-level __new__
    return [new(LedgerLine, (line_id, r.financial_year, r.financial_period,
                             r.gl_account_code or "", r.type, r.status, r.amount_dc, r.date))
            for line_id, r in zip(id_texts([r.id for r in lines]), lines, strict=True)]


def balance_rows(rows: list[Row]) -> list[BalanceRow]:
    """What a page's ReportingBalance rows add."""
    new = tuple.__new__  # what BalanceRow(...) does, without its Python-level __new__
    return [new(BalanceRow, (r.id, r.reporting_year, r.reporting_period, r.gl_account_code or "",
                             r.status, r.amount))
            for r in rows if isinstance(r, ReportingBalance)]


def balance_scope(run: Run) -> YearScope:
    """The reporting years a run's ReportingBalance read covers (year filter of a range)."""
    return YearScope(run.date_from.year if run.date_from else None,
                     run.date_to.year if run.date_to else None)


class TrialBalanceCheck:
    def __init__(self, store: TrialStore, exact: ExactApi, publisher: BatchPublisher,
                 rules: TrialRules | None = None, *, max_batch_bytes: int,
                 policy: RereadPolicy | None = None,
                 budget: Callable[[int], Awaitable[BudgetView]] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._exact = exact
        self._publisher = publisher
        self._max_batch_bytes = max_batch_bytes
        self.rules = rules or TrialRules()
        self._policy = policy or RereadPolicy()
        self._budget = budget
        self._now = now

    async def check(self, run: Run) -> TrialBalanceCheckedPayload:
        failed = [cp.entity for cp in run.failed_entities if cp.entity in (LINES, BALANCES)]
        if failed:
            return self._payload(run, None, f"{' and '.join(failed)} could not be imported "
                                 "in this run; the next sync checks again")
        scopes = reread_scopes(await self._stale_periods(run))
        years = sorted({s.year for s in scopes})
        if scopes:
            deferred = await self._deferred(run, scopes)
            if deferred is not None:
                log.info("trial_balance_reread_deferred", reason=deferred,
                         periods=sum(s.period_to - s.period_from + 1 for s in scopes))
                return self._payload(run, None, f"{deferred}; the periods it changed are "
                                     "read again by a later check")
            calls = run.calls_used
            for scope in scopes:
                try:
                    await self._reread(run, scope)
                except (ExactError, BudgetSpent, TokenError) as exc:
                    log.warning("trial_balance_reread_failed", year=scope.year,
                                error=str(exc)[:300])
                    return self._payload(run, None, f"ReportingBalance {scope.year} could not "
                                         f"be read again: {exc}", years)
            await self._store.record_reread(run.datasource_id, self._now(),
                                            run.calls_used - calls)
        ledger, exact = await self._store.totals(run.datasource_id, self.rules)
        result = compare(ledger, exact, self.rules.tolerance)
        log.info("trial_balance_checked", keys=result.keys_compared,
                 matching=result.keys_matching,
                 total_abs_difference=str(result.total_abs_difference), years_reread=years)
        return self._payload(run, result, None, years)

    async def _stale_periods(self, run: Run) -> set[Period]:
        """Periods whose ledger totals changed that the run's own ReportingBalance read (if
        any) did not cover; the covered ones are current again."""
        stale = await self._store.stale_periods(run.datasource_id)
        cp = run.checkpoints.get(BALANCES)
        if cp is not None and cp.done:
            scope = balance_scope(run)
            covered = {p for p in stale if scope.covers(p[0])}
            await self._store.forget_stale(run.datasource_id, covered)
            stale -= covered
        return stale

    async def _deferred(self, run: Run, scopes: list[PeriodScope]) -> str | None:
        last = await self._store.last_reread(run.datasource_id)
        since = (self._now() - last).total_seconds() if last is not None else None
        rows = await self._store.balance_rows(run.datasource_id, scopes)
        calls = len(scopes) + rows // self._exact.page_size(Entity.REPORTING_BALANCE)
        view = await self._budget(run.division) if self._budget is not None else None
        return self._policy.defer(since_last=since, calls=calls,
                                  daily_remaining=view.daily_remaining if view else None)

    async def _reread(self, run: Run, scope: PeriodScope) -> None:
        request = EntityRequest(run.division, run.grant_id, Entity.REPORTING_BALANCE,
                                date(scope.year, 1, 1), date(scope.year, 12, 31),
                                periods=(scope.period_from, scope.period_to))
        async with aclosing(self._exact.pages(request, None)) as pages:
            index = 0
            async for page in pages:
                rows = balance_rows(page.rows)
                last = page.stats.next_cursor is None
                run.calls_used += page.calls
                hashes = page_hashes(BALANCES, page.rows, sweep=False)
                out, gone = await self._changes(run, scope, index, page.rows, hashes, last)
                await self._publisher.publish(out)
                run.batches += len(out)
                await self._store.save_balances(run, TrialPage(
                    [], rows, [], sweep_balances=scope if last else None), hashes, gone)
                index += 1

    async def _changes(self, run: Run, scope: PeriodScope, index: int, rows: list[Row],
                       hashes: PageHashes, last: bool) -> tuple[list[Outgoing], list[str]]:
        """What consumers are sent of the ``index``-th page of a scope's re-read: its new and
        changed rows, and after the last page the scope's rows Exact no longer reports (the
        LedgerDeletes are numbered by chunk in the same block: their ids are apart)."""
        differ = await self._store.differing(run.datasource_id, hashes)
        changed = [r for r in rows if row_key(r) in differ]
        out: list[Outgoing] = []
        if changed:
            out = build_batches(run, Entity.REPORTING_BALANCE, changed,
                                first_seq=reread_seq(scope.year, scope.period_from, index),
                                checkpoint=None, last=False, max_bytes=self._max_batch_bytes)
            reread_seq(scope.year, scope.period_from, index, len(out) - 1)  # within its block
        gone: list[str] = []
        if last:
            gone = [i for i in await self._store.unseen_balances(run, scope) if i not in hashes.hashes]
            for chunk, start in enumerate(range(0, len(gone), DELETES_PER_MESSAGE)):
                out.append(build_gone(run, BALANCES, reread_seq(scope.year, scope.period_from,
                                                                chunk),
                                      gone[start:start + DELETES_PER_MESSAGE]))
        return out, gone

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
