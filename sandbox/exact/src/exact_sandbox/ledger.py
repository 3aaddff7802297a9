"""TransactionLines generated lazily by index: row i is a pure function of (seed, division, i).

Rows are cut into blocks of 16; each block is split into journal entries by one of a few
fixed patterns, so the entry of row i (and its line number) is found in O(1). An entry's lines
sum to zero: line 0 carries the total, the other lines split it through cut points. Dates rise
with the row index, so Date/Created/Modified/FinancialYear filters are binary searches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta

from exact_sandbox.ids import GuidCodec, derive_key, mix64
from exact_sandbox.masterdata import (
    COST_CENTER_TEMPLATE,
    COST_UNIT_TEMPLATE,
    GL_TEMPLATE,
    JOURNAL_TEMPLATE,
    TS_BASE,
    MasterData,
)
from exact_sandbox.schema import date_ms, enc_guid, enc_str

BLOCK = 16
_PATTERNS = ((2, 2, 2, 2, 2, 2, 2, 2), (3, 3, 3, 3, 4), (4, 4, 4, 4), (2, 3, 4, 3, 4),
             (5, 5, 6), (2, 2, 3, 2, 3, 4), (6, 4, 6), (3, 2, 3, 2, 3, 3), (2, 4, 2, 4, 4),
             (3, 5, 3, 5))
Layout = tuple[tuple[int, int, int], ...]  # per offset: (entry start offset, line index, size)

# journal index -> (TransactionLine Type, description prefix, counter-account roles)
_JOURNAL_RULES = {
    "10": (40, "Kasboeking", ("exp", "rev")),
    "20": (40, "Bankafschrift", ("ar", "ap", "exp")),
    "60": (30, "Inkoopfactuur", ("exp", "cogs")),
    "70": (20, "Verkoopfactuur", ("rev",)),
    "90": (90, "Memoriaal", ("pers", "exp", "bal")),
}
# 16 slots: how often each journal is picked (sales, purchases, bank dominate)
_JOURNAL_PICK = (3, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 4, 4)
_FOREIGN = (('"USD"', "0.92", 0.92), ('"GBP"', "1.17", 1.17))
_EUR = ('"EUR"', "1.0", 1.0)


def _layout(sizes: tuple[int, ...]) -> Layout:
    out: list[tuple[int, int, int]] = []
    start = 0
    for size in sizes:
        out.extend((start, j, size) for j in range(size))
        start += size
    return tuple(out)


def _tail_sizes(r: int) -> tuple[int, ...]:
    q, m = divmod(r, 3)
    sizes = [3] * q
    if m == 1:
        sizes[-1] += 1
    elif m == 2:
        sizes.append(2)
    return tuple(sizes)


# One entry's derived values, computed once per entry and reused for its lines.
Entry = tuple[str, str, str, str, str, str, int, int, int, tuple[str, str, str],
              tuple[str, str, float], str, str, str, int]
RawRow = tuple[int, Entry, int, int, int, int, int]


class Ledger:
    """The TransactionLines of one division."""

    def __init__(self, seed: int, master: MasterData) -> None:
        division = master.division
        n = division.transaction_lines
        if n == 1:
            raise ValueError("a division needs 0 or at least 2 TransactionLines")
        self.n = n
        self.master = master
        self.codec = GuidCodec(seed, division.code, "tl")
        self.entry_codec = GuidCodec(seed, division.code, "entry")
        self.key = derive_key(seed, division.code, "ledger")
        self._ts = TS_BASE["TransactionLines"] + 1
        self._div = str(division.code)
        nb, r = divmod(n, BLOCK)
        self._special = nb - 1 if r == 1 else nb
        self._special_layout = _layout(_tail_sizes(17 if r == 1 else r)) if r else ()
        self._layouts = tuple(_layout(p) for p in _PATTERNS)
        self._open_from = n - max(1, n // 50)
        self._init_days(division.start_year, division.years)
        self._init_lookups()

    def _init_days(self, start_year: int, years: int) -> None:
        start = date(start_year, 1, 1)
        ndays = (date(start_year + years, 1, 1) - start).days
        self._span = ndays * 86400
        days = [start + timedelta(days=d) for d in range(ndays)]
        self.day_ms = [date_ms(d) for d in days]
        self._day_frag = [f'"/Date({ms})/"' for ms in self.day_ms]
        self.day_year = [d.year for d in days]
        self.day_period = [d.month for d in days]
        self._day_first = [d.month == 1 and d.day == 1 for d in days]

    def _init_lookups(self) -> None:
        m = self.master
        self._gl = [(enc_guid(m.gl_ids[i]), enc_str(t[0]), enc_str(t[1]))
                    for i, t in enumerate(GL_TEMPLATE)]
        self.gl_is_pl = [t[2] == "W" for t in GL_TEMPLATE]
        self._rel = [(enc_guid(r.id), enc_str(r.code), enc_str(r.name)) for r in m.relations]
        self._customers = [i for i, r in enumerate(m.relations) if not r.is_supplier]
        self._suppliers = [i for i, r in enumerate(m.relations) if r.is_supplier]
        self._cc = [enc_str(c[0]) for c in COST_CENTER_TEMPLATE[:5]]
        self._cu = [enc_str(c[0]) for c in COST_UNIT_TEMPLATE]
        self._journals = []
        for code, desc, _jtype, role in JOURNAL_TEMPLATE:
            ttype, prefix, counter_roles = _JOURNAL_RULES[code]
            counter = tuple(g for r in counter_roles for g in m.gl_by_role[r])
            self._journals.append((enc_str(code), enc_str(desc), prefix, m.gl_by_role[role][0],
                                   counter, ttype))

    # ---- positions -------------------------------------------------------------------

    def _locate(self, i: int) -> tuple[int, int, int]:
        """Entry start row, line index and entry size of row i."""
        b = i >> 4
        if b >= self._special:
            s, j, k = self._special_layout[i - self._special * BLOCK]
            return self._special * BLOCK + s, j, k
        lay = self._layouts[mix64(b, self.key) % len(_PATTERNS)]
        s, j, k = lay[i & 15]
        return b * BLOCK + s, j, k

    def entry_range(self, i: int) -> tuple[int, int]:
        e, _j, k = self._locate(i)
        return e, e + k

    def day_of(self, i: int) -> int:
        e = self._locate(i)[0]
        return e * self._span // self.n // 86400

    def created_ms_of(self, i: int) -> int:
        e = self._locate(i)[0]
        sec = e * self._span // self.n
        return self.day_ms[sec // 86400] + 21_600_000 + (sec % 86400) * 500

    def first_index(self, key: Callable[[int], int], value: int) -> int:
        """Smallest row index whose (non-decreasing) key is >= value."""
        lo, hi = 0, self.n
        while lo < hi:
            mid = (lo + hi) // 2
            if key(mid) < value:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def index_of_id(self, guid: str) -> int | None:
        i = self.codec.decode(guid)
        return i if i is not None and i < self.n else None

    # ---- generation ------------------------------------------------------------------

    def _entry(self, e: int) -> Entry:
        h = mix64(e, self.key ^ 0xE)
        jn = _JOURNAL_PICK[h & 15]
        prefix, ttype = self._journals[jn][2], self._journals[jn][5]
        sec = e * self._span // self.n
        day = sec // 86400
        created = f'"/Date({self.day_ms[day] + 21_600_000 + (sec % 86400) * 500})/"'
        total = 100 + ((h >> 8) % 400_000) * ((h >> 28) % 3 + 1) // 3
        sign = -1 if jn == 2 or (jn == 1 and (h >> 32) & 1) else 1
        if jn == 3:
            rel = self._rel[self._customers[(h >> 36) % len(self._customers)]]
        elif jn == 2:
            rel = self._rel[self._suppliers[(h >> 36) % len(self._suppliers)]]
        elif jn == 1:
            rel = self._rel[(h >> 36) % len(self._rel)]
        else:
            rel = ("null", "null", "null")
        cur = _FOREIGN[(h >> 50) & 1] if jn in (2, 3) and (h >> 52) % 100 < 8 else _EUR
        if jn == 4 and self._day_first[day]:
            ttype = 10
        entry_no = e + 1
        return (enc_guid(self.entry_codec.encode(e)), str(entry_no), self._day_frag[day],
                created, str(self.day_year[day]), str(self.day_period[day]), total, sign, jn,
                rel, cur, f'"{prefix} {entry_no}"', str(ttype),
                "20" if e >= self._open_from else "50", day)

    def raw(self, start: int, stop: int) -> Iterator[RawRow]:
        """Rows [start, stop) as (i, entry, line, gl index, cents, cost centre, cost unit)."""
        stop = min(stop, self.n)
        key, layouts, npat, special = self.key, self._layouts, len(_PATTERNS), self._special
        journals, is_pl = self._journals, self.gl_is_pl
        vat, vatrec = self.master.gl_by_role["vat"][0], self.master.gl_by_role["vatrec"][0]
        last_b = last_e = -1
        lay: Layout = ()
        ent: Entry | None = None
        prev_h = 0
        for i in range(max(0, start), stop):
            b = i >> 4
            if b != last_b:
                last_b = b
                lay = self._special_layout if b >= special else layouts[mix64(b, key) % npat]
            s, j, k = lay[i - special * BLOCK] if b >= special else lay[i & 15]
            e = (special if b >= special else b) * BLOCK + s
            if e != last_e:
                ent = self._entry(e)
                last_e = e
                prev_h = mix64(e * 8 + max(0, j - 1), key)
            assert ent is not None
            total = ent[6]
            journal = journals[ent[8]]
            hl = mix64(e * 8 + j, key) if j else prev_h
            if j == 0:
                cents, gl = total, journal[3]
            else:
                step = max(1, total // (3 * (k - 1)))
                hi = total if j == k - 1 else total * j // (k - 1) - hl % step
                lo = 0 if j == 1 else total * (j - 1) // (k - 1) - prev_h % step
                cents = lo - hi
                counter = journal[4]
                gl = counter[hl % len(counter)]
                if j == k - 1 and k >= 3 and ent[8] in (2, 3):
                    gl = vatrec if ent[8] == 2 else vat
            prev_h = hl
            cc = cu = -1
            if is_pl[gl]:
                if (hl >> 20) % 8 < 5:
                    cc = (hl >> 24) % 5
                if (hl >> 28) % 8 < 3:
                    cu = (hl >> 32) % 4
            yield i, ent, j, gl, cents * ent[7], cc, cu

    def rows(self, start: int, stop: int) -> Iterator[tuple[int, tuple[str, ...]]]:
        """(index, fragments in TRANSACTION_LINES schema order) for rows [start, stop)."""
        enc = self.codec.encode
        gls, ccs, cus, journals = self._gl, self._cc, self._cu, self._journals
        div, ts = self._div, self._ts
        for i, ent, j, gl, cents, cc, cu in self.raw(start, stop):
            cur = ent[10]
            amount = f"{cents / 100:.2f}"
            fc = amount if cur[2] == 1.0 else f"{round(cents / cur[2]) / 100:.2f}"
            g = gls[gl]
            jr = journals[ent[8]]
            rel = ent[9]
            yield i, (
                f'"{enc(i)}"', ent[0], ent[1], str(j + 1), div, ent[2], ent[3], ent[3],
                ent[4], ent[5], g[0], g[1], g[2], amount, fc, cur[0], cur[1], jr[0], jr[1],
                ent[11], ccs[cc] if cc >= 0 else "null", cus[cu] if cu >= 0 else "null",
                rel[0], rel[1], rel[2], ent[12], ent[13], str(ts + i),
            )
