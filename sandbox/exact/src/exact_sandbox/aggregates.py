"""Totals of a division's TransactionLines: expected figures and ReportingBalance.

The base ledger is scanned once per division (fast path over raw generator values) and
cached; admin changes are then applied as adjustments (subtract the replaced base row, add the
overlay row), so no request after the first needs a full scan.

ID hash (documented in the README): for each ID take the first 8 bytes of
sha256(lower-case ID string, UTF-8) as a big-endian unsigned integer; the hash is their sum
modulo 2**64, written as 16 lower-case hex digits. It does not depend on row order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from exact_sandbox.dataset import BaseTable, DivisionData
from exact_sandbox.ids import derive_key
from exact_sandbox.masterdata import COST_CENTER_TEMPLATE, COST_UNIT_TEMPLATE, GL_TEMPLATE
from exact_sandbox.schema import REPORTING_BALANCE, enc_guid, enc_money, enc_str

_M64 = (1 << 64) - 1
GroupKey = tuple[int, int, str, str | None, str | None, int, int]


def id_hash_term(guid: str) -> int:
    return int.from_bytes(hashlib.sha256(guid.lower().encode()).digest()[:8], "big")


def id_hash(ids: Iterable[str]) -> str:
    return f"{sum(id_hash_term(i) for i in ids) & _M64:016x}"


def cents_str(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


@dataclass
class LedgerTotals:
    count: int = 0
    sum_cents: int = 0
    debit_cents: int = 0
    id_hash: int = 0
    by_period: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    # group -> [count, sum, debit, credit]
    groups: dict[GroupKey, list[int]] = field(default_factory=dict)

    def add(self, key: GroupKey, cents: int, guid: str, sign: int) -> None:
        debit = cents if cents > 0 else 0
        self.count += sign
        self.sum_cents += sign * cents
        self.debit_cents += sign * debit
        self.id_hash = (self.id_hash + sign * id_hash_term(guid)) & _M64
        per = self.by_period.setdefault((key[0], key[1]), [0, 0, 0])
        per[0] += sign
        per[1] += sign * cents
        per[2] += sign * debit
        g = self.groups.setdefault(key, [0, 0, 0, 0])
        g[0] += sign
        g[1] += sign * cents
        g[2] += sign * debit
        g[3] += sign * (debit - cents)

    def copy(self) -> LedgerTotals:
        return LedgerTotals(self.count, self.sum_cents, self.debit_cents, self.id_hash,
                            {k: list(v) for k, v in self.by_period.items()},
                            {k: list(v) for k, v in self.groups.items()})


def _scan_base(data: DivisionData) -> LedgerTotals:
    led = data.ledger
    enc = led.codec.encode
    cc_codes = [c[0] for c in COST_CENTER_TEMPLATE]
    cu_codes = [c[0] for c in COST_UNIT_TEMPLATE]
    gl_codes = [t[0] for t in GL_TEMPLATE]
    tot = LedgerTotals()
    for i, ent, _j, gl, cents, cc, cu in led.raw(0, led.n):
        key = (int(ent[4]), int(ent[5]), gl_codes[gl], cc_codes[cc] if cc >= 0 else None,
               cu_codes[cu] if cu >= 0 else None, int(ent[12]), int(ent[13]))
        tot.add(key, cents, enc(i), 1)
    return tot


def _row_key(row: tuple[str, ...]) -> tuple[GroupKey, int, str]:
    def s(frag: str) -> str | None:
        return None if frag == "null" else frag[1:-1]

    key = (int(row[8]), int(row[9]), s(row[11]) or "", s(row[20]), s(row[21]), int(row[25]),
           int(row[26]))
    return key, round(float(row[13]) * 100), row[0][1:-1]


def ledger_totals(data: DivisionData) -> LedgerTotals:
    """Current totals: cached base scan plus overlay adjustments."""
    with data.lock:
        base: LedgerTotals | None = data.cache.get("base_totals")
        if base is None:
            base = _scan_base(data)
            data.cache["base_totals"] = base
    ov = data.overlays["TransactionLines"]
    if ov.empty:
        return base
    tot = base.copy()
    n = data.ledger.n
    changed, deleted = dict(ov.rows), set(ov.deleted)  # snapshot: changes run on the loop
    for i in sorted(i for i in (set(changed) | deleted) if i < n):
        for _i, row in data.ledger.rows(i, i + 1):
            key, cents, guid = _row_key(row)
            tot.add(key, cents, guid, -1)
    for row in changed.values():
        key, cents, guid = _row_key(row)
        tot.add(key, cents, guid, 1)
    return tot


def _line_row(data: DivisionData, guid: str) -> tuple[str, ...] | None:
    """The current row of a TransactionLine (an admin change wins), or None if unknown."""
    i = data.ledger.index_of_id(guid)
    if i is None or i in data.overlays["TransactionLines"].deleted:
        return None
    changed = data.overlays["TransactionLines"].rows.get(i)
    if changed is not None:
        return changed
    return next((row for _i, row in data.ledger.rows(i, i + 1)), None)


def reporting_balance(data: DivisionData, unreported: tuple[str, ...] = ()) -> BaseTable:
    """ReportingBalance rows for the current data version (cached per version).

    Exact groups them by "Division, ReportingYear, ReportingPeriod, G/L account, Cost center,
    Cost unit, Type, Status" and ``Amount`` is "the sum of the amounts of all transactions in
    the grouping" (Exact's ReportingBalance page, as copied by Pi-Systems/exact-online
    ``src/Entity/Financial/ReportingBalance.php``): :data:`GroupKey` is that grouping within a
    division, each line counted in its own FinancialYear/FinancialPeriod.

    ``unreported``: TransactionLine IDs the balance leaves out - a planted mismatch (the
    fault setting ``unreported_lines``), so a trial-balance check has something to find.
    """
    version = (data.version, unreported)
    cached: tuple[object, BaseTable] | None = data.cache.get("reporting_balance")
    if cached is not None and cached[0] == version:
        return cached[1]
    tot = ledger_totals(data)
    if unreported:
        tot = tot.copy()
        for guid in unreported:
            row = _line_row(data, guid)
            if row is not None:
                key, cents, line_id = _row_key(row)
                tot.add(key, cents, line_id, -1)
    gl = {t[0]: (enc_guid(data.master.gl_ids[i]), enc_str(t[0]), enc_str(t[1]), enc_str(t[2]))
          for i, t in enumerate(GL_TEMPLATE)}
    rows: list[tuple[str, ...]] = []
    div = str(data.division.code)
    for key in sorted(tot.groups, key=lambda k: (k[0], k[1], k[2], k[3] or "", k[4] or "",
                                                 k[5], k[6])):
        count, amount, debit, credit = tot.groups[key]
        if count == 0:
            continue
        g = gl.get(key[2], ("null", enc_str(key[2]), "null", "null"))
        rid = derive_key(data.division.code, *key) >> 9
        rows.append((str(rid), str(key[0]), str(key[1]), g[0], g[1], g[2], enc_str(key[3]),
                     enc_str(key[4]), enc_money(amount), enc_money(debit), enc_money(credit),
                     g[3], str(key[5]), str(key[6]), str(count), div))
    table = BaseTable(REPORTING_BALANCE, rows, sorted_by="ReportingYear")  # sorted above
    data.cache["reporting_balance"] = (version, table)
    return table


def expected(data: DivisionData, unreported: tuple[str, ...] = ()) -> dict[str, object]:
    """Per-entity expected figures for reconciliation (see the README for definitions);
    ReportingBalance's as served (with the ``unreported`` lines left out)."""
    tot = ledger_totals(data)
    out: dict[str, object] = {
        "TransactionLines": {
            "count": tot.count,
            "sum_amount_dc": cents_str(tot.sum_cents),
            "sum_debit_dc": cents_str(tot.debit_cents),
            "id_hash": f"{tot.id_hash:016x}",
            "by_period": [
                {"financial_year": y, "financial_period": p, "count": v[0],
                 "sum_amount_dc": cents_str(v[1]), "sum_debit_dc": cents_str(v[2])}
                for (y, p), v in sorted(tot.by_period.items()) if v[0]
            ],
        }
    }
    for name in data.tables:
        if name == "TransactionLines":
            continue
        rows = [r for _i, r in data.view(name).alive()]
        entry: dict[str, object] = {"count": len(rows),
                                    "id_hash": id_hash(r[0][1:-1] for r in rows)}
        if name == "Budgets":
            entry["sum_amount_dc"] = cents_str(sum(round(float(r[7]) * 100) for r in rows))
        out[name] = entry
    rb = reporting_balance(data, unreported)
    rb_rows = [r for _i, r in rb.rows(0, rb.size)]
    # rows per ReportingYear, for every financial year (a client reading by year pays a
    # call for a year without rows too)
    by_year = {int(r[1]): 0 for _i, r in data.view("FinancialPeriods").alive()}
    for r in rb_rows:
        by_year[int(r[1])] = by_year.get(int(r[1]), 0) + 1
    out["ReportingBalance"] = {
        "count": len(rb_rows),
        "sum_amount": cents_str(sum(round(float(r[8]) * 100) for r in rb_rows)),
        "sum_amount_debit": cents_str(sum(round(float(r[9]) * 100) for r in rb_rows)),
        "id_hash": id_hash(r[0] for r in rb_rows),
        "by_year": [{"reporting_year": y, "count": n} for y, n in sorted(by_year.items())],
    }
    out["Deleted"] = {"count": len(data.deleted_rows)}
    return out
