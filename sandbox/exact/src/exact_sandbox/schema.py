"""Entity schemas: Exact's field names, their JSON kinds and how values are encoded.

Rows travel through the sandbox as tuples of ready-made JSON fragments in schema order, so a
page is rendered with one `%` format per row; filters decode the few fragments they compare.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

# Field kinds: guid, str, int, int64, money, rate, date, bool, num. int64 (Exact's Edm.Int64:
# Timestamp, Hid, ReportingBalance.ID) may be served as a JSON string, as OData v2 JSON does.
Kind = str

EDM_KINDS: dict[str, tuple[str, ...]] = {
    "Guid": ("guid",), "String": ("str",), "Int16": ("int",), "Int32": ("int",),
    "Int64": ("int64",), "Double": ("money", "rate", "num"), "DateTime": ("date",),
    "Boolean": ("bool",),
}
"""The sandbox's kinds of each Exact Edm type (tests hold the schemas to ingest's tables)."""


@dataclass(frozen=True)
class Schema:
    name: str
    fields: tuple[tuple[str, Kind], ...]
    sync_only: frozenset[str] = frozenset()
    odata_type: str = ""
    """The entity's type as Exact's errors name it."""

    @property
    def type_name(self) -> str:
        return self.odata_type or f"Exact.Web.Api.Models.{self.name}"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.fields)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def kind(self, name: str) -> Kind:
        return dict(self.fields)[name]

    def visible(self, sync: bool) -> tuple[str, ...]:
        return tuple(n for n in self.names if sync or n not in self.sync_only)


_TS = frozenset({"Timestamp"})

TRANSACTION_LINES = Schema("TransactionLines", (
    ("ID", "guid"), ("EntryID", "guid"), ("EntryNumber", "int"), ("LineNumber", "int"),
    ("Division", "int"), ("Date", "date"), ("Created", "date"), ("Modified", "date"),
    ("FinancialYear", "int"), ("FinancialPeriod", "int"), ("GLAccount", "guid"),
    ("GLAccountCode", "str"), ("GLAccountDescription", "str"), ("AmountDC", "money"),
    ("AmountFC", "money"), ("Currency", "str"), ("ExchangeRate", "rate"),
    ("JournalCode", "str"), ("JournalDescription", "str"), ("Description", "str"),
    ("CostCenter", "str"), ("CostUnit", "str"), ("Account", "guid"), ("AccountCode", "str"),
    ("AccountName", "str"), ("Type", "int"), ("Status", "int"), ("Timestamp", "int64"),
), _TS, "Exact.Web.Api.Models.Financial.TransactionLine")

GL_ACCOUNTS = Schema("GLAccounts", (
    ("ID", "guid"), ("Code", "str"), ("Description", "str"), ("BalanceSide", "str"),
    ("BalanceType", "str"), ("Type", "int"), ("Division", "int"), ("Created", "date"),
    ("Modified", "date"), ("Timestamp", "int64"),
), _TS, "Exact.Web.Api.Models.Financial.GLAccount")

GL_CLASSIFICATIONS = Schema("GLClassifications", (
    ("ID", "guid"), ("Code", "str"), ("Description", "str"), ("Parent", "guid"),
    ("Abstract", "bool"), ("Division", "int"), ("Created", "date"), ("Modified", "date"),
    ("Timestamp", "int64"),
), _TS, "Exact.Web.Api.Models.Financial.GLClassification")

ACCOUNTS = Schema("Accounts", (
    ("ID", "guid"), ("Code", "str"), ("Name", "str"), ("City", "str"), ("Country", "str"),
    ("VATNumber", "str"), ("Status", "str"), ("IsSupplier", "bool"), ("Division", "int"),
    ("Created", "date"), ("Modified", "date"), ("Timestamp", "int64"),
), _TS, "Exact.Web.Api.Models.CRM.Account")

JOURNALS = Schema("Journals", (
    ("ID", "guid"), ("Code", "str"), ("Description", "str"), ("Type", "int"),
    ("GLAccount", "guid"), ("Division", "int"), ("Created", "date"), ("Modified", "date"),
))

FINANCIAL_PERIODS = Schema("FinancialPeriods", (
    ("ID", "guid"), ("FinYear", "int"), ("FinPeriod", "int"), ("StartDate", "date"),
    ("EndDate", "date"), ("Division", "int"),
))

REPORTING_BALANCE = Schema("ReportingBalance", (
    ("ID", "int64"), ("ReportingYear", "int"), ("ReportingPeriod", "int"), ("GLAccount", "guid"),
    ("GLAccountCode", "str"), ("GLAccountDescription", "str"), ("CostCenterCode", "str"),
    ("CostUnitCode", "str"), ("Amount", "money"), ("AmountDebit", "money"),
    ("AmountCredit", "money"), ("BalanceType", "str"), ("Type", "int"), ("Status", "int"),
    ("Count", "int"), ("Division", "int"),
))

BUDGETS = Schema("Budgets", (
    ("ID", "guid"), ("BudgetScenario", "guid"), ("BudgetScenarioCode", "str"),
    ("GLAccount", "guid"), ("GLAccountCode", "str"), ("ReportingYear", "int"),
    ("ReportingPeriod", "int"), ("AmountDC", "money"), ("Costcenter", "str"),
    ("CostcenterDescription", "str"), ("Costunit", "str"), ("CostunitDescription", "str"),
    ("Division", "int"), ("Created", "date"), ("Modified", "date"),
), odata_type="Exact.Web.Api.Models.Budget")

COST_CENTERS = Schema("CostCenters", (
    ("ID", "guid"), ("Code", "str"), ("Description", "str"), ("Active", "bool"),
    ("EndDate", "date"), ("Division", "int"), ("Created", "date"), ("Modified", "date"),
), odata_type="Exact.Web.Api.Models.HRM.Costcenter")

COST_UNITS = Schema("CostUnits", (
    ("ID", "guid"), ("Code", "str"), ("Description", "str"), ("EndDate", "date"),
    ("Division", "int"), ("Created", "date"), ("Modified", "date"),
), odata_type="Exact.Web.Api.Models.HRM.Costunit")

GL_ACCOUNT_CLASSIFICATION_MAPPINGS = Schema("GLAccountClassificationMappings", (
    ("ID", "guid"), ("Classification", "guid"), ("ClassificationCode", "str"),
    ("ClassificationDescription", "str"), ("Division", "int"), ("GLAccount", "guid"),
    ("GLAccountCode", "str"), ("GLAccountDescription", "str"), ("GLSchemeCode", "str"),
    ("GLSchemeDescription", "str"), ("GLSchemeID", "guid"),
), odata_type="Exact.Web.Api.Models.Financial.GLAccountClassificationMapping")

# The OData type name is the sandbox's own convention (Exact.Web.Api.Models.<service>.<entity>,
# the shape of names Exact's answers show, e.g. ...Models.System.Me): no public source found
# gives sync/Cashflow/PaymentTerms' type (Exact's reference page SyncCashflowPaymentTerms and
# picqer/exact-php-client src/Picqer/Financials/Exact/SyncPaymentTerm.php list fields only).
# Ingest never reads it; only the sandbox's error texts name it.
PAYMENT_TERMS = Schema("PaymentTerms", (
    ("ID", "guid"), ("Account", "guid"), ("AccountCode", "str"), ("AccountName", "str"),
    ("AmountDC", "money"), ("AmountFC", "money"), ("Currency", "str"), ("Description", "str"),
    ("Division", "int"), ("DueDate", "date"), ("EntryNumber", "int"), ("GLAccount", "guid"),
    ("GLAccountCode", "str"), ("InvoiceDate", "date"), ("InvoiceNumber", "int"),
    ("Journal", "str"), ("LineType", "int"), ("Status", "int"), ("TransactionEntryID", "guid"),
    ("YourRef", "str"), ("Created", "date"), ("Modified", "date"), ("Timestamp", "int64"),
), _TS, "Exact.Web.Api.Models.Cashflow.PaymentTerm")

DIVISIONS = Schema("Divisions", (
    ("Code", "int"), ("Description", "str"), ("Hid", "int64"), ("Country", "str"),
    ("Currency", "str"), ("VATNumber", "str"), ("IsMainDivision", "bool"), ("Status", "int"),
    ("Customer", "guid"), ("CustomerCode", "str"), ("CustomerName", "str"),
    ("DivisionMoveDate", "date"),
))

HRM_DIVISIONS = Schema("HrmDivisions", (
    ("Code", "int"), ("Description", "str"), ("HID", "int64"), ("Country", "str"),
    ("Currency", "str"), ("VATNumber", "str"), ("Main", "bool"), ("Status", "int"),
    ("Customer", "guid"), ("CustomerName", "str"),
))

DELETED = Schema("Deleted", (
    ("Timestamp", "int64"), ("ID", "guid"), ("EntityKey", "guid"), ("EntityType", "int"),
    ("DeletedBy", "guid"), ("DeletedDate", "date"), ("Division", "int"),
))

USER_ROLES = Schema("UserRolesPerDivision", (
    ("ID", "guid"), ("UserID", "guid"), ("Role", "int"), ("Description", "str"),
    ("RoleLevel", "int"), ("StartDate", "date"), ("EndDate", "date"), ("Division", "int"),
))

ME = Schema("Me", (
    ("UserID", "guid"), ("CurrentDivision", "int"), ("AccountingDivision", "int"),
    ("UserName", "str"), ("FullName", "str"), ("Email", "str"), ("LanguageCode", "str"),
    ("DivisionCustomer", "guid"), ("DivisionCustomerCode", "str"),
    ("DivisionCustomerName", "str"), ("IsClientUser", "bool"),
))


# ---- encoding -------------------------------------------------------------------------

def enc_str(value: str | None) -> str:
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


def enc_guid(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


def enc_money(cents: int) -> str:
    # Amounts are generated as integer cents: c/100 formatted to 2 places is exact.
    return f"{cents / 100:.2f}"


def enc_date(ms: int | None) -> str:
    return "null" if ms is None else f'"/Date({ms})/"'


def enc_bool(value: bool) -> str:
    return "true" if value else "false"


def date_ms(d: date) -> int:
    """Milliseconds of midnight of a calendar date, as Exact writes dates (no zone)."""
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) * 1000


_ENCODERS: dict[Kind, Callable[[Any], str]] = {
    "guid": enc_guid,
    "str": enc_str,
    "int": lambda v: "null" if v is None else str(int(v)),
    "int64": lambda v: "null" if v is None else str(int(v)),
    "money": lambda v: "null" if v is None else f"{float(v):.2f}",
    "rate": lambda v: "null" if v is None else repr(float(v)),
    "num": lambda v: "null" if v is None else repr(v),
    "date": lambda v: "null" if v is None else enc_date(int(v)),
    "bool": enc_bool,
}


def encode_value(kind: Kind, value: Any) -> str:
    """Encode a plain JSON value (as an admin request gives it) into a fragment."""
    if value is None:
        return "null"
    if kind == "date" and isinstance(value, str):
        return enc_date(parse_datetime_ms(value))
    return _ENCODERS[kind](value)


def decode_fragment(kind: Kind, fragment: str) -> Any:
    """Comparable Python value of a fragment: guids lower-case, dates as epoch ms."""
    if fragment == "null":
        return None
    if kind == "date":
        return int(fragment[7:-3])
    if kind == "guid":
        return fragment[1:-1].lower()
    return json.loads(fragment)


def parse_datetime_ms(text: str) -> int:
    """`2017-05-31T00:00:00` (no zone, as Exact's wall-clock dates) -> epoch ms."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def amsterdam_wall_ms(epoch_seconds: float) -> int:
    """Exact writes Created/Modified as Dutch wall-clock time in a zone-less /Date(ms)/."""
    local = datetime.fromtimestamp(epoch_seconds, tz=_AMSTERDAM)
    return int(local.replace(tzinfo=UTC).timestamp() * 1000)


_AMSTERDAM = ZoneInfo("Europe/Amsterdam")
