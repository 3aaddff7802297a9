"""The fields ingest selects on each Exact Online endpoint: Exact's spelling, Edm type, source.

Exact's field names are case-sensitive and differ between entities (TransactionLines
``CostCenter``, Budgets ``Costcenter``, ReportingBalance ``CostCenterCode``); a name an entity
lacks is answered with 400 "Could not find a property named 'X'". Every name below was taken
from a public copy of Exact's REST reference, cited per endpoint (or per field where it
differs). ``$select`` is built from these tables alone; the contract's row models carry the
same names as aliases, and the sandbox serves exactly these fields (both are tested).

Sources:

* ``PI``: Pi-Systems/exact-online ``src/Entity/<path>.php``, generated from Exact's reference
  pages (HlpRestAPIResourcesDetails.aspx?name=<page>): names, Edm types and descriptions.
* ``PQ``: picqer/exact-php-client ``src/Picqer/Financials/Exact/<Class>.php`` (``$fillable``).

Run ``python -m ingest.adapters.exact_fields`` to print the tables as Markdown
(docs/exact-entities.md is that output; a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Edm = Literal["Guid", "String", "Int16", "Int32", "Int64", "Double", "DateTime", "Boolean"]


@dataclass(frozen=True)
class ExactField:
    name: str
    edm: Edm
    note: str = ""
    source: str = ""
    """Where the name was taken from, when not the endpoint's own source."""


@dataclass(frozen=True)
class EndpointFields:
    path: str
    page: str
    """Exact's reference page name."""
    source: str
    fields: tuple[ExactField, ...]
    note: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def source_of(self, f: ExactField) -> str:
        return f.source or self.source


def _f(spec: str, note: str = "", source: str = "") -> tuple[ExactField, ...]:
    """``"ID:Guid EntryID:Guid ..."`` -> fields (one note/source for all of them)."""
    out = []
    for item in spec.split():
        name, edm = item.split(":")
        out.append(ExactField(name, edm, note, source))  # type: ignore[arg-type]
    return tuple(out)


_CREATED = _f("Created:DateTime Modified:DateTime")
_TS = (ExactField("Timestamp", "Int64", "sync cursor (rowversion); may arrive as a JSON string"),)

_TL_LINE = (
    *_f("ID:Guid EntryID:Guid EntryNumber:Int32"),
    ExactField("LineNumber", "Int32", "sync: 0 is the entry's header row (skipped), lines are 1+"),
    *_f("Division:Int32 Date:DateTime"),
    *_CREATED,
    *_f("FinancialYear:Int16 FinancialPeriod:Int16 GLAccount:Guid GLAccountCode:String "
        "GLAccountDescription:String AmountDC:Double AmountFC:Double Currency:String "
        "ExchangeRate:Double JournalCode:String JournalDescription:String Description:String"),
    *_f("CostCenter:String CostUnit:String", "a code, not a Guid; capital C/U on this entity"),
    *_f("Account:Guid AccountCode:String AccountName:String"),
    ExactField("Type", "Int32", "10 opening balance, 20 sales, 30 purchase, ... 310 closing"),
    ExactField("Status", "Int16", "20 open, 50 processed"),
)

SYNC_TRANSACTION_LINES = EndpointFields(
    "sync/Financial/TransactionLines", "SyncFinancialTransactionLines",
    "PI Sync/Financial/TransactionLines; PQ SyncTransactionLine", (*_TL_LINE, *_TS),
    note="Returns entry header rows (LineNumber 0) with the lines; only lines are imported.")
BULK_TRANSACTION_LINES = EndpointFields(
    "bulk/Financial/TransactionLines", "BulkFinancialTransactionLines",
    "PI Bulk/Financial/TransactionLines; PQ BulkTransactionLine", _TL_LINE,
    note="No Timestamp on bulk; used by re-imports with a date range.")
GL_ACCOUNTS = EndpointFields(
    "sync/Financial/GLAccounts", "SyncFinancialGLAccounts",
    "PI Sync/Financial/GLAccounts; PQ SyncGLAccount", (
        *_f("ID:Guid Code:String Description:String"),
        ExactField("BalanceSide", "String", "D debit, C credit"),
        ExactField("BalanceType", "String", "B balance sheet, W profit & loss"),
        *_f("Type:Int32 Division:Int32"), *_CREATED, *_TS))
GL_CLASSIFICATIONS = EndpointFields(
    "sync/Financial/GLClassifications", "SyncFinancialGLClassifications",
    "PI Sync/Financial/GLClassifications; PQ SyncGLClassification", (
        *_f("ID:Guid Code:String Description:String Parent:Guid Abstract:Boolean"),
        ExactField("Division", "Int32", "empty for Exact's general taxonomies: the division read "
                                        "from is filled in"),
        *_CREATED, *_TS),
    note="Does not support $select=*.")
ACCOUNTS = EndpointFields(
    "sync/CRM/Accounts", "SyncCRMAccounts", "PQ SyncAccount", (
        *_f("ID:Guid Code:String Name:String City:String Country:String VATNumber:String"),
        ExactField("Status", "String", "A none, S suspect, P prospect, C customer"),
        *_f("IsSupplier:Boolean Division:Int32"), *_CREATED, *_TS))
JOURNALS = EndpointFields(
    "financial/Journals", "FinancialJournals", "PQ Journal", (
        *_f("ID:Guid Code:String Description:String Type:Int32 GLAccount:Guid Division:Int32"),
        *_CREATED))
FINANCIAL_PERIODS = EndpointFields(
    "financial/FinancialPeriods", "FinancialFinancialPeriods",
    "PI Financial/FinancialPeriods; PQ FinancialPeriod",
    _f("ID:Guid FinYear:Int16 FinPeriod:Int16 StartDate:DateTime EndDate:DateTime Division:Int32"))
REPORTING_BALANCE = EndpointFields(
    "financial/ReportingBalance", "FinancialReportingBalance",
    "PI Financial/ReportingBalance; PQ ReportingBalance", (
        ExactField("ID", "Int64", "record id (not a Guid); may arrive as a JSON string"),
        *_f("ReportingYear:Int32 ReportingPeriod:Int32 GLAccount:Guid GLAccountCode:String "
            "GLAccountDescription:String"),
        *_f("CostCenterCode:String CostUnitCode:String", "spelled ...Code on this entity"),
        *_f("Amount:Double AmountDebit:Double AmountCredit:Double"),
        ExactField("BalanceType", "String", "B balance sheet, W profit & loss"),
        ExactField("Type", "Int32", "transaction type of the grouping"),
        ExactField("Status", "Int32", "20 open, 50 processed (both by default)"),
        *_f("Count:Int32 Division:Int32")),
    note="Totals grouped by division, year, period, G/L account, cost centre, cost unit, "
         "Type and Status.")
BUDGETS = EndpointFields(
    "budget/Budgets", "BudgetBudgets", "PI Budget/Budgets; PQ Budget", (
        *_f("ID:Guid BudgetScenario:Guid BudgetScenarioCode:String GLAccount:Guid "
            "GLAccountCode:String ReportingYear:Int16 ReportingPeriod:Int16 AmountDC:Double"),
        *_f("Costcenter:String CostcenterDescription:String Costunit:String "
            "CostunitDescription:String", "lower-case c/u on this entity (not CostCenter)"),
        ExactField("Division", "Int32"), *_CREATED))
COST_CENTERS = EndpointFields(
    "hrm/Costcenters", "HRMCostcenters", "PI HRM/Costcenters; PQ Costcenter", (
        *_f("ID:Guid Code:String Description:String"),
        ExactField("Active", "Boolean", "listed as 'Obsolete' by Exact: may be retired (then "
                                        "dropped from $select, null); EndDate tells activity"),
        ExactField("EndDate", "DateTime", "inactive from this date", "PI HRM/Costcenters"),
        ExactField("Division", "Int32"), *_CREATED))
COST_UNITS = EndpointFields(
    "hrm/Costunits", "HRMCostunits", "PI HRM/Costunits; PQ Costunit", (
        *_f("ID:Guid Code:String Description:String"),
        ExactField("EndDate", "DateTime", "inactive from this date", "PI HRM/Costunits"),
        ExactField("Division", "Int32"), *_CREATED))
DIVISIONS = EndpointFields(
    "system/Divisions", "SystemSystemDivisions", "PI System/Divisions; PQ SystemDivision", (
        *_f("Code:Int32 Description:String"),
        ExactField("Hid", "Int64", "Hid here, HID on hrm/Divisions; may arrive as a string"),
        *_f("Country:String Currency:String VATNumber:String IsMainDivision:Boolean"),
        ExactField("Status", "Int32", "0 inactive, 1 active, 2 archived"),
        *_f("Customer:Guid CustomerCode:String CustomerName:String"),
        ExactField("DivisionMoveDate", "DateTime", "Timestamps regenerated: resync when it "
                                                   "changes; not in older PQ SystemDivision",
                   "PI System/Divisions; PQ AllDivision")))
DELETED = EndpointFields(
    "sync/Deleted", "SyncDeleted", "PI Sync/Deleted; PQ SyncDeleted", (
        *_TS, ExactField("ID", "Guid"), ExactField("EntityKey", "Guid", "id of the deleted row"),
        ExactField("EntityType", "Int32", "1 TransactionLines, 2 Accounts, 7 GLAccounts, "
                                          "18 GLClassifications, ..."),
        *_f("DeletedBy:Guid DeletedDate:DateTime Division:Int32")),
    note="Kept two months by Exact.")

TABLES: dict[str, EndpointFields] = {t.path: t for t in (
    SYNC_TRANSACTION_LINES, BULK_TRANSACTION_LINES, GL_ACCOUNTS, GL_CLASSIFICATIONS, ACCOUNTS,
    JOURNALS, FINANCIAL_PERIODS, REPORTING_BALANCE, BUDGETS, COST_CENTERS, COST_UNITS, DIVISIONS,
    DELETED)}


def markdown(tables: tuple[EndpointFields, ...] = tuple(TABLES.values())) -> str:
    """The tables as Markdown (what docs/exact-entities.md holds)."""
    lines = ["# Exact Online fields read by ingest", "",
             "Generated by `python -m ingest.adapters.exact_fields` from "
             "`services/ingest/src/ingest/adapters/exact_fields.py`; do not edit by hand.",
             "Sources: PI = Pi-Systems/exact-online `src/Entity/<path>.php` (generated from "
             "Exact's REST reference pages), PQ = picqer/exact-php-client "
             "`src/Picqer/Financials/Exact/<Class>.php`.", ""]
    for t in tables:
        lines += [f"## `{t.path}`", "", f"Exact reference page `{t.page}`; source {t.source}."]
        if t.note:
            lines.append(t.note)
        lines += ["", "| field | Edm type | note | source |", "|---|---|---|---|"]
        lines += [f"| `{f.name}` | {f.edm} | {f.note} | {t.source_of(f)} |" for f in t.fields]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
