"""Read-only figures about runs for the metrics endpoint (one grouped count, no locks)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.adapters.tables import runs


async def runs_by_status(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status))
        return {str(status): int(count) for status, count in rows.all()}
