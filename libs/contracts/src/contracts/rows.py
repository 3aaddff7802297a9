"""The entities the connector imports: their names (:class:`Entity`), typed rows, and the
registry :data:`ROW_MODELS` that everything per entity in the contracts is derived from (each
entity's ``LedgerBatch`` variant, the message versions, the endpoints an administrator needs
GET rights on).

Adding an entity here is a value of :class:`Entity`, its row model (with the ``ENDPOINT`` it is
read from) and its line in :data:`ROW_MODELS`.

Field names are snake_case on the wire; each field's alias is Exact Online's
own field name, which is also what the importer passes in ``$select``. Amounts
are Decimal (serialised as strings, so no float rounding), ids are GUIDs,
``Date`` fields are calendar dates and ``Created``/``Modified`` are UTC.

Size: one declarative row model per entity (about twenty lines each, one field per Exact field),
kept in one module so an entity is added in one place; it grows by one model per entity.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, ConfigDict, Field

from contracts.envelope import WireModel


class Entity(StrEnum):
    """The accounting entities the connector imports, named as in Exact Online."""

    # New values are appended: recorded messages list the values in this order.

    TRANSACTION_LINES = "TransactionLines"
    GL_ACCOUNTS = "GLAccounts"
    GL_CLASSIFICATIONS = "GLClassifications"
    JOURNALS = "Journals"
    FINANCIAL_PERIODS = "FinancialPeriods"
    REPORTING_BALANCE = "ReportingBalance"
    BUDGETS = "Budgets"
    COST_CENTERS = "CostCenters"
    COST_UNITS = "CostUnits"
    ACCOUNTS = "Accounts"
    DIVISIONS = "Divisions"
    GL_ACCOUNT_CLASSIFICATION_MAPPINGS = "GLAccountClassificationMappings"
    PAYMENT_TERMS = "PaymentTerms"


class Row(WireModel):
    model_config = ConfigDict(
        strict=True, frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    ENDPOINT: ClassVar[str]
    """The Exact endpoint the rows are read from (ingest's entity table names the same one; a
    test holds the two equal): an administrator needs GET rights on it."""


def exact_fields(model: type[Row]) -> tuple[str, ...]:
    """Exact Online field names of a row model, for ``$select``."""
    return tuple(str(f.validation_alias or name) for name, f in model.model_fields.items())


class TransactionLine(Row):
    ENDPOINT = "sync/Financial/TransactionLines"

    id: uuid.UUID = Field(validation_alias="ID")
    entry_id: uuid.UUID = Field(validation_alias="EntryID")
    entry_number: int | None = Field(default=None, validation_alias="EntryNumber")
    line_number: int | None = Field(default=None, validation_alias="LineNumber")
    division: int = Field(validation_alias="Division")
    date: dt.date = Field(validation_alias="Date")
    created: AwareDatetime | None = Field(default=None, validation_alias="Created")
    modified: AwareDatetime | None = Field(default=None, validation_alias="Modified")
    financial_year: int = Field(validation_alias="FinancialYear")
    financial_period: int = Field(validation_alias="FinancialPeriod")
    gl_account: uuid.UUID | None = Field(default=None, validation_alias="GLAccount")
    gl_account_code: str | None = Field(default=None, validation_alias="GLAccountCode")
    gl_account_description: str | None = Field(default=None, validation_alias="GLAccountDescription")
    amount_dc: Decimal = Field(validation_alias="AmountDC")
    amount_fc: Decimal | None = Field(default=None, validation_alias="AmountFC")
    currency: str | None = Field(default=None, validation_alias="Currency")
    exchange_rate: Decimal | None = Field(default=None, validation_alias="ExchangeRate")
    journal_code: str | None = Field(default=None, validation_alias="JournalCode")
    journal_description: str | None = Field(default=None, validation_alias="JournalDescription")
    description: str | None = Field(default=None, validation_alias="Description")
    cost_center: str | None = Field(default=None, validation_alias="CostCenter")
    cost_unit: str | None = Field(default=None, validation_alias="CostUnit")
    account: uuid.UUID | None = Field(default=None, validation_alias="Account")
    account_code: str | None = Field(default=None, validation_alias="AccountCode")
    account_name: str | None = Field(default=None, validation_alias="AccountName")
    type: int | None = Field(default=None, validation_alias="Type")
    status: int | None = Field(default=None, validation_alias="Status")
    timestamp: int | None = Field(default=None, validation_alias="Timestamp")


class GLAccount(Row):
    ENDPOINT = "sync/Financial/GLAccounts"

    id: uuid.UUID = Field(validation_alias="ID")
    code: str = Field(validation_alias="Code")
    description: str | None = Field(default=None, validation_alias="Description")
    balance_side: str | None = Field(default=None, validation_alias="BalanceSide")
    balance_type: str | None = Field(default=None, validation_alias="BalanceType")
    type: int | None = Field(default=None, validation_alias="Type")
    division: int = Field(validation_alias="Division")
    created: AwareDatetime | None = Field(default=None, validation_alias="Created")
    modified: AwareDatetime | None = Field(default=None, validation_alias="Modified")
    timestamp: int | None = Field(default=None, validation_alias="Timestamp")


class GLClassification(Row):
    """``division``: Exact leaves it empty for its general taxonomies; ingest then fills in the
    division the row was read from."""

    ENDPOINT = "sync/Financial/GLClassifications"

    id: uuid.UUID = Field(validation_alias="ID")
    code: str | None = Field(default=None, validation_alias="Code")
    description: str | None = Field(default=None, validation_alias="Description")
    parent: uuid.UUID | None = Field(default=None, validation_alias="Parent")
    abstract: bool | None = Field(default=None, validation_alias="Abstract")
    division: int = Field(validation_alias="Division")
    created: AwareDatetime | None = Field(default=None, validation_alias="Created")
    modified: AwareDatetime | None = Field(default=None, validation_alias="Modified")
    timestamp: int | None = Field(default=None, validation_alias="Timestamp")


class Account(Row):
    ENDPOINT = "sync/CRM/Accounts"

    id: uuid.UUID = Field(validation_alias="ID")
    code: str | None = Field(default=None, validation_alias="Code")
    name: str | None = Field(default=None, validation_alias="Name")
    city: str | None = Field(default=None, validation_alias="City")
    country: str | None = Field(default=None, validation_alias="Country")
    vat_number: str | None = Field(default=None, validation_alias="VATNumber")
    status: str | None = Field(default=None, validation_alias="Status")
    is_supplier: bool | None = Field(default=None, validation_alias="IsSupplier")
    division: int = Field(validation_alias="Division")
    created: AwareDatetime | None = Field(default=None, validation_alias="Created")
    modified: AwareDatetime | None = Field(default=None, validation_alias="Modified")
    timestamp: int | None = Field(default=None, validation_alias="Timestamp")


class Journal(Row):
    ENDPOINT = "financial/Journals"

    id: uuid.UUID = Field(validation_alias="ID")
    code: str = Field(validation_alias="Code")
    description: str | None = Field(default=None, validation_alias="Description")
    type: int | None = Field(default=None, validation_alias="Type")
    gl_account: uuid.UUID | None = Field(default=None, validation_alias="GLAccount")
    division: int = Field(validation_alias="Division")
    created: AwareDatetime | None = Field(default=None, validation_alias="Created")
    modified: AwareDatetime | None = Field(default=None, validation_alias="Modified")


class FinancialPeriod(Row):
    ENDPOINT = "financial/FinancialPeriods"

    id: uuid.UUID = Field(validation_alias="ID")
    fin_year: int = Field(validation_alias="FinYear")
    fin_period: int = Field(validation_alias="FinPeriod")
    start_date: dt.date | None = Field(default=None, validation_alias="StartDate")
    end_date: dt.date | None = Field(default=None, validation_alias="EndDate")
    division: int = Field(validation_alias="Division")


class ReportingBalance(Row):
    ENDPOINT = "financial/ReportingBalance"

    id: int = Field(validation_alias="ID")
    reporting_year: int = Field(validation_alias="ReportingYear")
    reporting_period: int = Field(validation_alias="ReportingPeriod")
    gl_account: uuid.UUID | None = Field(default=None, validation_alias="GLAccount")
    gl_account_code: str | None = Field(default=None, validation_alias="GLAccountCode")
    gl_account_description: str | None = Field(default=None, validation_alias="GLAccountDescription")
    cost_center_code: str | None = Field(default=None, validation_alias="CostCenterCode")
    cost_unit_code: str | None = Field(default=None, validation_alias="CostUnitCode")
    amount: Decimal = Field(validation_alias="Amount")
    amount_debit: Decimal | None = Field(default=None, validation_alias="AmountDebit")
    amount_credit: Decimal | None = Field(default=None, validation_alias="AmountCredit")
    balance_type: str | None = Field(default=None, validation_alias="BalanceType")
    type: int | None = Field(default=None, validation_alias="Type")
    status: int | None = Field(default=None, validation_alias="Status")
    count: int | None = Field(default=None, validation_alias="Count")
    division: int = Field(validation_alias="Division")


class Budget(Row):
    ENDPOINT = "budget/Budgets"

    id: uuid.UUID = Field(validation_alias="ID")
    budget_scenario: uuid.UUID | None = Field(default=None, validation_alias="BudgetScenario")
    budget_scenario_code: str | None = Field(default=None, validation_alias="BudgetScenarioCode")
    gl_account: uuid.UUID | None = Field(default=None, validation_alias="GLAccount")
    gl_account_code: str | None = Field(default=None, validation_alias="GLAccountCode")
    reporting_year: int = Field(validation_alias="ReportingYear")
    reporting_period: int = Field(validation_alias="ReportingPeriod")
    amount_dc: Decimal = Field(validation_alias="AmountDC")
    # Exact's Budget spells these Costcenter/Costunit (TransactionLines: CostCenter/CostUnit);
    # the wire names stay snake_case and unchanged.
    cost_center: str | None = Field(default=None, validation_alias="Costcenter")
    cost_center_description: str | None = Field(default=None,
                                                validation_alias="CostcenterDescription")
    cost_unit: str | None = Field(default=None, validation_alias="Costunit")
    cost_unit_description: str | None = Field(default=None, validation_alias="CostunitDescription")
    division: int = Field(validation_alias="Division")
    created: AwareDatetime | None = Field(default=None, validation_alias="Created")
    modified: AwareDatetime | None = Field(default=None, validation_alias="Modified")


class CostCenter(Row):
    ENDPOINT = "hrm/Costcenters"

    id: uuid.UUID = Field(validation_alias="ID")
    code: str = Field(validation_alias="Code")
    description: str | None = Field(default=None, validation_alias="Description")
    active: bool | None = Field(default=None, validation_alias="Active")
    """Listed as obsolete by Exact (null once Exact retires it); ``end_date`` tells activity."""
    end_date: dt.date | None = Field(default=None, validation_alias="EndDate")
    """The cost centre is inactive from this date (None: active)."""
    division: int = Field(validation_alias="Division")
    created: AwareDatetime | None = Field(default=None, validation_alias="Created")
    modified: AwareDatetime | None = Field(default=None, validation_alias="Modified")


class CostUnit(Row):
    ENDPOINT = "hrm/Costunits"

    id: uuid.UUID = Field(validation_alias="ID")
    code: str = Field(validation_alias="Code")
    description: str | None = Field(default=None, validation_alias="Description")
    end_date: dt.date | None = Field(default=None, validation_alias="EndDate")
    """The cost unit is inactive from this date (None: active)."""
    division: int = Field(validation_alias="Division")
    created: AwareDatetime | None = Field(default=None, validation_alias="Created")
    modified: AwareDatetime | None = Field(default=None, validation_alias="Modified")


class DivisionRow(Row):
    ENDPOINT = "system/Divisions"

    code: int = Field(validation_alias="Code")
    description: str | None = Field(default=None, validation_alias="Description")
    hid: int | None = Field(default=None, validation_alias="Hid")
    country: str | None = Field(default=None, validation_alias="Country")
    currency: str | None = Field(default=None, validation_alias="Currency")
    vat_number: str | None = Field(default=None, validation_alias="VATNumber")
    is_main_division: bool | None = Field(default=None, validation_alias="IsMainDivision")
    status: int | None = Field(default=None, validation_alias="Status")
    customer: uuid.UUID | None = Field(default=None, validation_alias="Customer")
    customer_code: str | None = Field(default=None, validation_alias="CustomerCode")
    customer_name: str | None = Field(default=None, validation_alias="CustomerName")
    division_move_date: AwareDatetime | None = Field(default=None, validation_alias="DivisionMoveDate")


class GLAccountClassificationMapping(Row):
    """Which classification of a reporting scheme a G/L account falls under."""

    ENDPOINT = "financial/GLAccountClassificationMappings"

    id: uuid.UUID = Field(validation_alias="ID")
    classification: uuid.UUID = Field(validation_alias="Classification")
    classification_code: str | None = Field(default=None, validation_alias="ClassificationCode")
    classification_description: str | None = Field(default=None,
                                                   validation_alias="ClassificationDescription")
    division: int = Field(validation_alias="Division")
    gl_account: uuid.UUID = Field(validation_alias="GLAccount")
    gl_account_code: str | None = Field(default=None, validation_alias="GLAccountCode")
    gl_account_description: str | None = Field(default=None,
                                               validation_alias="GLAccountDescription")
    gl_scheme_code: str | None = Field(default=None, validation_alias="GLSchemeCode")
    gl_scheme_description: str | None = Field(default=None, validation_alias="GLSchemeDescription")
    gl_scheme_id: uuid.UUID = Field(validation_alias="GLSchemeID")


class PaymentTerm(Row):
    """An outstanding item of the cash flow: a receivable from a customer (``line_type`` 20)
    or a payable to a supplier (22)."""

    ENDPOINT = "sync/Cashflow/PaymentTerms"

    id: uuid.UUID = Field(validation_alias="ID")
    account: uuid.UUID | None = Field(default=None, validation_alias="Account")
    account_code: str | None = Field(default=None, validation_alias="AccountCode")
    account_name: str | None = Field(default=None, validation_alias="AccountName")
    amount_dc: Decimal | None = Field(default=None, validation_alias="AmountDC")
    amount_fc: Decimal | None = Field(default=None, validation_alias="AmountFC")
    currency: str | None = Field(default=None, validation_alias="Currency")
    description: str | None = Field(default=None, validation_alias="Description")
    division: int = Field(validation_alias="Division")
    due_date: dt.date | None = Field(default=None, validation_alias="DueDate")
    entry_number: int | None = Field(default=None, validation_alias="EntryNumber")
    gl_account: uuid.UUID | None = Field(default=None, validation_alias="GLAccount")
    gl_account_code: str | None = Field(default=None, validation_alias="GLAccountCode")
    invoice_date: dt.date | None = Field(default=None, validation_alias="InvoiceDate")
    invoice_number: int | None = Field(default=None, validation_alias="InvoiceNumber")
    journal: str | None = Field(default=None, validation_alias="Journal")
    line_type: int | None = Field(default=None, validation_alias="LineType")
    status: int | None = Field(default=None, validation_alias="Status")
    transaction_entry_id: uuid.UUID | None = Field(default=None,
                                                   validation_alias="TransactionEntryID")
    your_ref: str | None = Field(default=None, validation_alias="YourRef")
    created: AwareDatetime | None = Field(default=None, validation_alias="Created")
    modified: AwareDatetime | None = Field(default=None, validation_alias="Modified")
    timestamp: int | None = Field(default=None, validation_alias="Timestamp")


ROW_MODELS: dict[Entity, type[Row]] = {
    Entity.TRANSACTION_LINES: TransactionLine,
    Entity.GL_ACCOUNTS: GLAccount,
    Entity.GL_CLASSIFICATIONS: GLClassification,
    Entity.JOURNALS: Journal,
    Entity.FINANCIAL_PERIODS: FinancialPeriod,
    Entity.REPORTING_BALANCE: ReportingBalance,
    Entity.BUDGETS: Budget,
    Entity.COST_CENTERS: CostCenter,
    Entity.COST_UNITS: CostUnit,
    Entity.ACCOUNTS: Account,
    Entity.DIVISIONS: DivisionRow,
    Entity.GL_ACCOUNT_CLASSIFICATION_MAPPINGS: GLAccountClassificationMapping,
    Entity.PAYMENT_TERMS: PaymentTerm,
}
"""Every entity's row model, in :class:`Entity`'s order."""

READ_ENDPOINTS: tuple[str, ...] = tuple(m.ENDPOINT for m in ROW_MODELS.values())
"""Every endpoint the import reads an entity from."""
