"""The trial-balance state in PostgreSQL (schema ``ingest``): what each ledger line streamed and
each ReportingBalance row read adds to the trial balance, per data source.

Pages are written by :func:`write_trial` inside the transaction that commits the page's
checkpoint, so a resumed run neither loses nor counts a page twice. A line's row is replaced
when it changes (a sync sends its new version) and removed when it is deleted in Exact or
left out of a re-import's scope; the reporting years whose totals a run changed are kept in
``trial_touched`` so the check reads those years of ReportingBalance again. The totals are
summed by PostgreSQL per key: memory stays flat however large the ledger.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ingest.adapters.tables import trial_exact, trial_lines, trial_touched
from ingest.domain.model import Run
from ingest.domain.trial_balance import (
    OPENING_BALANCE_TYPE,
    LedgerLine,
    LineScope,
    TrialKey,
    TrialPage,
    TrialRules,
    YearScope,
    touched_years,
)

_UPSERT_LINES = sa.text("""
    INSERT INTO ingest.trial_lines AS t (datasource_id, line_id, year, period, gl_code, type,
                                         status, amount, on_date, seen_run_id)
    SELECT :ds, * , :run FROM unnest(CAST(:ids AS text[]), CAST(:years AS int[]),
        CAST(:periods AS int[]), CAST(:gls AS text[]), CAST(:types AS int[]),
        CAST(:statuses AS int[]), CAST(:amounts AS numeric[]), CAST(:dates AS date[]))
    ON CONFLICT (datasource_id, line_id) DO UPDATE SET year = excluded.year,
        period = excluded.period, gl_code = excluded.gl_code, type = excluded.type,
        status = excluded.status, amount = excluded.amount, on_date = excluded.on_date,
        seen_run_id = excluded.seen_run_id""")
_UPSERT_BALANCES = sa.text("""
    INSERT INTO ingest.trial_exact AS t (datasource_id, row_id, year, period, gl_code, status,
                                         amount, seen_run_id)
    SELECT :ds, *, :run FROM unnest(CAST(:ids AS bigint[]), CAST(:years AS int[]),
        CAST(:periods AS int[]), CAST(:gls AS text[]), CAST(:statuses AS int[]),
        CAST(:amounts AS numeric[]))
    ON CONFLICT (datasource_id, row_id) DO UPDATE SET year = excluded.year,
        period = excluded.period, gl_code = excluded.gl_code, status = excluded.status,
        amount = excluded.amount, seen_run_id = excluded.seen_run_id""")
"""One statement per page with one array per column (a page is up to 1000 rows: a
multi-row VALUES would bind 10,000 parameters and cost far more than the page's own work)."""


async def write_trial(conn: AsyncConnection, run: Run, page: TrialPage) -> None:
    ds = run.datasource_id
    touched: set[int] = set()
    if page.lines:
        lines = _last_per_id(page.lines)
        ids = [x.line_id for x in lines]
        if page.track_years:
            before = {r.line_id: _line(r) for r in (await conn.execute(
                sa.select(trial_lines).where(trial_lines.c.datasource_id == ds,
                                             trial_lines.c.line_id == sa.func.any(
                                                 sa.bindparam("ids", ids, type_=ARRAY(sa.Text))))
            )).all()}
            touched |= touched_years(before, lines)
        await conn.execute(_UPSERT_LINES, {
            "ds": ds, "run": run.run_id, "ids": ids, "years": [x.year for x in lines],
            "periods": [x.period for x in lines], "gls": [x.gl_code for x in lines],
            "types": [x.type for x in lines], "statuses": [x.status for x in lines],
            "amounts": [x.amount for x in lines], "dates": [x.on for x in lines]})
    if page.deleted_lines:
        gone = await conn.execute(trial_lines.delete().where(
            trial_lines.c.datasource_id == ds, trial_lines.c.line_id.in_(page.deleted_lines))
            .returning(trial_lines.c.year))
        touched.update(gone.scalars())
    if page.sweep_lines is not None:
        gone = await conn.execute(trial_lines.delete().where(
            *_line_scope(page.sweep_lines), trial_lines.c.datasource_id == ds,
            trial_lines.c.seen_run_id != run.run_id).returning(trial_lines.c.year))
        touched.update(gone.scalars())
    await _write_balances(conn, run, page)
    if touched and page.track_years:
        await conn.execute(insert(trial_touched).values(
            [{"run_id": run.run_id, "year": y} for y in sorted(touched)]).on_conflict_do_nothing())


async def _write_balances(conn: AsyncConnection, run: Run, page: TrialPage) -> None:
    ds = run.datasource_id
    if page.balances:
        rows = list({b.row_id: b for b in page.balances}.values())
        await conn.execute(_UPSERT_BALANCES, {
            "ds": ds, "run": run.run_id, "ids": [b.row_id for b in rows],
            "years": [b.year for b in rows], "periods": [b.period for b in rows],
            "gls": [b.gl_code for b in rows], "statuses": [b.status for b in rows],
            "amounts": [b.amount for b in rows]})
    if page.sweep_balances is not None:
        await conn.execute(trial_exact.delete().where(
            *_year_scope(page.sweep_balances), trial_exact.c.datasource_id == ds,
            trial_exact.c.seen_run_id != run.run_id))


class PostgresTrialStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def touched_years(self, run_id: uuid.UUID) -> set[int]:
        async with self._engine.connect() as conn:
            return set((await conn.scalars(sa.select(trial_touched.c.year)
                                           .where(trial_touched.c.run_id == run_id))).all())

    async def save_balances(self, run: Run, page: TrialPage) -> None:
        """A page of ReportingBalance the check read again (not streamed to consumers)."""
        async with self._engine.begin() as conn:
            await _write_balances(conn, run, page)

    async def totals(self, datasource_id: uuid.UUID, rules: TrialRules
                     ) -> tuple[dict[TrialKey, Decimal], dict[TrialKey, Decimal]]:
        """(ledger, Exact) sums per key over ``rules.statuses``."""
        statuses = list(rules.statuses)
        period: Any = trial_lines.c.period
        if rules.opening_period == "zero":
            period = sa.case((trial_lines.c.type == OPENING_BALANCE_TYPE, 0), else_=period)
        ledger = (sa.select(trial_lines.c.year, period, trial_lines.c.gl_code,
                            sa.func.sum(trial_lines.c.amount))
                  .where(trial_lines.c.datasource_id == datasource_id,
                         trial_lines.c.status.in_(statuses))
                  .group_by(trial_lines.c.year, period, trial_lines.c.gl_code))
        exact = (sa.select(trial_exact.c.year, trial_exact.c.period, trial_exact.c.gl_code,
                           sa.func.sum(trial_exact.c.amount))
                 .where(trial_exact.c.datasource_id == datasource_id,
                        trial_exact.c.status.in_(statuses))
                 .group_by(trial_exact.c.year, trial_exact.c.period, trial_exact.c.gl_code))
        async with self._engine.connect() as conn:
            mine = {(r[0], r[1], r[2]): Decimal(r[3]) for r in (await conn.execute(ledger)).all()}
            theirs = {(r[0], r[1], r[2]): Decimal(r[3])
                      for r in (await conn.execute(exact)).all()}
        return mine, theirs


def _line(row: Any) -> LedgerLine:
    return LedgerLine(line_id=row.line_id, year=row.year, period=row.period,
                      gl_code=row.gl_code, type=row.type, status=row.status,
                      amount=Decimal(row.amount), on=row.on_date)


def _last_per_id(lines: list[LedgerLine]) -> list[LedgerLine]:
    """One row per line (a page could carry a line twice; the later version wins)."""
    return list({line.line_id: line for line in lines}.values())


def _line_scope(scope: LineScope) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if scope.date_from is not None:
        where.append(trial_lines.c.on_date >= scope.date_from)
    if scope.date_to is not None:
        where.append(trial_lines.c.on_date <= scope.date_to)
    return where


def _year_scope(scope: YearScope) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if scope.year_from is not None:
        where.append(trial_exact.c.year >= scope.year_from)
    if scope.year_to is not None:
        where.append(trial_exact.c.year <= scope.year_to)
    return where
