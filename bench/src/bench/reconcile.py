"""Exact reconciliation of the example sink's copy with the sandbox's expected figures.

Per entity the row count and the ID hash (order-independent, so a missing, extra or
wrong row shows); for TransactionLines the sum and the debit sum of AmountDC, overall
and per financial year and period; for Budgets the sum of AmountDC. 0 rows lost and 0
rows wrong means every figure matches; duplicates on the topic are harmless only because
the sink upserts by row id, which the counts prove.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine

from contracts import Entity
from ledger_sink.reconcile import EntityFigures, figures


@dataclass
class Reconciliation:
    rows: int = 0
    expected_rows: int = 0
    checks: int = 0
    mismatches: list[str] = field(default_factory=list)
    periods: int = 0

    @property
    def ok(self) -> bool:
        return self.checks > 0 and not self.mismatches

    def summary(self) -> str:
        text = (f"rows {self.rows}/{self.expected_rows}, {self.checks - len(self.mismatches)}/"
                f"{self.checks} figures match ({self.periods} periods)")
        if self.mismatches:
            text += "; first mismatch: " + self.mismatches[0]
        return text


def compare(ours: dict[Entity, EntityFigures], expected: dict[str, Any]) -> Reconciliation:
    result = Reconciliation()

    def check(what: str, mine: object, theirs: object) -> None:
        result.checks += 1
        same = (Decimal(str(mine)) == Decimal(str(theirs))
                if isinstance(mine, Decimal) or isinstance(theirs, Decimal) else mine == theirs)
        if not same:
            result.mismatches.append(f"{what}: sink {mine} != sandbox {theirs}")

    for name, exp in expected["entities"].items():
        try:
            entity = Entity(name)
        except ValueError:
            continue  # e.g. "Deleted": not a ledger entity
        mine = ours[entity]
        result.rows += mine.rows
        result.expected_rows += int(exp["count"])
        check(f"{name} rows", mine.rows, exp["count"])
        check(f"{name} id hash", mine.id_hash, exp["id_hash"])
        if "sum_amount_dc" in exp and mine.amount_dc_sum is not None:
            check(f"{name} sum AmountDC", mine.amount_dc_sum, Decimal(exp["sum_amount_dc"]))
        if "sum_debit_dc" in exp and mine.amount_dc_debit_sum is not None:
            check(f"{name} debit AmountDC", mine.amount_dc_debit_sum, Decimal(exp["sum_debit_dc"]))
        for period in exp.get("by_period", []):
            key = (period["financial_year"], period["financial_period"])
            have = mine.per_period.get(key)
            label = f"{name} {key[0]}/{key[1]}"
            result.periods += 1
            if have is None:
                result.checks += 1
                result.mismatches.append(f"{label}: missing in the sink")
                continue
            check(f"{label} rows", have.rows, period["count"])
            check(f"{label} sum AmountDC", have.amount_dc_sum, Decimal(period["sum_amount_dc"]))
            check(f"{label} debit AmountDC", have.amount_dc_debit_sum,
                  Decimal(period["sum_debit_dc"]))
        extra = set(mine.per_period) - {(p["financial_year"], p["financial_period"])
                                        for p in exp.get("by_period", [])}
        if extra:
            result.checks += 1
            result.mismatches.append(f"{name}: periods not in the sandbox: {sorted(extra)[:5]}")
    return result


async def reconcile(database_url: str, datasource_id: uuid.UUID, expected: dict[str, Any],
                    timeout: float = 300.0) -> Reconciliation:
    """Compare once the sink caught up (or ``timeout`` passed: then the last comparison)."""
    engine = create_async_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    result = Reconciliation(mismatches=["the sink has no tables yet"], checks=1)
    try:
        while True:
            try:
                async with engine.connect() as conn:
                    result = compare(await figures(conn, datasource_id), expected)
            except ProgrammingError:
                pass  # the sink has not created its schema yet
            # rows still arriving: wait; anything else settles once the counts match
            if result.ok or loop.time() > deadline or (
                    result.rows >= result.expected_rows and result.checks > 1):
                return result
            await asyncio.sleep(1.0)
    finally:
        await engine.dispose()
