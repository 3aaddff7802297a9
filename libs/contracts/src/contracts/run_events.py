"""Run events and ledger batches, published by the ingest service."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from contracts.common import Division, Entity
from contracts.datasource_events import RunKind
from contracts.envelope import Message, WireModel
from contracts.rows import (
    Account,
    Budget,
    CostCenter,
    CostUnit,
    DivisionRow,
    FinancialPeriod,
    GLAccount,
    GLClassification,
    Journal,
    ReportingBalance,
    TransactionLine,
)


def id_hash(ids: Iterable[object]) -> str:
    """Reconciliation hash of a set of row ids: sha256 over the sorted lower-case ids, one a line.

    Consumers recompute it over what they stored and compare with ``RunCompleted``.
    """
    joined = "\n".join(sorted(str(i).lower() for i in ids))
    return hashlib.sha256(joined.encode()).hexdigest()


class RunStartedPayload(WireModel):
    run_id: uuid.UUID
    kind: RunKind
    division: Division
    entities: tuple[Entity, ...]
    resumed: bool = False


class RunStarted(Message):
    type: Literal["RunStarted"] = "RunStarted"
    payload: RunStartedPayload


class EntityProgress(WireModel):
    entity: Entity
    rows: int
    pages: int
    done: bool


class RunProgressPayload(WireModel):
    """Progress of a run; ``eta_seconds`` comes from the calls left and the rate budget."""

    run_id: uuid.UUID
    kind: RunKind
    entities: tuple[EntityProgress, ...]
    calls_used: int
    daily_budget_remaining: int | None = None
    minutely_budget_remaining: int | None = None
    eta_seconds: float | None = None


class RunProgress(Message):
    type: Literal["RunProgress"] = "RunProgress"
    payload: RunProgressPayload


class EntityTotals(WireModel):
    """Figures for reconciliation: what a consumer that kept every row must also find."""

    entity: Entity
    rows: int
    pages: int
    amount_dc_sum: Decimal | None = None
    id_hash: str


class RunCompletedPayload(WireModel):
    run_id: uuid.UUID
    kind: RunKind
    division: Division
    totals: tuple[EntityTotals, ...]
    batches: int
    calls_used: int
    duration_seconds: float


class RunCompleted(Message):
    type: Literal["RunCompleted"] = "RunCompleted"
    payload: RunCompletedPayload


RunFailureCode = Literal[
    "grant_revoked", "rate_limited", "exact_error", "invalid_data", "not_authorized", "internal"
]


class RunFailedPayload(WireModel):
    run_id: uuid.UUID
    kind: RunKind
    reason_code: RunFailureCode
    reason: str
    retryable: bool


class RunFailed(Message):
    type: Literal["RunFailed"] = "RunFailed"
    payload: RunFailedPayload


class _Batch(WireModel):
    """One page of one entity. Consumers dedupe on ``(run_id, entity, batch_seq)``."""

    run_id: uuid.UUID
    kind: RunKind
    division: Division
    batch_seq: int = Field(ge=0)
    checkpoint: str | None = None
    """Cursor reached after this page (next-page link or highest Timestamp)."""
    last: bool = False
    """The entity's final batch in this run."""


class TransactionLinesBatch(_Batch):
    entity: Literal[Entity.TRANSACTION_LINES]
    rows: tuple[TransactionLine, ...]


class GLAccountsBatch(_Batch):
    entity: Literal[Entity.GL_ACCOUNTS]
    rows: tuple[GLAccount, ...]


class GLClassificationsBatch(_Batch):
    entity: Literal[Entity.GL_CLASSIFICATIONS]
    rows: tuple[GLClassification, ...]


class JournalsBatch(_Batch):
    entity: Literal[Entity.JOURNALS]
    rows: tuple[Journal, ...]


class FinancialPeriodsBatch(_Batch):
    entity: Literal[Entity.FINANCIAL_PERIODS]
    rows: tuple[FinancialPeriod, ...]


class ReportingBalanceBatch(_Batch):
    entity: Literal[Entity.REPORTING_BALANCE]
    rows: tuple[ReportingBalance, ...]


class BudgetsBatch(_Batch):
    entity: Literal[Entity.BUDGETS]
    rows: tuple[Budget, ...]


class CostCentersBatch(_Batch):
    entity: Literal[Entity.COST_CENTERS]
    rows: tuple[CostCenter, ...]


class CostUnitsBatch(_Batch):
    entity: Literal[Entity.COST_UNITS]
    rows: tuple[CostUnit, ...]


class AccountsBatch(_Batch):
    entity: Literal[Entity.ACCOUNTS]
    rows: tuple[Account, ...]


class DivisionsBatch(_Batch):
    entity: Literal[Entity.DIVISIONS]
    rows: tuple[DivisionRow, ...]


LedgerBatchPayload = Annotated[
    TransactionLinesBatch
    | GLAccountsBatch
    | GLClassificationsBatch
    | JournalsBatch
    | FinancialPeriodsBatch
    | ReportingBalanceBatch
    | BudgetsBatch
    | CostCentersBatch
    | CostUnitsBatch
    | AccountsBatch
    | DivisionsBatch,
    Field(discriminator="entity"),
]

BATCH_MODELS: dict[Entity, type[_Batch]] = {
    Entity.TRANSACTION_LINES: TransactionLinesBatch,
    Entity.GL_ACCOUNTS: GLAccountsBatch,
    Entity.GL_CLASSIFICATIONS: GLClassificationsBatch,
    Entity.JOURNALS: JournalsBatch,
    Entity.FINANCIAL_PERIODS: FinancialPeriodsBatch,
    Entity.REPORTING_BALANCE: ReportingBalanceBatch,
    Entity.BUDGETS: BudgetsBatch,
    Entity.COST_CENTERS: CostCentersBatch,
    Entity.COST_UNITS: CostUnitsBatch,
    Entity.ACCOUNTS: AccountsBatch,
    Entity.DIVISIONS: DivisionsBatch,
}


class LedgerBatch(Message):
    type: Literal["LedgerBatch"] = "LedgerBatch"
    payload: LedgerBatchPayload
