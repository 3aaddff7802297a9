"""The trial-balance state in PostgreSQL (schema ``ingest``): what each ledger line streamed and
each ReportingBalance row read adds to the trial balance, per data source.

Pages are written by :func:`write_trial` inside the transaction that commits the page's
checkpoint, so a resumed run neither loses nor counts a page twice. A line's row is replaced
when it changes (a sync sends its new version) and removed when it is deleted in Exact or
left out of a re-import's scope; the reporting periods whose totals changed are kept in
``trial_stale`` (per data source, across runs) until the check reads those periods of
ReportingBalance again (``trial_rereads`` paces it). The totals are
summed by PostgreSQL per key: memory stays flat however large the ledger.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts import Entity
from ingest.adapters import refresh_store
from ingest.adapters.pg_arrays import array
from ingest.adapters.tables import trial_exact, trial_lines, trial_rereads, trial_stale
from ingest.domain.model import Run
from ingest.domain.refresh import PageHashes
from ingest.domain.trial_balance import (
    OPENING_BALANCE_TYPE,
    LedgerLine,
    LineScope,
    Period,
    PeriodScope,
    TrialKey,
    TrialPage,
    TrialRules,
    YearScope,
    touched_periods,
)

UPSERT_LINES = """
    INSERT INTO ingest.trial_lines AS t (datasource_id, line_id, year, period, gl_code, type,
                                         status, amount, on_date, seen_run_id)
    SELECT :ds, * , :run FROM unnest(CAST(:line_ids AS text[]), CAST(:line_years AS int[]),
        CAST(:line_periods AS int[]), CAST(:line_gls AS text[]), CAST(:line_types AS int[]),
        CAST(:line_statuses AS int[]), CAST(:line_amounts AS numeric[]),
        CAST(:line_dates AS date[])) {gate}
    ON CONFLICT (datasource_id, line_id) DO UPDATE SET year = excluded.year,
        period = excluded.period, gl_code = excluded.gl_code, type = excluded.type,
        status = excluded.status, amount = excluded.amount, on_date = excluded.on_date,
        seen_run_id = excluded.seen_run_id"""
UPSERT_BALANCES = """
    INSERT INTO ingest.trial_exact AS t (datasource_id, row_id, year, period, gl_code, status,
                                         amount, seen_run_id)
    SELECT :ds, *, :run FROM unnest(CAST(:balance_ids AS bigint[]),
        CAST(:balance_years AS int[]), CAST(:balance_periods AS int[]),
        CAST(:balance_gls AS text[]), CAST(:balance_statuses AS int[]),
        CAST(:balance_amounts AS numeric[])) {gate}
    ON CONFLICT (datasource_id, row_id) DO UPDATE SET year = excluded.year,
        period = excluded.period, gl_code = excluded.gl_code, status = excluded.status,
        amount = excluded.amount, seen_run_id = excluded.seen_run_id"""
"""One statement per page with one array per column (a page is up to 1000 rows: a
multi-row VALUES would bind 10,000 parameters and cost far more than the page's own work).
Each array is bound as its PostgreSQL text literal (:mod:`ingest.adapters.pg_arrays`).
A run's page runs them inside its fenced statement (:func:`upserts`); their parameter names
are unique among that statement's parts (``ds`` and ``run`` are shared)."""
_UPSERT_LINES, _UPSERT_BALANCES = (sa.text(sql.replace("{gate}", ""))
                                    for sql in (UPSERT_LINES, UPSERT_BALANCES))


def upserts(run: Run, page: TrialPage) -> list[tuple[str, dict[str, object]]]:
    """The page's upserts that may run before the rest of :func:`write_trial` (as parts of the
    page's fenced statement), with their parameters: its balances, and its lines unless
    their periods are tracked (that reads the lines' rows before they are replaced)."""
    found: list[tuple[str, dict[str, object]]] = []
    if page.lines and not page.track_years:
        found.append((UPSERT_LINES, _line_params(run, _last_per_id(page.lines))))
    if page.balances:
        found.append((UPSERT_BALANCES, _balance_params(run, page)))
    return found


def upserts_are_all(page: TrialPage) -> bool:
    """Whether :func:`upserts` is all the page writes (:func:`write_trial` has nothing left)."""
    return not (page.lines and page.track_years) and not page.deleted_lines \
        and page.sweep_lines is None and page.sweep_balances is None


async def write_trial(conn: AsyncConnection, run: Run, page: TrialPage,
                      upserted: bool = False) -> None:
    """Write the page's trial-balance state; ``upserted``: its :func:`upserts` already ran."""
    ds = run.datasource_id
    touched: set[Period] = set()
    if page.lines and not (upserted and not page.track_years):
        lines = _last_per_id(page.lines)
        ids = [x.line_id for x in lines]
        if page.track_years:
            before = {r.line_id: _line(r) for r in (await conn.execute(
                sa.select(trial_lines).where(trial_lines.c.datasource_id == ds,
                                             trial_lines.c.line_id == sa.func.any(
                                                 sa.bindparam("ids", ids, type_=ARRAY(sa.Text))))
            )).all()}
            touched |= touched_periods(before, lines)
        await conn.execute(_UPSERT_LINES, _line_params(run, lines))
    if page.deleted_lines:
        gone = await conn.execute(trial_lines.delete().where(
            trial_lines.c.datasource_id == ds, trial_lines.c.line_id.in_(page.deleted_lines))
            .returning(trial_lines.c.year, trial_lines.c.period))
        touched.update((r[0], r[1]) for r in gone.all())
    if page.sweep_lines is not None:
        gone = await conn.execute(trial_lines.delete().where(
            *_line_scope(page.sweep_lines), trial_lines.c.datasource_id == ds,
            trial_lines.c.seen_run_id != run.run_id)
            .returning(trial_lines.c.year, trial_lines.c.period))
        touched.update((r[0], r[1]) for r in gone.all())
    await _write_balances(conn, run, page, upserted)
    if touched and page.track_years:
        await conn.execute(insert(trial_stale).values(
            [{"datasource_id": ds, "year": y, "period": p} for y, p in sorted(touched)])
            .on_conflict_do_nothing())


def _line_params(run: Run, lines: list[LedgerLine]) -> dict[str, object]:
    return {"ds": run.datasource_id, "run": run.run_id,
            "line_ids": array((x.line_id for x in lines), text=True),
            "line_years": array(x.year for x in lines),
            "line_periods": array(x.period for x in lines),
            "line_gls": array((x.gl_code for x in lines), text=True),
            "line_types": array(x.type for x in lines),
            "line_statuses": array(x.status for x in lines),
            "line_amounts": array(x.amount for x in lines),
            "line_dates": array(x.on for x in lines)}


def _balance_params(run: Run, page: TrialPage) -> dict[str, object]:
    rows = list({b.row_id: b for b in page.balances}.values())
    return {"ds": run.datasource_id, "run": run.run_id,
            "balance_ids": array(b.row_id for b in rows),
            "balance_years": array(b.year for b in rows),
            "balance_periods": array(b.period for b in rows),
            "balance_gls": array((b.gl_code for b in rows), text=True),
            "balance_statuses": array(b.status for b in rows),
            "balance_amounts": array(b.amount for b in rows)}


async def _write_balances(conn: AsyncConnection, run: Run, page: TrialPage,
                          upserted: bool = False) -> None:
    ds = run.datasource_id
    if page.balances and not upserted:
        await conn.execute(_UPSERT_BALANCES, _balance_params(run, page))
    if page.sweep_balances is not None:
        await conn.execute(trial_exact.delete().where(
            *_balance_scope(trial_exact, page.sweep_balances), trial_exact.c.datasource_id == ds,
            trial_exact.c.seen_run_id != run.run_id))
        if isinstance(page.sweep_balances, PeriodScope):  # these periods are current again
            await conn.execute(trial_stale.delete().where(
                *_balance_scope(trial_stale, page.sweep_balances),
                trial_stale.c.datasource_id == ds))


class PostgresTrialStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def stale_periods(self, datasource_id: uuid.UUID) -> set[Period]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(trial_stale.c.year, trial_stale.c.period)
                                      .where(trial_stale.c.datasource_id == datasource_id))
            return {(r[0], r[1]) for r in rows.all()}

    async def forget_stale(self, datasource_id: uuid.UUID, periods: set[Period]) -> None:
        if not periods:
            return
        async with self._engine.begin() as conn:
            await conn.execute(trial_stale.delete().where(
                trial_stale.c.datasource_id == datasource_id,
                sa.tuple_(trial_stale.c.year, trial_stale.c.period).in_(sorted(periods))))

    async def balance_rows(self, datasource_id: uuid.UUID, scopes: list[PeriodScope]) -> int:
        """ReportingBalance rows held for these periods (what re-reading them costs)."""
        if not scopes:
            return 0
        async with self._engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).where(
                trial_exact.c.datasource_id == datasource_id,
                sa.or_(*(sa.and_(*_balance_scope(trial_exact, s)) for s in scopes)))) or 0)

    async def last_reread(self, datasource_id: uuid.UUID) -> datetime | None:
        async with self._engine.connect() as conn:
            at: datetime | None = await conn.scalar(sa.select(trial_rereads.c.reread_at).where(
                trial_rereads.c.datasource_id == datasource_id))
            return at

    async def record_reread(self, datasource_id: uuid.UUID, at: datetime, calls: int) -> None:
        async with self._engine.begin() as conn:
            stmt = insert(trial_rereads).values(datasource_id=datasource_id, reread_at=at,
                                                calls=calls)
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=[trial_rereads.c.datasource_id],
                set_={"reread_at": at, "calls": calls}))

    async def differing(self, datasource_id: uuid.UUID, page: PageHashes) -> set[str]:
        return await refresh_store.differing(self._engine, datasource_id, page)

    async def unseen_balances(self, run: Run, scope: PeriodScope) -> list[str]:
        """Ids of the ReportingBalance rows held for ``scope`` that ``run`` did not read again
        (before the scope's sweep: Exact no longer reports them)."""
        async with self._engine.connect() as conn:
            ids = (await conn.scalars(sa.select(trial_exact.c.row_id).where(
                *_balance_scope(trial_exact, scope), trial_exact.c.datasource_id == run.datasource_id,
                trial_exact.c.seen_run_id != run.run_id).order_by(trial_exact.c.row_id))).all()
        return [str(i) for i in ids]

    async def save_balances(self, run: Run, page: TrialPage, hashes: PageHashes | None = None,
                            gone: list[str] | None = None) -> None:
        """A page of ReportingBalance the check read again, with the refresh hashes of what
        consumers now hold of it (``gone``: rows sent as deleted) in the same transaction."""
        async with self._engine.begin() as conn:
            await _write_balances(conn, run, page)
            if hashes is not None:
                await refresh_store.write_hashes(conn, run, hashes)
            await refresh_store.forget_hashes(conn, run.datasource_id,
                                              Entity.REPORTING_BALANCE.value, gone or [])

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


def _balance_scope(table: sa.Table, scope: YearScope | PeriodScope
                   ) -> list[sa.ColumnElement[bool]]:
    if isinstance(scope, PeriodScope):
        return [table.c.year == scope.year, table.c.period >= scope.period_from,
                table.c.period <= scope.period_to]
    where: list[sa.ColumnElement[bool]] = []
    if scope.year_from is not None:
        where.append(table.c.year >= scope.year_from)
    if scope.year_to is not None:
        where.append(table.c.year <= scope.year_to)
    return where
