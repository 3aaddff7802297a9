"""The trial balance from the sink's own tables, against the ReportingBalance rows it holds.

The same rules as the connector's ``TrialBalanceChecked`` (docs/trial-balance.md), so a
downstream team can run the check on its side: per (reporting year, period, G/L account code)
the sum of ``amount_dc`` of the TransactionLines, against the sum of ``amount`` of the
ReportingBalance rows, both over the same statuses (``processed``: Status 50;
``after_entry``: 20 and 50). Opening-balance lines (Type 10) count in the period they are
booked in, or in period 0 with ``opening_period="zero"``.

The sink's ReportingBalance is as of the connector's last read of it: in full (the initial
run, a re-import, or the periodic refresh), or the periods a sync changed, which the
connector's check reads again at most once per re-read interval (1 h by default) and sends on;
right after a sync whose re-read waits the two may differ where lines changed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import Entity, OpeningBalancePeriod, TrialBalanceBasis
from ledger_sink.store import ENTITY_TABLES

STATUSES: dict[str, tuple[int, ...]] = {"processed": (50,), "after_entry": (20, 50)}
OPENING_BALANCE_TYPE = 10

Key = tuple[int, int, str]


@dataclass(frozen=True)
class KeyTotals:
    year: int
    period: int
    gl_account_code: str
    ledger: Decimal
    exact: Decimal

    @property
    def difference(self) -> Decimal:
        return self.exact - self.ledger


@dataclass(frozen=True)
class TrialBalanceReport:
    keys: list[KeyTotals]
    tolerance: Decimal

    def matches(self, key: KeyTotals) -> bool:
        return abs(key.difference) <= self.tolerance

    @property
    def differing(self) -> list[KeyTotals]:
        return sorted((k for k in self.keys if not self.matches(k)),
                      key=lambda k: (-abs(k.difference), k.year, k.period, k.gl_account_code))

    @property
    def total_abs_difference(self) -> Decimal:
        return sum((abs(k.difference) for k in self.differing), Decimal(0))


async def trial_balance(conn: AsyncConnection, datasource_id: uuid.UUID, *,
                        basis: TrialBalanceBasis = "processed",
                        opening_period: OpeningBalancePeriod = "as_booked",
                        tolerance: Decimal = Decimal("0.005")) -> TrialBalanceReport:
    lines = ENTITY_TABLES[Entity.TRANSACTION_LINES]
    balances = ENTITY_TABLES[Entity.REPORTING_BALANCE]
    statuses = [str(s) for s in STATUSES[basis]]
    period: Any = lines.c.financial_period
    if opening_period == "zero":
        period = sa.case((lines.c.row["type"].astext == str(OPENING_BALANCE_TYPE), 0),
                         else_=period)
    gl_line = sa.func.coalesce(lines.c.row["gl_account_code"].astext, "")
    ledger = (sa.select(lines.c.financial_year, period, gl_line, sa.func.sum(lines.c.amount_dc))
              .where(lines.c.datasource_id == datasource_id,
                     lines.c.row["status"].astext.in_(statuses))
              .group_by(lines.c.financial_year, period, gl_line))
    gl_rb = sa.func.coalesce(balances.c.row["gl_account_code"].astext, "")
    amount = sa.cast(balances.c.row["amount"].astext, sa.Numeric)
    exact = (sa.select(balances.c.financial_year, balances.c.financial_period, gl_rb,
                       sa.func.sum(amount))
             .where(balances.c.datasource_id == datasource_id,
                    balances.c.row["status"].astext.in_(statuses))
             .group_by(balances.c.financial_year, balances.c.financial_period, gl_rb))
    mine = {(y, p, g): Decimal(a) for y, p, g, a in (await conn.execute(ledger)).all()}
    theirs = {(y, p, g): Decimal(a) for y, p, g, a in (await conn.execute(exact)).all()}
    keys = [KeyTotals(k[0], k[1], k[2], mine.get(k, Decimal(0)), theirs.get(k, Decimal(0)))
            for k in sorted(set(mine) | set(theirs))]
    return TrialBalanceReport(keys, tolerance)
