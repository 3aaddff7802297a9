"""The small tables of one division (chart of accounts, relations, journals, ...).

They are tiny next to TransactionLines (at most a few thousand rows), so each is materialised
once per division as a list of fragment tuples in schema order; the ledger generator looks up
its pre-encoded GL account, relation and journal fragments here.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from exact_sandbox.ids import GuidCodec, derive_key, mix64
from exact_sandbox.schema import date_ms, enc_bool, enc_date, enc_guid, enc_money, enc_str
from exact_sandbox.seed import Division

# Base of the Int64 row versions of each sync entity: row i has BASE + i + 1.
TS_BASE = {"TransactionLines": 1 * 10**10, "GLAccounts": 2 * 10**10,
           "GLClassifications": 3 * 10**10, "Accounts": 4 * 10**10,
           "PaymentTerms": 5 * 10**10}
# Every change made through the admin API gets a Timestamp above all generated ones.
TS_CHANGES = 10**12

# code, description, balance type, balance side, Exact GL type, role, classification
GL_TEMPLATE: tuple[tuple[str, str, str, str, int, str, str], ...] = (
    ("0100", "Inventaris", "B", "D", 30, "fa", "VA"),
    ("0200", "Afschrijving inventaris", "B", "C", 35, "fa", "VA"),
    ("0500", "Eigen vermogen", "B", "C", 50, "eq", "EV"),
    ("0600", "Winstreserve", "B", "C", 52, "eq", "EV"),
    ("1000", "Kas", "B", "D", 10, "cash", "LM"),
    ("1100", "Bank", "B", "D", 12, "bank", "LM"),
    ("1300", "Debiteuren", "B", "D", 20, "ar", "VL"),
    ("1400", "Voorraden", "B", "D", 40, "bal", "VL"),
    ("1500", "Te betalen BTW", "B", "C", 24, "vat", "KS"),
    ("1520", "Te vorderen BTW", "B", "D", 24, "vatrec", "VL"),
    ("1600", "Crediteuren", "B", "C", 22, "ap", "KS"),
    ("1700", "Overlopende passiva", "B", "C", 27, "bal", "KS"),
    ("2000", "Vraagposten", "B", "D", 90, "bal", "VL"),
    ("4000", "Lonen en salarissen", "W", "D", 125, "pers", "PK"),
    ("4100", "Sociale lasten", "W", "D", 126, "pers", "PK"),
    ("4300", "Huisvestingskosten", "W", "D", 121, "exp", "OK"),
    ("4400", "Autokosten", "W", "D", 121, "exp", "OK"),
    ("4500", "Kantoorkosten", "W", "D", 121, "exp", "OK"),
    ("4600", "Verkoopkosten", "W", "D", 121, "exp", "OK"),
    ("4700", "Algemene kosten", "W", "D", 121, "exp", "OK"),
    ("4800", "Afschrijvingen", "W", "D", 122, "exp", "OK"),
    ("4900", "Rentelasten", "W", "D", 120, "exp", "FB"),
    ("7000", "Inkoopwaarde van de omzet", "W", "D", 111, "cogs", "KP"),
    ("7100", "Inkoop grondstoffen", "W", "D", 111, "cogs", "KP"),
    ("8000", "Omzet hoog tarief", "W", "C", 110, "rev", "OM"),
    ("8100", "Omzet laag tarief", "W", "C", 110, "rev", "OM"),
    ("8200", "Omzet diensten", "W", "C", 110, "rev", "OM"),
    ("8900", "Overige opbrengsten", "W", "C", 140, "rev", "OM"),
    ("9000", "Rentebaten", "W", "C", 160, "rev", "FB"),
)

# code, description, parent code (None = root), abstract
CLASSIFICATION_TEMPLATE: tuple[tuple[str, str, str | None, bool], ...] = (
    ("B", "Balans", None, True),
    ("W", "Winst- en verliesrekening", None, True),
    ("VA", "Vaste activa", "B", False),
    ("VL", "Vlottende activa", "B", False),
    ("LM", "Liquide middelen", "B", False),
    ("EV", "Eigen vermogen", "B", False),
    ("KS", "Kortlopende schulden", "B", False),
    ("OM", "Netto-omzet", "W", False),
    ("KP", "Kostprijs van de omzet", "W", False),
    ("PK", "Personeelskosten", "W", False),
    ("OK", "Overige bedrijfskosten", "W", False),
    ("FB", "Financiële baten en lasten", "W", False),
)

# code, description, Exact journal type, role of its head GL account
JOURNAL_TEMPLATE: tuple[tuple[str, str, int, str], ...] = (
    ("10", "Kas", 10, "cash"),
    ("20", "Bank", 12, "bank"),
    ("60", "Inkoopboek", 22, "ap"),
    ("70", "Verkoopboek", 20, "ar"),
    ("90", "Memoriaal", 90, "bal"),
)

COST_CENTER_TEMPLATE = (("100", "Productie", True), ("200", "Verkoop", True),
                        ("300", "Administratie", True), ("400", "Logistiek", True),
                        ("500", "ICT", True), ("900", "Algemeen (vervallen)", False))
COST_UNIT_TEMPLATE = (("P01", "Brood"), ("P02", "Banket"), ("P03", "Catering"),
                      ("P04", "Overig"))

_NAMES = ("De Groot", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "De Boer", "Mulder",
          "Bos", "Vos", "Peters", "Hendriks", "Dekker", "Brouwer", "De Wit", "Dijkstra", "Kok",
          "Jacobs", "Vermeulen", "Van Leeuwen")
_TRADES = ("Handel", "Techniek", "Bouw", "Transport", "Advies", "Groothandel", "Installaties",
           "Catering", "Logistiek", "Media", "Zorg", "Automatisering")
_FORMS = ("B.V.", "V.O.F.", "& Zn.", "B.V.")
_CITIES = ("Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen", "Tilburg",
           "Almere", "Breda", "Nijmegen", "Zwolle", "Haarlem", "Arnhem", "Delft", "Leiden")

Row = tuple[str, ...]


@dataclass(frozen=True)
class Relation:
    id: str
    code: str
    name: str
    is_supplier: bool


def account_count(transaction_lines: int) -> int:
    """Number of CRM accounts: grows with the ledger, between 10 and 5,000."""
    return max(10, min(5000, transaction_lines // 100))


class MasterData:
    """Materialised small tables of one division."""

    def __init__(self, seed: int, division: Division) -> None:
        self.seed = seed
        self.division = division
        self.code = division.code
        self.div = str(division.code)
        self.key = derive_key(seed, division.code, "master")
        self._created_base = date_ms(date(division.start_year - 1, 12, 1)) + 9 * 3600_000
        self.gl_ids = [GuidCodec(seed, self.code, "gl").encode(i) for i in range(len(GL_TEMPLATE))]
        self.gl_by_role: dict[str, list[int]] = {}
        for i, t in enumerate(GL_TEMPLATE):
            self.gl_by_role.setdefault(t[5], []).append(i)
        self.classification_rows = self._classifications()
        self.gl_rows = self._gl_accounts()
        self.classification_mapping_rows = self._classification_mappings()
        self.relations = self._relations()
        self.account_rows = self._accounts()
        self.payment_term_rows = self._payment_terms()
        self.journal_rows = self._journals()
        self.cost_center_rows = self._simple(COST_CENTER_TEMPLATE, "cc", with_active=True)
        self.cost_unit_rows = self._simple(COST_UNIT_TEMPLATE, "cu", with_active=False)
        # hrm/Costcenters and hrm/Costunits: an inactive one has an EndDate (the day it ended)
        self.period_rows = self._periods()
        self.budget_rows = self._budgets()

    def _created(self, i: int) -> str:
        return enc_date(self._created_base + i * 60_000)

    def _ts(self, entity: str, i: int) -> str:
        return str(TS_BASE[entity] + i + 1)

    def _classifications(self) -> list[Row]:
        codec = GuidCodec(self.seed, self.code, "glc")
        ids = {t[0]: codec.encode(i) for i, t in enumerate(CLASSIFICATION_TEMPLATE)}
        return [
            (enc_guid(ids[code]), enc_str(code), enc_str(desc),
             enc_guid(ids[parent] if parent else None), enc_bool(abstract), self.div,
             self._created(i), self._created(i), self._ts("GLClassifications", i))
            for i, (code, desc, parent, abstract) in enumerate(CLASSIFICATION_TEMPLATE)
        ]

    def _gl_accounts(self) -> list[Row]:
        return [
            (enc_guid(self.gl_ids[i]), enc_str(code), enc_str(desc), enc_str(side),
             enc_str(btype), str(gtype), self.div, self._created(i), self._created(i),
             self._ts("GLAccounts", i))
            for i, (code, desc, btype, side, gtype, _role, _cls) in enumerate(GL_TEMPLATE)
        ]

    def _classification_mappings(self) -> list[Row]:
        """Each G/L account under its classification of the one reporting scheme."""
        cls = GuidCodec(self.seed, self.code, "glc")
        ids = {t[0]: cls.encode(i) for i, t in enumerate(CLASSIFICATION_TEMPLATE)}
        names = {t[0]: t[1] for t in CLASSIFICATION_TEMPLATE}
        codec = GuidCodec(self.seed, self.code, "glm")
        scheme = enc_guid(GuidCodec(self.seed, self.code, "gls").encode(0))
        return [
            (enc_guid(codec.encode(i)), enc_guid(ids[c]), enc_str(c), enc_str(names[c]),
             self.div, enc_guid(self.gl_ids[i]), enc_str(code), enc_str(desc),
             enc_str("JR"), enc_str("Jaarrekening"), scheme)
            for i, (code, desc, _bt, _side, _type, _role, c) in enumerate(GL_TEMPLATE)
        ]

    def _relations(self) -> list[Relation]:
        codec = GuidCodec(self.seed, self.code, "acc")
        n = account_count(self.division.transaction_lines)
        out = []
        for i in range(n):
            h = mix64(i, self.key)
            name = (f"{_NAMES[h % len(_NAMES)]} {_TRADES[(h >> 8) % len(_TRADES)]} "
                    f"{_FORMS[(h >> 16) % len(_FORMS)]}").strip()
            out.append(Relation(codec.encode(i), str(1000 + i), name, i >= n * 6 // 10))
        return out

    def _accounts(self) -> list[Row]:
        rows: list[Row] = []
        for i, rel in enumerate(self.relations):
            h = mix64(i, self.key ^ 0xACC)
            vat = f"NL{h % 10**9:09d}B01" if h & 1 else ""
            rows.append((
                enc_guid(rel.id), enc_str(rel.code), enc_str(rel.name),
                enc_str(_CITIES[(h >> 4) % len(_CITIES)]), enc_str("NL"), enc_str(vat),
                enc_str("C" if not rel.is_supplier else "A"), enc_bool(rel.is_supplier),
                self.div, self._created(i), self._created(i), self._ts("Accounts", i),
            ))
        return rows

    def _payment_terms(self) -> list[Row]:
        """One open invoice per relation: a receivable (LineType 20, Verkoopboek) from each
        customer, a payable (22, Inkoopboek) to each supplier."""
        codec = GuidCodec(self.seed, self.code, "pt")
        entries = GuidCodec(self.seed, self.code, "pte")
        first = date_ms(date(self.division.start_year + self.division.years - 1, 1, 1))
        rows: list[Row] = []
        for i, rel in enumerate(self.relations):
            h = mix64(i, self.key ^ 0xCA5)
            line_type, role, journal = (22, "ap", "60") if rel.is_supplier else (20, "ar", "70")
            gl = self.gl_by_role[role][0]
            invoiced = first + (h % 330) * 86_400_000
            number = 26_000_000 + i
            rows.append((
                enc_guid(codec.encode(i)), enc_guid(rel.id), enc_str(rel.code),
                enc_str(rel.name), enc_money(1_000 + (h >> 12) % 2_500_000), "null",
                enc_str("EUR"), enc_str(f"Factuur {number}"), self.div,
                enc_date(invoiced + 30 * 86_400_000), str(number), enc_guid(self.gl_ids[gl]),
                enc_str(GL_TEMPLATE[gl][0]), enc_date(invoiced), str(number), enc_str(journal),
                str(line_type), "20", enc_guid(entries.encode(i)),
                enc_str(f"F-{(h >> 32) % 100_000:05d}" if rel.is_supplier else None),
                self._created(i), self._created(i), self._ts("PaymentTerms", i),
            ))
        return rows

    def _journals(self) -> list[Row]:
        codec = GuidCodec(self.seed, self.code, "jrn")
        rows: list[Row] = []
        for i, (code, desc, jtype, role) in enumerate(JOURNAL_TEMPLATE):
            gl = self.gl_ids[self.gl_by_role[role][0]] if role in ("cash", "bank") else None
            rows.append((enc_guid(codec.encode(i)), enc_str(code), enc_str(desc), str(jtype),
                         enc_guid(gl), self.div, self._created(i), self._created(i)))
        return rows

    def _simple(self, template: tuple[tuple[object, ...], ...], tag: str,
                with_active: bool) -> list[Row]:
        codec = GuidCodec(self.seed, self.code, tag)
        rows: list[Row] = []
        ended = enc_date(date_ms(date(self.division.start_year, 1, 1)))
        for i, t in enumerate(template):
            head = (enc_guid(codec.encode(i)), enc_str(str(t[0])), enc_str(str(t[1])))
            is_active = len(t) < 3 or bool(t[2])
            active = (enc_bool(is_active),) if with_active else ()
            end = "null" if is_active else ended
            rows.append((*head, *active, end, self.div, self._created(i), self._created(i)))
        return rows

    def _periods(self) -> list[Row]:
        codec = GuidCodec(self.seed, self.code, "fp")
        rows: list[Row] = []
        for y in range(self.division.start_year, self.division.start_year + self.division.years):
            for p in range(1, 13):
                last = calendar.monthrange(y, p)[1]
                rows.append((enc_guid(codec.encode(len(rows))), str(y), str(p),
                             enc_date(date_ms(date(y, p, 1))),
                             enc_date(date_ms(date(y, p, last))), self.div))
        return rows

    def _budgets(self) -> list[Row]:
        codec = GuidCodec(self.seed, self.code, "bud")
        scenario = enc_guid(GuidCodec(self.seed, self.code, "bsc").encode(0))
        pl = [i for i, t in enumerate(GL_TEMPLATE) if t[2] == "W"]
        rows: list[Row] = []
        for y in range(self.division.start_year, self.division.start_year + self.division.years):
            for p in range(1, 13):
                for g in pl:
                    n = len(rows)
                    h = mix64(n, self.key ^ 0xB0D)
                    cents = 100_000 + h % 5_000_000
                    if GL_TEMPLATE[g][3] == "C":
                        cents = -cents
                    cc = COST_CENTER_TEMPLATE[h % 5] if (h >> 40) % 4 == 0 else None
                    rows.append((
                        enc_guid(codec.encode(n)), scenario, enc_str("BUDGET"),
                        enc_guid(self.gl_ids[g]), enc_str(GL_TEMPLATE[g][0]), str(y), str(p),
                        enc_money(cents), enc_str(str(cc[0]) if cc else None),
                        enc_str(str(cc[1]) if cc else None), "null", "null", self.div,
                        self._created(n % 1000), self._created(n % 1000),
                    ))
        return rows
