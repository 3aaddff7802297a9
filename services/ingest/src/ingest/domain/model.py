"""Runs and their per-entity checkpoints.

A run imports a set of entities of one division. Each entity has a checkpoint: the cursor
of the next page to fetch (None before the first page and after the last), the next
``batch_seq``, and running totals for reconciliation (rows, pages, amount sum, id hash
state). A checkpoint only moves forward after the broker acknowledged the page's batches,
so a resumed run re-sends at most the pages that were in flight, with the same batch_seq.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from ingest.domain.catalog import DELETED as DELETED  # re-exported: a run's pseudo-entity
from ingest.domain.years import BY_YEAR, YEARS_FROM, years_left

ID_HASH_MODULUS = 1 << 64

INCREMENTAL = "incremental"


RunKind = Literal["initial", "reimport", "incremental"]
"""What the run was asked for: the wire's ``contracts.RunKind``, written out again because the
domain imports nothing but the standard library; ``tests/unit/test_domain_purity.py`` holds
the two equal."""


class RunStatus(StrEnum):
    PENDING = "pending"  # recorded, waiting for a replica to claim it
    RUNNING = "running"  # owned through a lease, executing
    WAITING = "waiting"  # a budget is spent; claimable again after ``not_before``
    PAUSED = "paused"  # the grant is gone; resumes when a recreate brings a new grant
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED)


CLAIMABLE = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING)
ACTIVE = (*CLAIMABLE, RunStatus.PAUSED)


@dataclass
class PageStats:
    """What one fetched page adds to its entity's totals."""

    rows: int
    amount_sum: Decimal | None
    debit_sum: Decimal | None
    id_hash_sum: int
    max_timestamp: int | None
    count_sum: int | None
    next_cursor: str | None
    year_rows: dict[int, int] = field(default_factory=dict)
    """Rows of Exact's page per value of the entity's year field (entities that have one)."""


@dataclass
class EntityCheckpoint:
    entity: str
    cursor: str | None = None
    next_batch_seq: int = 0
    rows: int = 0
    pages: int = 0
    amount_sum: Decimal | None = None
    debit_sum: Decimal | None = None
    """Sum of the positive amounts (balanced entries sum to zero; this catches a lost row)."""
    id_hash: int = 0
    max_timestamp: int | None = None
    count_sum: int | None = None
    deleted: int = 0
    """Rows of this entity announced as deleted (LedgerDeletes) in this run."""
    done: bool = False
    failed_code: str | None = None
    """Set when the entity could not be imported; the run goes on with the others."""
    failed_reason: str | None = None
    dropped_fields: tuple[str, ...] = ()
    """Selected fields Exact does not know (any more) on the entity's endpoint."""
    year: int | None = None
    """By-year entities (:mod:`ingest.domain.years`): the year being read; ``cursor`` is the
    next page of that year (None: its first). None: not read by year."""
    year_rows: dict[int, int] = field(default_factory=dict)
    """Rows read per year (entities with a year field): FinancialPeriods tells the years to
    read by; a by-year entity's counts (0 for a year without rows) plan its next reads."""

    @property
    def started(self) -> bool:
        return self.pages > 0

    @property
    def failed(self) -> bool:
        return self.failed_code is not None

    @property
    def settled(self) -> bool:
        """Nothing more to fetch in this run: read to the end, or failed."""
        return self.done or self.failed

    def fail(self, code: str, reason: str) -> None:
        if self.done:
            raise ValueError(f"{self.entity} is already complete")
        self.failed_code, self.failed_reason = code, reason[:1000]

    def dropped(self, fields: tuple[str, ...]) -> None:
        """Record fields read without (kept across pages and resumes)."""
        self.dropped_fields = tuple(sorted({*self.dropped_fields, *fields}))

    def advance(self, page: PageStats, batches: int, next_year: int | None = None) -> None:
        """Take in one acknowledged page that was sent as ``batches`` batches. ``next_year``:
        the year a by-year read goes on with after this year's last page (None: the end)."""
        if self.done:
            raise ValueError(f"{self.entity} is already complete")
        self.rows += page.rows
        self.pages += 1
        self.next_batch_seq += batches
        if page.amount_sum is not None:
            self.amount_sum = (self.amount_sum or Decimal(0)) + page.amount_sum
        if page.debit_sum is not None:
            self.debit_sum = (self.debit_sum or Decimal(0)) + page.debit_sum
        self.id_hash = (self.id_hash + page.id_hash_sum) % ID_HASH_MODULUS
        if page.max_timestamp is not None:
            self.max_timestamp = max(self.max_timestamp or 0, page.max_timestamp)
        if page.count_sum is not None:
            self.count_sum = (self.count_sum or 0) + page.count_sum
        for year, rows in page.year_rows.items():
            self.year_rows[year] = self.year_rows.get(year, 0) + rows
        if self.year is not None:
            self.year_rows.setdefault(self.year, 0)  # a year read without rows costs a call too
        self.cursor = page.next_cursor
        if page.next_cursor is None and next_year is not None:
            self.year = next_year  # this year is read: the next one from its first page
        else:
            self.done = page.next_cursor is None

    @property
    def id_hash_hex(self) -> str:
        return f"{self.id_hash:016x}"


@dataclass
class Run:
    run_id: uuid.UUID
    datasource_id: uuid.UUID
    correlation_id: uuid.UUID
    kind: RunKind
    division: int
    grant_id: uuid.UUID
    entities: tuple[str, ...]
    date_from: date | None = None
    date_to: date | None = None
    status: RunStatus = RunStatus.PENDING
    calls_used: int = 0
    batches: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error_code: str | None = None
    error_reason: str | None = None
    waiting_reason: str | None = None
    checkpoints: dict[str, EntityCheckpoint] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entity in self.entities:
            self.checkpoints.setdefault(entity, EntityCheckpoint(entity))

    @property
    def ordered(self) -> tuple[EntityCheckpoint, ...]:
        """The checkpoints in the order the run fetches them (``entities`` is recorded in
        import order: :meth:`ingest.domain.catalog.EntityCatalog.ordered`)."""
        return tuple(self.checkpoints[e] for e in self.entities)

    @property
    def data_entities(self) -> tuple[str, ...]:
        """The run's entities without the ``Deleted`` pseudo-entity."""
        return tuple(e for e in self.entities if e != DELETED)

    @property
    def incremental(self) -> bool:
        return self.kind == INCREMENTAL

    def since(self, cp: EntityCheckpoint) -> int | None:
        """Timestamp an incremental run reads an entity after (its first page only)."""
        if self.incremental and cp.cursor is None and not cp.started:
            return cp.max_timestamp or 1
        return None

    @property
    def resumed(self) -> bool:
        """Started before (by this or another replica): the run continues from checkpoints."""
        return self.started_at is not None

    @property
    def complete(self) -> bool:
        return all(cp.done for cp in self.checkpoints.values())

    @property
    def failed_entities(self) -> tuple[EntityCheckpoint, ...]:
        return tuple(cp for cp in self.ordered if cp.failed)

    @property
    def nothing_imported(self) -> bool:
        """Every data entity failed: the run fails as a whole (as a run with one entity did)."""
        data = [self.checkpoints[e] for e in self.data_entities]
        return bool(data) and all(cp.failed for cp in data)

    def years_to_read(self, cp: EntityCheckpoint) -> tuple[int, ...]:
        """The years ``cp``'s entity still reads, the one being read first (``()``: the entity
        is read whole). The years are those of FinancialPeriods once the run read it to the
        end (:mod:`ingest.domain.years`)."""
        if cp.entity not in BY_YEAR:
            return ()
        source = self.checkpoints.get(YEARS_FROM)
        known = source.year_rows if source is not None and source.done else {}
        if cp.year is None and not known:
            return ()
        return years_left(known, cp.year, cp.started)

    def expected_rows(self, entity: str) -> int | None:
        """Rows an entity will have, when another entity already told us (no count calls)."""
        if entity == "TransactionLines" and self.date_from is None and self.date_to is None:
            rb = self.checkpoints.get("ReportingBalance")
            if rb is not None and rb.done and rb.count_sum is not None:
                return rb.count_sum
        return None
