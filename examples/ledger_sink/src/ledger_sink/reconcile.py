"""Reconciliation: what the sink holds for a data source, against what the run reported.

Per entity: row count and the id hash (``contracts.id_hash``); for
TransactionLines and Budgets also the sum of AmountDC, and for TransactionLines
the sum per financial year and period. Compared with the last ``RunCompleted``
of the data source and, when given, with figures from elsewhere (the sandbox's
expected figures in the demo and tests).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import Entity, id_hash
from ledger_sink.store import ENTITY_TABLES, last_completed_run

SUMMED = {Entity.TRANSACTION_LINES, Entity.BUDGETS}


@dataclass(frozen=True)
class PeriodFigures:
    rows: int
    amount_dc_sum: Decimal
    amount_dc_debit_sum: Decimal


@dataclass
class EntityFigures:
    entity: Entity
    rows: int
    id_hash: str
    amount_dc_sum: Decimal | None = None
    amount_dc_debit_sum: Decimal | None = None
    per_period: dict[tuple[int, int], PeriodFigures] = field(default_factory=dict)


@dataclass
class Check:
    entity: Entity
    figure: str
    ours: Any
    theirs: Any

    @property
    def ok(self) -> bool:
        if isinstance(self.ours, Decimal) or isinstance(self.theirs, Decimal):
            return Decimal(str(self.ours)) == Decimal(str(self.theirs))
        return bool(self.ours == self.theirs)


async def figures(conn: AsyncConnection, datasource_id: uuid.UUID) -> dict[Entity, EntityFigures]:
    result: dict[Entity, EntityFigures] = {}
    for entity, table in ENTITY_TABLES.items():
        where = table.c.datasource_id == datasource_id
        ids = (await conn.execute(sa.select(table.c.row_id).where(where))).scalars().all()
        fig = EntityFigures(entity, len(ids), id_hash(ids))
        if entity in SUMMED:
            total = await conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(table.c.amount_dc), 0))
                                      .where(where))
            fig.amount_dc_sum = Decimal(total or 0).quantize(Decimal("0.01"))
            debit = await conn.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(table.c.amount_dc), 0))
                .where(where, table.c.amount_dc > 0))
            fig.amount_dc_debit_sum = Decimal(debit or 0).quantize(Decimal("0.01"))
        if entity is Entity.TRANSACTION_LINES:
            debit = sa.func.coalesce(
                sa.func.sum(table.c.amount_dc).filter(table.c.amount_dc > 0), 0)
            rows = await conn.execute(
                sa.select(table.c.financial_year, table.c.financial_period, sa.func.count(),
                          sa.func.sum(table.c.amount_dc), debit)
                .where(where).group_by(table.c.financial_year, table.c.financial_period)
            )
            cent = Decimal("0.01")
            fig.per_period = {
                (y, p): PeriodFigures(n, Decimal(s).quantize(cent), Decimal(d).quantize(cent))
                for y, p, n, s, d in rows
            }
        result[entity] = fig
    return result


async def against_last_run(conn: AsyncConnection, datasource_id: uuid.UUID) -> list[Check]:
    """Compare stored figures with the totals of the data source's last completed run."""
    run = await last_completed_run(conn, datasource_id)
    if run is None:
        return []
    ours = await figures(conn, datasource_id)
    checks: list[Check] = []
    for total in run["totals"]:
        entity = Entity(total["entity"])
        mine = ours[entity]
        checks.append(Check(entity, "rows", mine.rows, total["rows"]))
        checks.append(Check(entity, "id_hash", mine.id_hash, total["id_hash"]))
        for figure in ("amount_dc_sum", "amount_dc_debit_sum"):
            if total.get(figure) is not None and getattr(mine, figure) is not None:
                checks.append(Check(entity, figure, getattr(mine, figure), Decimal(total[figure])))
    return checks


def against_expected(ours: dict[Entity, EntityFigures], expected: dict[str, Any]) -> list[Check]:
    """Compare with externally known figures: ``{entity: {rows, id_hash, amount_dc_sum?}}``."""
    checks: list[Check] = []
    for name, exp in expected.items():
        try:
            entity = Entity(name)
        except ValueError:
            continue
        mine = ours[entity]
        if "rows" in exp:
            checks.append(Check(entity, "rows", mine.rows, exp["rows"]))
        if "id_hash" in exp:
            checks.append(Check(entity, "id_hash", mine.id_hash, exp["id_hash"]))
        for figure in ("amount_dc_sum", "amount_dc_debit_sum"):
            if exp.get(figure) is not None and getattr(mine, figure) is not None:
                checks.append(Check(entity, figure, getattr(mine, figure), Decimal(str(exp[figure]))))
    return checks
