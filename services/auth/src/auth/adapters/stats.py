"""Read-only counts for the metrics endpoint (grouped counts, no locks)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.adapters.tables import authorizations, grants


async def authorizations_by_status(engine: AsyncEngine) -> dict[tuple[str, str], int]:
    """``{(status, failure code or ""): count}``."""
    a = authorizations
    reason = sa.func.coalesce(a.c.failure_code, "")
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(a.c.status, reason, sa.func.count())
                                  .group_by(a.c.status, reason))
        return {(str(status), str(code)): int(count) for status, code, count in rows.all()}


async def grants_by_status(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(grants.c.status, sa.func.count())
                                  .group_by(grants.c.status))
        return {str(status): int(count) for status, count in rows.all()}
