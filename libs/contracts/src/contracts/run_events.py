"""Run events and ledger batches, published by the ingest service.

Size: the wire models of every message ingest publishes about a run (started with its plan,
progress, completed, failed, batches, deletions) and their parts, declarations nearly all; the
per-entity batch variants are derived from the row models, so the module no longer grows with
each entity.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias, Union

import msgspec
from pydantic import AwareDatetime, Field, create_model

from contracts.common import ENTITIES_ADDED, Division
from contracts.datasource_events import RunKind
from contracts.envelope import Message, WireModel
from contracts.rows import ROW_MODELS, Entity, Row

_M64 = (1 << 64) - 1

_JSON = msgspec.json.Encoder()
"""Writes LedgerBatch (:meth:`LedgerBatch.to_bytes`)."""


def id_hash_term(row_id: object) -> int:
    """One id's share of :func:`id_hash`: the first 8 bytes of sha256 of the lower-case id."""
    return _text_term(str(row_id).lower())


def _text_term(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def id_texts(ids: Sequence[object]) -> list[str]:
    """``str(i).lower()`` of each id (the text :func:`id_hash_term` hashes, the key consumers
    use), in one call: UUIDs are written by msgspec, whose canonical form is ``str``'s lower-case
    text in a fifth of the time (``UUID.__str__`` is Python code, microseconds an id)."""
    texts: list[str] = msgspec.to_builtins(ids)
    if set(map(type, ids)) <= {uuid.UUID}:
        return texts
    return [t if type(i) is uuid.UUID else str(i).lower() for i, t in zip(ids, texts, strict=True)]


def id_hash_sum(ids: Sequence[object]) -> int:
    """The sum of :func:`id_hash_term` over ``ids`` (not reduced), in one call."""
    return sum(map(_text_term, id_texts(ids)))


def id_hash(ids: Iterable[object]) -> str:
    """Reconciliation hash of a set of row ids, independent of order.

    The sum, modulo 2**64, of :func:`id_hash_term` over the ids, as 16 hex digits.
    Order-independent and additive, so producers and consumers compute it while
    streaming (no sorting, constant memory) and compare with ``RunCompleted``.
    """
    return f"{sum(id_hash_term(i) for i in ids) & _M64:016x}"


class IdHash:
    """Streaming form of :func:`id_hash`: ``add`` ids as they pass, read ``hexdigest()``."""

    def __init__(self, state: int = 0) -> None:
        self.state = state & _M64

    def add(self, row_id: object) -> None:
        self.state = (self.state + id_hash_term(row_id)) & _M64

    def remove(self, row_id: object) -> None:
        self.state = (self.state - id_hash_term(row_id)) & _M64

    def hexdigest(self) -> str:
        return f"{self.state:016x}"


class PlannedEntity(WireModel):
    """One entity of a run's plan: what it is expected to cost and on which budget day."""

    entity: Entity
    estimated_rows: int | None = None
    """Rows still to read; None when nothing told beforehand (counted as one call)."""
    calls: int
    day: int
    """Budget day (0 = the day the run starts) on which the entity's last call falls."""


class RunPlan(WireModel):
    """The run's plan, made before its first call: entities in import order, their calls,
    and when the company's daily budget lets it end."""

    entities: tuple[PlannedEntity, ...]
    calls: int
    days: int
    """Daily budget resets the run waits for: 0 = it ends on the day it starts."""
    eta_seconds: float
    finishes_at: AwareDatetime
    daily_limit: int
    daily_budget_remaining: int | None = None
    """Calls Exact last said were left of the company's day (None: not known yet)."""
    lower_bound: bool = False
    """Some entity's rows were not known: the plan counts it as one call, so the run costs
    at least ``calls`` and ends no sooner than ``finishes_at``."""


class RunStartedPayload(WireModel):
    run_id: uuid.UUID
    kind: RunKind
    division: Division
    entities: tuple[Entity, ...]
    resumed: bool = False
    plan: RunPlan | None = None
    """Added in version 3; None from older producers."""


class RunStarted(Message):
    SCHEMA_VERSION: ClassVar[int] = 2 + ENTITIES_ADDED

    type: Literal["RunStarted"] = "RunStarted"
    payload: RunStartedPayload


class EntityProgress(WireModel):
    entity: Entity
    rows: int
    pages: int
    done: bool
    failed: bool = False
    """The entity stopped with an error; the run goes on with the others (see RunCompleted)."""


class RunProgressPayload(WireModel):
    """Progress of a run; ``eta_seconds`` comes from the calls left and the rate budget."""

    run_id: uuid.UUID
    kind: RunKind
    entities: tuple[EntityProgress, ...]
    calls_used: int
    daily_budget_remaining: int | None = None
    minutely_budget_remaining: int | None = None
    eta_seconds: float | None = None
    waiting_until: AwareDatetime | None = None
    """Set while the run waits (e.g. the daily call budget is spent): when it resumes, UTC."""
    waiting_reason: str | None = None
    """Why the run waits, in plain words; None while it is working."""


class RunProgress(Message):
    SCHEMA_VERSION: ClassVar[int] = 3 + ENTITIES_ADDED

    type: Literal["RunProgress"] = "RunProgress"
    payload: RunProgressPayload


class EntityTotals(WireModel):
    """Figures for reconciliation: what a consumer that kept every row must also find."""

    entity: Entity
    rows: int
    pages: int
    amount_dc_sum: Decimal | None = None
    amount_dc_debit_sum: Decimal | None = None
    """Sum of the positive amounts: balanced entries sum to zero, so this catches a missing row."""
    id_hash: str
    deleted: int | None = None
    """Rows of the entity this run announced as gone (LedgerDeletes); None: none can be.

    For ``initial``/``reimport`` runs the other figures describe the whole entity as read;
    for ``incremental`` runs they describe only the rows the run sent (changed or new)."""


RunFailureCode = Literal[
    "grant_revoked", "rate_limited", "exact_error", "invalid_data", "not_authorized", "internal"
]


class EntityFailure(WireModel):
    """An entity a run could not import; the run finished the others."""

    entity: Entity | Literal["Deleted"]
    """``Deleted``: the log of deletions (``sync/Deleted``) could not be read this time."""
    reason_code: RunFailureCode
    reason: str
    """Exact's answer or what did not fit, in plain words (no secrets)."""
    retryable: bool = True
    """Tried again by the next incremental sync and by any re-import of the entity."""


class DroppedField(WireModel):
    """A field Exact no longer knows on an endpoint (400 "Could not find a property named
    'X'"): the run read the endpoint without it, so the rows' field is null."""

    entity: Entity
    endpoint: str
    field: str
    """Exact's field name as it was selected, e.g. ``Active``."""


RunOutcome = Literal["completed", "completed_with_errors"]


class RunCompletedPayload(WireModel):
    run_id: uuid.UUID
    kind: RunKind
    division: Division
    totals: tuple[EntityTotals, ...]
    """Figures of the entities that were imported in full (failed ones are not listed)."""
    batches: int
    calls_used: int
    duration_seconds: float
    outcome: RunOutcome = "completed"
    """``completed_with_errors``: at least one entity failed (``failed_entities``); every
    other entity was imported in full and reconciles with ``totals``."""
    failed_entities: tuple[EntityFailure, ...] = ()
    dropped_fields: tuple[DroppedField, ...] = ()


class RunCompleted(Message):
    SCHEMA_VERSION: ClassVar[int] = 3 + ENTITIES_ADDED

    type: Literal["RunCompleted"] = "RunCompleted"
    payload: RunCompletedPayload


class RunFailedPayload(WireModel):
    run_id: uuid.UUID
    kind: RunKind
    reason_code: RunFailureCode
    reason: str
    retryable: bool
    failed_entities: tuple[EntityFailure, ...] = ()
    """When no entity could be imported: each entity's own reason."""
    dropped_fields: tuple[DroppedField, ...] = ()


class RunFailed(Message):
    SCHEMA_VERSION: ClassVar[int] = 2 + ENTITIES_ADDED

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
    entity: Entity
    rows: tuple[Row, ...]


def _batch_model(entity: Entity, row_model: type[Row]) -> type[_Batch]:
    """``<Entity>Batch``, e.g. ``TransactionLinesBatch``: a batch whose ``entity`` is this one
    value and whose rows are its row model (the variants of ``LedgerBatch``'s union)."""
    # Types built at run time (one value, one row model), so typed as Any for mypy.
    one_value: Any = Literal[entity]
    rows_of: Any = tuple[row_model, ...]  # type: ignore[valid-type]
    return create_model(f"{entity.value}Batch", __base__=_Batch, __module__=__name__,
                        entity=(one_value, ...), rows=(rows_of, ...))


BATCH_MODELS: dict[Entity, type[_Batch]] = {e: _batch_model(e, m) for e, m in ROW_MODELS.items()}
"""Each entity's batch model, derived from the contracts' row models (``rows.ROW_MODELS``)."""

if TYPE_CHECKING:
    LedgerBatchPayload: TypeAlias = _Batch
else:
    # A union discriminated by ``entity``: the JSON schema names each variant ``<Entity>Batch``
    # and a consumer gets each row as its entity's model.
    LedgerBatchPayload = Annotated[Union[tuple(BATCH_MODELS.values())],  # noqa: UP007
                                   Field(discriminator="entity")]


class LedgerBatch(Message):
    SCHEMA_VERSION: ClassVar[int] = 2 + ENTITIES_ADDED

    type: Literal["LedgerBatch"] = "LedgerBatch"
    payload: LedgerBatchPayload

    def to_bytes(self) -> bytes:
        """The same bytes as :meth:`Message.to_bytes` (pydantic's JSON of the whole message),
        in about a third of the time: msgspec encodes the validated field values as they are.

        Every value of a batch is of a type both write alike (UUID, Decimal as its ``str``,
        date, UTC datetime, int, str, bool, None, the Entity and kind strings), in field
        order; a test holds the bytes equal to pydantic's for every entity, with awkward
        values. On the path of every page: pydantic matching the payload against the union
        of batch models cost as much as writing the rows."""
        payload = self.payload
        return _JSON.encode({**self.__dict__, "payload": {
            **payload.__dict__, "rows": [row.__dict__ for row in payload.rows]}})


class DeletedRow(WireModel):
    """One row that no longer exists in Exact Online."""

    entity: Entity
    id: str
    """The row's id as text, lower case (GUIDs; ReportingBalance ids in decimal)."""


class ReplacedScope(WireModel):
    """What a re-import read in full: every row of ``entity`` (for the data source) within the
    scope. ``date_from``/``date_to`` bound TransactionLines' ``date``; ``year_from``/``year_to``
    bound the year of entities filtered by year (``financial_year``/``reporting_year``/
    ``fin_year``); all four None: every row of the entity."""

    entity: Entity
    date_from: date | None = None
    date_to: date | None = None
    year_from: int | None = None
    year_to: int | None = None


class LedgerDeletesPayload(WireModel):
    """Rows to remove from a consumer's store. Consumers dedupe on ``(run_id, "deletes",
    batch_seq)`` (or ``message_id``).

    ``reason="deleted"``: ``rows`` were deleted in Exact (read from ``sync/Deleted``).
    ``reason="replaced"``: sent once per entity at the end of a re-import (``kind="reimport"``)
    after every batch of that entity: rows of ``replaced`` that the consumer holds and that
    were NOT written by a batch of ``run_id`` (and were stored before this message's
    ``occurred_at``) no longer exist - delete them. Re-imported rows themselves arrive as
    ordinary ``LedgerBatch`` upserts keyed by row id, so a re-import replaces, never duplicates.
    """

    run_id: uuid.UUID
    kind: RunKind
    division: Division
    batch_seq: int = Field(ge=0)
    reason: Literal["deleted", "replaced"]
    rows: tuple[DeletedRow, ...] = ()
    replaced: ReplacedScope | None = None
    checkpoint: str | None = None
    """Cursor reached after this page of ``sync/Deleted`` (its highest Timestamp)."""


class LedgerDeletes(Message):
    SCHEMA_VERSION: ClassVar[int] = 1 + ENTITIES_ADDED

    type: Literal["LedgerDeletes"] = "LedgerDeletes"
    payload: LedgerDeletesPayload
