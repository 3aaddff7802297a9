"""The read side: queries behind the HTTP read API (no locks, no writes)."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from datasource import views
from datasource.adapters import rows
from datasource.adapters.tables import company_domains, datasources, runs
from datasource.domain import Run
from datasource.domain.runs import SYNC_KINDS


class SqlReads:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def company_domains(self) -> list[views.CompanyDomainView]:
        count = (
            sa.select(sa.func.count())
            .where(datasources.c.company_domain_id == company_domains.c.id)
            .scalar_subquery()
        )
        query = sa.select(company_domains, count.label("n")).order_by(
            company_domains.c.created_at, company_domains.c.id
        )
        async with self._engine.connect() as conn:
            result = (await conn.execute(query)).mappings().all()
        return [views.domain_view(rows.domain_from_row(r), r["n"]) for r in result]

    async def datasources(self, *, company_domain_id: UUID | None = None,
                          state: str | None = None) -> list[views.DataSourceSummaryView]:
        query = _with_domain_name()
        if company_domain_id is not None:
            query = query.where(datasources.c.company_domain_id == company_domain_id)
        if state is not None:
            query = query.where(datasources.c.state == state)
        query = query.order_by(datasources.c.created_at, datasources.c.id)
        async with self._engine.connect() as conn:
            found = (await conn.execute(query)).mappings().all()
            latest = await self._latest_runs(conn, [r["id"] for r in found])
        return [
            views.summary_view(rows.datasource_from_row(r), r["domain_name"],
                               *latest.get(r["id"], (None, None)))
            for r in found
        ]

    async def datasource(self, datasource_id: UUID, *, run_limit: int = 20) -> views.DataSourceView | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(_with_domain_name().where(datasources.c.id == datasource_id))
            ).mappings().first()
            if row is None:
                return None
            run_rows = (
                await conn.execute(
                    sa.select(runs).where(runs.c.datasource_id == datasource_id)
                    .order_by(runs.c.requested_at.desc(), runs.c.run_id).limit(run_limit)
                )
            ).mappings().all()
            latest = (await self._latest_runs(conn, [datasource_id])).get(
                datasource_id, (None, None))
        return views.datasource_view(rows.datasource_from_row(row), row["domain_name"],
                                     [rows.run_from_row(r) for r in run_rows],
                                     latest=latest)

    async def run(self, run_id: UUID) -> views.RunView | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(runs).where(runs.c.run_id == run_id))).mappings().first()
        return views.run_view(rows.run_from_row(row)) if row else None

    async def _latest_runs(self, conn: AsyncConnection,
                           ids: list[UUID]) -> dict[UUID, tuple[Run | None, Run | None]]:
        """Per data source: (newest initial run or re-import, newest scheduled sync)."""
        if not ids:
            return {}
        sync = runs.c.kind.in_(sorted(SYNC_KINDS))
        query = (
            sa.select(runs).where(runs.c.datasource_id.in_(ids))
            .ext(distinct_on(runs.c.datasource_id, sync))
            .order_by(runs.c.datasource_id, sync, runs.c.requested_at.desc(), runs.c.run_id)
        )
        result = (await conn.execute(query)).mappings().all()
        out: dict[UUID, tuple[Run | None, Run | None]] = {}
        for r in result:
            run = rows.run_from_row(r)
            last_run, last_sync = out.get(r["datasource_id"], (None, None))
            if run.kind in SYNC_KINDS:
                last_sync = run
            else:
                last_run = run
            out[r["datasource_id"]] = (last_run, last_sync)
        return out


def _with_domain_name() -> sa.Select[tuple[object, ...]]:
    return sa.select(datasources, company_domains.c.name.label("domain_name")).join(
        company_domains, company_domains.c.id == datasources.c.company_domain_id
    )
