"""Value types shared by several messages."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

AuthorizationMode = Literal["self", "share"]
"""``self``: the portal user signs in to Exact; ``share``: a link for an Exact administrator."""

AuthorizationPurpose = Literal["create", "recreate"]

Division = Annotated[int, Field(gt=0, description="Exact Online division (company) code")]

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Entity(StrEnum):
    """The accounting entities the connector imports, named as in Exact Online."""

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


ALL_ENTITIES: tuple[Entity, ...] = tuple(Entity)
