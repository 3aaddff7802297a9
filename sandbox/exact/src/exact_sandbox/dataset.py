"""One division's data: lazy base tables plus a small overlay of admin changes.

The base never changes and is never materialised for TransactionLines. Changes live in an
`Overlay` per entity (updated and inserted rows, deleted indexes, a Timestamp log), so the
regular/bulk order (row index) and the sync order (Timestamp) are both served by merging a
lazy base iterator with a few overlay rows.
"""

from __future__ import annotations

import bisect
import heapq
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from exact_sandbox.ledger import Ledger
from exact_sandbox.masterdata import TS_BASE, TS_CHANGES, MasterData
from exact_sandbox.query import Pred
from exact_sandbox.schema import (
    ACCOUNTS,
    BUDGETS,
    COST_CENTERS,
    COST_UNITS,
    FINANCIAL_PERIODS,
    GL_ACCOUNT_CLASSIFICATION_MAPPINGS,
    GL_ACCOUNTS,
    GL_CLASSIFICATIONS,
    JOURNALS,
    PAYMENT_TERMS,
    TRANSACTION_LINES,
    Schema,
)
from exact_sandbox.seed import Division

Row = tuple[str, ...]
Indexed = tuple[int, Row]

# Entities that have a sync twin, with their sync/Deleted EntityType.
SYNC_ENTITY_TYPES = {"TransactionLines": 1, "Accounts": 2, "GLAccounts": 7,
                     "GLClassifications": 18, "PaymentTerms": 10}


class BaseTable:
    """Generated rows of one entity, addressed by index."""

    def __init__(self, schema: Schema, rows: Sequence[Row], sorted_by: str | None = None) -> None:
        self.schema = schema
        self._rows = rows
        self._ids: dict[str, int] | None = None
        self._ints: dict[int, int] | None = None
        self._sorted_by = sorted_by
        """An integer field the rows are in ascending order of: filters on it are answered
        from that order, as a database answers them from an index."""
        self._keys: list[int] | None = None

    @property
    def size(self) -> int:
        return len(self._rows)

    def rows(self, start: int, stop: int) -> Iterator[Indexed]:
        for i in range(max(0, start), min(stop, len(self._rows))):
            yield i, self._rows[i]

    def index_of_id(self, guid: str) -> int | None:
        if self._ids is None:
            self._ids = {r[0][1:-1].lower(): i for i, r in enumerate(self._rows)}
        return self._ids.get(guid.lower())

    def index_of_int(self, key: int) -> int | None:
        """Row of an Int64/Int32 key (ReportingBalance ID, Division Code)."""
        if self.schema.fields[0][1] not in ("int", "int64"):
            return None
        if self._ints is None:
            self._ints = {int(r[0]): i for i, r in enumerate(self._rows)}
        return self._ints.get(key)

    def narrow(self, preds: list[Pred]) -> tuple[int, int, list[Pred]]:
        """Index range that can hold matches, and the predicates still to test per row."""
        lo, hi, rest = 0, self.size, []
        for p in preds:
            if p.field != self._sorted_by or type(p.value) is not int or p.op == "ne":
                rest.append(p)
                continue
            if self._keys is None:
                at = self.schema.index(p.field)
                self._keys = [int(r[at]) for r in self._rows]
            if p.op in ("ge", "eq"):
                lo = max(lo, bisect.bisect_left(self._keys, p.value))
            if p.op == "gt":
                lo = max(lo, bisect.bisect_right(self._keys, p.value))
            if p.op in ("le", "eq"):
                hi = min(hi, bisect.bisect_right(self._keys, p.value))
            if p.op == "lt":
                hi = min(hi, bisect.bisect_left(self._keys, p.value))
        return lo, max(lo, hi), rest


class LedgerTable(BaseTable):
    """TransactionLines: lazy rows; ID and date filters become index ranges."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(TRANSACTION_LINES, [])
        self.ledger = ledger

    @property
    def size(self) -> int:
        return self.ledger.n

    def rows(self, start: int, stop: int) -> Iterator[Indexed]:
        return self.ledger.rows(start, stop)

    def index_of_id(self, guid: str) -> int | None:
        return self.ledger.index_of_id(guid)

    def narrow(self, preds: list[Pred]) -> tuple[int, int, list[Pred]]:
        led = self.ledger
        lo, hi, rest = 0, led.n, []
        keys = {
            "Created": led.created_ms_of, "Modified": led.created_ms_of,
            "Date": lambda i: led.day_ms[led.day_of(i)],
            "FinancialYear": lambda i: led.day_year[led.day_of(i)],
        }
        for p in preds:
            key = keys.get(p.field)
            if p.field == "ID" and p.op == "eq":
                i = led.index_of_id(str(p.value))
                lo, hi = (max(lo, i), min(hi, i + 1)) if i is not None else (0, 0)
            elif key is not None and isinstance(p.value, int) and p.op != "ne":
                v = p.value
                if p.op in ("ge", "eq"):
                    lo = max(lo, led.first_index(key, v))
                if p.op == "gt":
                    lo = max(lo, led.first_index(key, v + 1))
                if p.op in ("le", "eq"):
                    hi = min(hi, led.first_index(key, v + 1))
                if p.op == "lt":
                    hi = min(hi, led.first_index(key, v))
            else:
                rest.append(p)
        return lo, max(lo, hi), rest


@dataclass
class Overlay:
    """Changes to one entity: rows by logical index, deletions and the Timestamp log."""

    base_size: int
    rows: dict[int, Row] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    inserted: int = 0
    ids: dict[str, int] = field(default_factory=dict)
    log_ts: list[int] = field(default_factory=list)
    log_idx: list[int] = field(default_factory=list)
    current_ts: dict[int, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.rows and not self.deleted

    def put(self, index: int, row: Row, ts: int) -> None:
        self.rows[index] = row
        self.current_ts[index] = ts
        self.log_ts.append(ts)
        self.log_idx.append(index)

    def delete(self, index: int) -> None:
        self.deleted.add(index)
        self.rows.pop(index, None)
        self.current_ts.pop(index, None)


class EntityView:
    """Base table + overlay, in logical (index) order and in sync (Timestamp) order."""

    def __init__(self, base: BaseTable, overlay: Overlay | None) -> None:
        self.base = base
        self.schema = base.schema
        self.overlay = overlay

    @property
    def size(self) -> int:
        """Logical index space (base rows + inserted rows, deleted ones included)."""
        return self.base.size + (self.overlay.inserted if self.overlay else 0)

    def index_of_id(self, guid: str) -> int | None:
        ov = self.overlay
        if ov is not None and guid.lower() in ov.ids:
            i: int | None = ov.ids[guid.lower()]
        else:
            i = self.base.index_of_id(guid)
        if i is None or (ov is not None and i in ov.deleted):
            return None
        return i

    def position_of(self, token: str | int) -> int | None:
        """Logical index of a $skiptoken row, deleted or not (paging must not break)."""
        if isinstance(token, int):
            return self.base.index_of_int(token)
        ov = self.overlay
        if ov is not None and token in ov.ids:
            return ov.ids[token]
        return self.base.index_of_id(token)

    def scan(self, start: int, preds: list[Pred]) -> Iterator[Indexed]:
        """Matching rows with logical index >= start, ascending."""
        lo, hi, rest = self.base.narrow(preds)
        base_iter = self.base.rows(max(lo, start), hi)
        ov = self.overlay
        if ov is None or ov.empty:
            if not rest:
                yield from base_iter
            else:
                for i, row in base_iter:
                    if all(p.test(row) for p in rest):
                        yield i, row
            return
        extra = sorted(
            (i, r) for i, r in ov.rows.items() if i >= start and not (lo <= i < hi)
        )
        for i, row in heapq.merge(base_iter, extra, key=lambda t: t[0]):
            if i in ov.deleted:
                continue
            if i in ov.rows:
                row = ov.rows[i]
                if all(p.test(row) for p in preds):
                    yield i, row
            elif all(p.test(row) for p in rest):
                yield i, row

    def scan_sync(self, after_ts: int) -> Iterator[Row]:
        """Rows with Timestamp > after_ts in Timestamp order (base first, then changes)."""
        base_ts = TS_BASE[self.schema.name] + 1
        ov = self.overlay
        start = max(0, after_ts - base_ts + 1)
        for i, row in self.base.rows(start, self.base.size):
            if ov is not None and (i in ov.deleted or i in ov.rows):
                continue
            yield row
        if ov is None:
            return
        pos = bisect.bisect_right(ov.log_ts, after_ts)
        for ts, i in zip(ov.log_ts[pos:], ov.log_idx[pos:], strict=True):
            if ov.current_ts.get(i) == ts:
                yield ov.rows[i]

    def alive(self) -> Iterator[Indexed]:
        return self.scan(0, [])


class DivisionData:
    """All tables of one division, built on first use."""

    def __init__(self, seed: int, division: Division) -> None:
        self.division = division
        self.master = MasterData(seed, division)
        self.ledger = Ledger(seed, self.master)
        m = self.master
        self.tables: dict[str, BaseTable] = {
            "TransactionLines": LedgerTable(self.ledger),
            "GLAccounts": BaseTable(GL_ACCOUNTS, m.gl_rows),
            "GLClassifications": BaseTable(GL_CLASSIFICATIONS, m.classification_rows),
            "Accounts": BaseTable(ACCOUNTS, m.account_rows),
            "PaymentTerms": BaseTable(PAYMENT_TERMS, m.payment_term_rows),
            "Journals": BaseTable(JOURNALS, m.journal_rows),
            "FinancialPeriods": BaseTable(FINANCIAL_PERIODS, m.period_rows),
            "Budgets": BaseTable(BUDGETS, m.budget_rows),
            "CostCenters": BaseTable(COST_CENTERS, m.cost_center_rows),
            "CostUnits": BaseTable(COST_UNITS, m.cost_unit_rows),
            "GLAccountClassificationMappings": BaseTable(GL_ACCOUNT_CLASSIFICATION_MAPPINGS,
                                                         m.classification_mapping_rows),
        }
        self.overlays: dict[str, Overlay] = {
            name: Overlay(self.tables[name].size) for name in SYNC_ENTITY_TYPES
        }
        self.deleted_rows: list[Row] = []
        self.deleted_ts: list[int] = []
        self.next_ts = TS_CHANGES
        self.version = 0
        # Derived figures (base totals, ReportingBalance per version), built on first use.
        self.cache: dict[str, Any] = {}
        self.lock = threading.Lock()

    def view(self, entity: str) -> EntityView:
        return EntityView(self.tables[entity], self.overlays.get(entity))

    def bump_ts(self) -> int:
        self.next_ts += 1
        return self.next_ts


class LogView(EntityView):
    """sync/Deleted: an append-only log already in Timestamp order."""

    def __init__(self, base: BaseTable, ts: list[int]) -> None:
        super().__init__(base, None)
        self._ts = ts

    def scan_sync(self, after_ts: int) -> Iterator[Row]:
        for _i, row in self.base.rows(bisect.bisect_right(self._ts, after_ts), self.base.size):
            yield row
