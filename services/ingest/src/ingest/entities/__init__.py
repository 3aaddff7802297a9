"""The entity table: one declaration per entity ingest imports, in the order a run fetches them.

A declaration names the Exact endpoint(s) the entity is read from with every field selected
there, how it is paged (sync endpoints: 1000 rows, ``Timestamp`` cursor; regular: 60), the
fields its reconciliation figures come from, the ``sync/Deleted`` type of its rows, and from
the endpoint's mode whether incremental runs sync it or re-read it in full. Its row model is
the contract's (``contracts.ROW_MODELS``). Adding an entity is one declaration here (append
it: a declaration's place numbers its deletion messages), its row model in the contracts and
its data in the sandbox.

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

Run ``python -m ingest.entities`` to print the tables as Markdown (docs/exact-entities.md is
that output; a test keeps the two equal).
"""

from __future__ import annotations

from contracts import Entity
from ingest.domain.catalog import EntityCatalog
from ingest.entities.spec import Endpoint, EntitySpec, ExactField, fields

_CREATED = fields("Created:DateTime Modified:DateTime")
_TS = (ExactField("Timestamp", "Int64", "sync cursor (rowversion); may arrive as a JSON string"),)

DIVISIONS = EntitySpec(
    Entity.DIVISIONS, Endpoint(
        "system/Divisions", "regular", "SystemSystemDivisions",
        "PI System/Divisions; PQ SystemDivision", (
            *fields("Code:Int32 Description:String"),
            ExactField("Hid", "Int64", "Hid here, HID on hrm/Divisions; may arrive as a string"),
            *fields("Country:String Currency:String VATNumber:String IsMainDivision:Boolean"),
            ExactField("Status", "Int32", "0 inactive, 1 active, 2 archived"),
            *fields("Customer:Guid CustomerCode:String CustomerName:String"),
            ExactField("DivisionMoveDate", "DateTime", "Timestamps regenerated: resync when it "
                                                       "changes; not in older PQ SystemDivision",
                       "PI System/Divisions; PQ AllDivision"))),
    id_field="Code", only_division=True)

GL_CLASSIFICATIONS = EntitySpec(
    Entity.GL_CLASSIFICATIONS, Endpoint(
        "sync/Financial/GLClassifications", "sync", "SyncFinancialGLClassifications",
        "PI Sync/Financial/GLClassifications; PQ SyncGLClassification", (
            *fields("ID:Guid Code:String Description:String Parent:Guid Abstract:Boolean"),
            ExactField("Division", "Int32", "empty for Exact's general taxonomies: the division "
                                            "read from is filled in"),
            *_CREATED, *_TS),
        note="Does not support $select=*."),
    division_may_be_empty=True, deleted_type=18)

GL_ACCOUNTS = EntitySpec(
    Entity.GL_ACCOUNTS, Endpoint(
        "sync/Financial/GLAccounts", "sync", "SyncFinancialGLAccounts",
        "PI Sync/Financial/GLAccounts; PQ SyncGLAccount", (
            *fields("ID:Guid Code:String Description:String"),
            ExactField("BalanceSide", "String", "D debit, C credit"),
            ExactField("BalanceType", "String", "B balance sheet, W profit & loss"),
            *fields("Type:Int32 Division:Int32"), *_CREATED, *_TS)),
    deleted_type=7)

JOURNALS = EntitySpec(
    Entity.JOURNALS, Endpoint(
        "financial/Journals", "regular", "FinancialJournals", "PQ Journal", (
            *fields("ID:Guid Code:String Description:String Type:Int32 GLAccount:Guid "
                    "Division:Int32"),
            *_CREATED)))

FINANCIAL_PERIODS = EntitySpec(
    Entity.FINANCIAL_PERIODS, Endpoint(
        "financial/FinancialPeriods", "regular", "FinancialFinancialPeriods",
        "PI Financial/FinancialPeriods; PQ FinancialPeriod",
        fields("ID:Guid FinYear:Int16 FinPeriod:Int16 StartDate:DateTime EndDate:DateTime "
               "Division:Int32")),
    year_field="FinYear")

COST_CENTERS = EntitySpec(
    Entity.COST_CENTERS, Endpoint(
        "hrm/Costcenters", "regular", "HRMCostcenters", "PI HRM/Costcenters; PQ Costcenter", (
            *fields("ID:Guid Code:String Description:String"),
            ExactField("Active", "Boolean", "listed as 'Obsolete' by Exact: may be retired "
                                            "(then dropped from $select, null); EndDate tells "
                                            "activity"),
            ExactField("EndDate", "DateTime", "inactive from this date", "PI HRM/Costcenters"),
            ExactField("Division", "Int32"), *_CREATED)))

COST_UNITS = EntitySpec(
    Entity.COST_UNITS, Endpoint(
        "hrm/Costunits", "regular", "HRMCostunits", "PI HRM/Costunits; PQ Costunit", (
            *fields("ID:Guid Code:String Description:String"),
            ExactField("EndDate", "DateTime", "inactive from this date", "PI HRM/Costunits"),
            ExactField("Division", "Int32"), *_CREATED)))

ACCOUNTS = EntitySpec(
    Entity.ACCOUNTS, Endpoint(
        "sync/CRM/Accounts", "sync", "SyncCRMAccounts", "PQ SyncAccount", (
            *fields("ID:Guid Code:String Name:String City:String Country:String "
                    "VATNumber:String"),
            ExactField("Status", "String", "A none, S suspect, P prospect, C customer"),
            *fields("IsSupplier:Boolean Division:Int32"), *_CREATED, *_TS)),
    deleted_type=2, webhook_topic="Accounts")

BUDGETS = EntitySpec(
    Entity.BUDGETS, Endpoint(
        "budget/Budgets", "regular", "BudgetBudgets", "PI Budget/Budgets; PQ Budget", (
            *fields("ID:Guid BudgetScenario:Guid BudgetScenarioCode:String GLAccount:Guid "
                    "GLAccountCode:String ReportingYear:Int16 ReportingPeriod:Int16 "
                    "AmountDC:Double"),
            *fields("Costcenter:String CostcenterDescription:String Costunit:String "
                    "CostunitDescription:String", "lower-case c/u on this entity (not "
                                                  "CostCenter)"),
            ExactField("Division", "Int32"), *_CREATED)),
    amount_field="AmountDC", year_field="ReportingYear")

_TL_LINE = (
    *fields("ID:Guid EntryID:Guid EntryNumber:Int32"),
    ExactField("LineNumber", "Int32", "sync: 0 is the entry's header row (skipped), lines are 1+"),
    *fields("Division:Int32 Date:DateTime"),
    *_CREATED,
    *fields("FinancialYear:Int16 FinancialPeriod:Int16 GLAccount:Guid GLAccountCode:String "
            "GLAccountDescription:String AmountDC:Double AmountFC:Double Currency:String "
            "ExchangeRate:Double JournalCode:String JournalDescription:String "
            "Description:String"),
    *fields("CostCenter:String CostUnit:String", "a code, not a Guid; capital C/U on this entity"),
    *fields("Account:Guid AccountCode:String AccountName:String"),
    ExactField("Type", "Int32", "10 opening balance, 20 sales, 30 purchase, ... 310 closing"),
    ExactField("Status", "Int16", "20 open, 50 processed"),
)

TRANSACTION_LINES = EntitySpec(
    Entity.TRANSACTION_LINES, Endpoint(
        "sync/Financial/TransactionLines", "sync", "SyncFinancialTransactionLines",
        "PI Sync/Financial/TransactionLines; PQ SyncTransactionLine", (*_TL_LINE, *_TS),
        note="Returns entry header rows (LineNumber 0) with the lines; only lines are "
             "imported."),
    bulk=Endpoint(
        "bulk/Financial/TransactionLines", "bulk", "BulkFinancialTransactionLines",
        "PI Bulk/Financial/TransactionLines; PQ BulkTransactionLine", _TL_LINE,
        note="No Timestamp on bulk; used by re-imports with a date range."),
    amount_field="AmountDC", header_rows=True, deleted_type=1,
    webhook_topic="FinancialTransactions")

REPORTING_BALANCE = EntitySpec(
    Entity.REPORTING_BALANCE, Endpoint(
        "financial/ReportingBalance", "regular", "FinancialReportingBalance",
        "PI Financial/ReportingBalance; PQ ReportingBalance", (
            ExactField("ID", "Int64", "record id (not a Guid); may arrive as a JSON string"),
            *fields("ReportingYear:Int32 ReportingPeriod:Int32 GLAccount:Guid "
                    "GLAccountCode:String GLAccountDescription:String"),
            *fields("CostCenterCode:String CostUnitCode:String", "spelled ...Code on this entity"),
            *fields("Amount:Double AmountDebit:Double AmountCredit:Double"),
            ExactField("BalanceType", "String", "B balance sheet, W profit & loss"),
            ExactField("Type", "Int32", "transaction type of the grouping"),
            ExactField("Status", "Int32", "20 open, 50 processed (both by default)"),
            *fields("Count:Int32 Division:Int32")),
        note="Totals grouped by division, year, period, G/L account, cost centre, cost unit, "
             "Type and Status."),
    amount_field="Amount", year_field="ReportingYear", period_field="ReportingPeriod",
    count_field="Count")

GL_ACCOUNT_CLASSIFICATION_MAPPINGS = EntitySpec(
    Entity.GL_ACCOUNT_CLASSIFICATION_MAPPINGS, Endpoint(
        "financial/GLAccountClassificationMappings", "regular",
        "FinancialGLAccountClassificationMappings",
        "PI Financial/GLAccountClassificationMappings; PQ GLAccountClassificationMapping", (
            ExactField("ID", "Guid"),
            ExactField("Classification", "Guid", "ID of the classification"),
            *fields("ClassificationCode:String ClassificationDescription:String Division:Int32"),
            *fields("GLAccount:Guid GLAccountCode:String GLAccountDescription:String"),
            *fields("GLSchemeCode:String GLSchemeDescription:String"),
            ExactField("GLSchemeID", "Guid", "the G/L scheme the classification belongs to")),
        note="Which classification of each G/L scheme a G/L account falls under (PQ reads it "
             "under beta/, PI under api/v1)."))

PAYMENT_TERMS = EntitySpec(
    Entity.PAYMENT_TERMS, Endpoint(
        "sync/Cashflow/PaymentTerms", "sync", "SyncCashflowPaymentTerms",
        "PI Sync/Cashflow/PaymentTerms; PQ SyncPaymentTerm", (
            *fields("ID:Guid Account:Guid AccountCode:String AccountName:String"),
            ExactField("AmountDC", "Double", "in the division's currency; matched on this"),
            *fields("AmountFC:Double Currency:String Description:String Division:Int32"),
            ExactField("DueDate", "DateTime", "the date the invoice must be paid by"),
            ExactField("EntryNumber", "Int32", "entry number of the linked transaction"),
            *fields("GLAccount:Guid GLAccountCode:String InvoiceDate:DateTime "
                    "InvoiceNumber:Int32"),
            ExactField("Journal", "String", "journal code of the linked transaction"),
            ExactField("LineType", "Int16", "20 receipt (receivable), 22 payment (payable)"),
            ExactField("Status", "Int16", "20 open, 30 selected, 40 processed, 50 matched"),
            ExactField("TransactionEntryID", "Guid", "the linked transaction (its EntryID)"),
            ExactField("YourRef", "String", "the supplier's invoice number on payables"),
            *_CREATED, *_TS),
        note="Receivables and payables in one sync endpoint, told apart by LineType; "
             "sync/Deleted lists their deletions as EntityType 10 (PQ Deleted)."),
    deleted_type=10)

ENTITIES: dict[str, EntitySpec] = {s.entity: s for s in (
    DIVISIONS, GL_CLASSIFICATIONS, GL_ACCOUNTS, JOURNALS, FINANCIAL_PERIODS, COST_CENTERS,
    COST_UNITS, ACCOUNTS, BUDGETS, TRANSACTION_LINES, GL_ACCOUNT_CLASSIFICATION_MAPPINGS,
    PAYMENT_TERMS, REPORTING_BALANCE,
)}
"""Every entity by name, in import order: small master data first, then the ledger and the
other entities read 1,000 rows a call, then ReportingBalance last: at 60 rows a page it costs
13 times the ledger's calls, and a company's daily budget must never make the ledger, its
receivables and payables wait for it (:mod:`ingest.domain.plan`)."""

DELETED = Endpoint(
    "sync/Deleted", "sync", "SyncDeleted", "PI Sync/Deleted; PQ SyncDeleted", (
        *_TS, ExactField("ID", "Guid"), ExactField("EntityKey", "Guid", "id of the deleted row"),
        ExactField("EntityType", "Int32", "1 TransactionLines, 2 Accounts, 7 GLAccounts, "
                                          "10 PaymentTerms, 18 GLClassifications, ..."),
        *fields("DeletedBy:Guid DeletedDate:DateTime Division:Int32")),
    note="Kept two months by Exact; incremental runs read it after the changes.")

DELETED_TYPES: dict[int, EntitySpec] = {
    s.deleted_type: s for s in ENTITIES.values() if s.deleted_type is not None}
"""``sync/Deleted`` EntityType -> entity (other types are not imported)."""

CATALOG = EntityCatalog(
    order=tuple(ENTITIES), sync=frozenset(name for name, s in ENTITIES.items() if s.synced),
    topics={t: tuple(n for n, s in ENTITIES.items() if s.webhook_topic == t)
            for t in dict.fromkeys(s.webhook_topic for s in ENTITIES.values() if s.webhook_topic)})

ENDPOINTS: tuple[Endpoint, ...] = (
    *(e for s in ENTITIES.values() for e in (s.endpoint, s.bulk) if e is not None), DELETED)
"""Every endpoint ingest reads, with its fields (docs/exact-entities.md lists them)."""


def spec_for(entity: str, *, ranged: bool = False) -> EntitySpec:
    """The entity's declaration, as a read with or without a date range asks Exact."""
    return ENTITIES[entity].reading(ranged)


__all__ = ["CATALOG", "DELETED", "DELETED_TYPES", "ENDPOINTS", "ENTITIES", "Endpoint",
           "EntitySpec", "ExactField", "spec_for"]
