"""SQLAlchemy (Core, async) repositories over one connection in a transaction.

Loads for a change lock the row (``SELECT ... FOR UPDATE``) until the transaction
ends: commands, auth events and run events about one data source arrive on
different topics and may be handled at the same moment.
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from datasource.adapters import rows
from datasource.adapters.tables import company_domains, datasources, runs
from datasource.domain import CompanyDomain, DataSource, Run


class SqlCompanyDomains:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, domain_id: UUID, *, lock: bool = False) -> CompanyDomain | None:
        query = sa.select(company_domains).where(company_domains.c.id == domain_id)
        if lock:
            # NO KEY UPDATE: does not block inserting data sources that reference the domain.
            query = query.with_for_update(key_share=True)
        row = (await self._conn.execute(query)).mappings().first()
        return rows.domain_from_row(row) if row else None

    async def add(self, domain: CompanyDomain) -> None:
        await self._conn.execute(company_domains.insert().values(rows.domain_values(domain)))


class SqlDataSources:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, datasource_id: UUID) -> DataSource | None:
        return await self._one(datasources.c.id == datasource_id)

    async def get_by_grant(self, grant_id: UUID) -> DataSource | None:
        return await self._one(datasources.c.grant_id == grant_id)

    async def bound_to(self, company_domain_id: UUID, division: int, *, other_than: UUID) -> UUID | None:
        found = await self._conn.scalar(
            sa.select(datasources.c.id).where(
                datasources.c.company_domain_id == company_domain_id,
                datasources.c.division == division,
                datasources.c.id != other_than,
            )
        )
        return found

    async def add(self, datasource: DataSource) -> None:
        await self._conn.execute(datasources.insert().values(rows.datasource_values(datasource)))

    async def update(self, datasource: DataSource) -> None:
        values = rows.datasource_values(datasource)
        del values["id"]
        await self._conn.execute(
            datasources.update().where(datasources.c.id == datasource.id).values(values)
        )

    async def _one(self, condition: sa.ColumnElement[bool]) -> DataSource | None:
        row = (
            await self._conn.execute(sa.select(datasources).where(condition).with_for_update())
        ).mappings().first()
        return rows.datasource_from_row(row) if row else None


class SqlRuns:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, run_id: UUID) -> Run | None:
        row = (
            await self._conn.execute(
                sa.select(runs).where(runs.c.run_id == run_id).with_for_update()
            )
        ).mappings().first()
        return rows.run_from_row(row) if row else None

    async def ids_of(self, datasource_id: UUID) -> list[UUID]:
        result = await self._conn.execute(
            sa.select(runs.c.run_id).where(runs.c.datasource_id == datasource_id)
            .order_by(runs.c.requested_at))
        return [row[0] for row in result]

    async def add(self, run: Run) -> None:
        await self._conn.execute(runs.insert().values(rows.run_values(run)))

    async def update(self, run: Run) -> None:
        values = rows.run_values(run)
        del values["run_id"]
        await self._conn.execute(runs.update().where(runs.c.run_id == run.run_id).values(values))
