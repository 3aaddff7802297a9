"""Read-only counts for the metrics endpoint (grouped counts, no locks)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from datasource.adapters.tables import datasources, runs


async def datasources_by_state(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(datasources.c.state, sa.func.count())
                                  .group_by(datasources.c.state))
        return {str(state): int(count) for state, count in rows.all()}


async def runs_by_status(engine: AsyncEngine) -> dict[tuple[str, str], int]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(runs.c.kind, runs.c.status, sa.func.count())
                                  .group_by(runs.c.kind, runs.c.status))
        return {(str(kind), str(status)): int(count) for kind, status, count in rows.all()}
