"""The ports of the ingest service: what use cases need, implemented by adapters (and fakes)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from contracts import (
    DataSourceDisowned,
    Entity,
    ExactChangeNotified,
    InitialRunRequested,
    Message,
    RecreateAccepted,
    Row,
)
from ingest.domain.budget import BudgetView, RateHeaders
from ingest.domain.model import EntityCheckpoint, PageStats, Run, RunStatus
from ingest.domain.refresh import PageHashes
from ingest.domain.trial_balance import Period, PeriodScope, TrialKey, TrialPage, TrialRules


class Clock(Protocol):
    def now(self) -> datetime:
        """Current UTC time."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class EntityRequest:
    """Which rows of one entity a run wants."""

    division: int
    grant_id: uuid.UUID
    entity: Entity
    date_from: date | None = None
    date_to: date | None = None
    since: int | None = None
    """Sync endpoints: read rows with a Timestamp above this (incremental runs)."""
    periods: tuple[int, int] | None = None
    """Entities with a reporting period (ReportingBalance): only periods from..to of the
    date range's years."""
    reserve: float = 0.0
    """Share of the company's daily limit the reading must leave (its run kind's share)."""
    year: int | None = None
    """By-year entities (ReportingBalance): only this year (:mod:`ingest.domain.years`)."""


@dataclass
class Page:
    """One page of typed rows, what it adds to the totals, and what fetching it cost."""

    rows: list[Row]
    stats: PageStats
    calls: int
    budget: BudgetView | None = None
    dropped: tuple[str, ...] = ()
    """Fields of the entity's selection that Exact does not know: read without, left null."""


@dataclass
class DeletionPage:
    """One page of ``sync/Deleted``: (entity, row id) of the rows deleted, for imported
    entities only, and where the log was read to."""

    deleted: list[tuple[str, str]]
    max_timestamp: int | None
    next_cursor: str | None
    calls: int
    budget: BudgetView | None = None


class ExactApi(Protocol):
    def pages(self, request: EntityRequest, cursor: str | None) -> AsyncGenerator[Page, None]:
        """Pages of ``request`` from ``cursor`` (None: the first page) to the last one."""

    def deletions(self, division: int, grant_id: uuid.UUID, since: int, cursor: str | None
                  ) -> AsyncGenerator[DeletionPage, None]:
        """Pages of ``sync/Deleted`` after Timestamp ``since`` (or from ``cursor``)."""

    def page_size(self, entity: Entity) -> int: ...

    def endpoint_path(self, entity: Entity, date_from: date | None, date_to: date | None
                      ) -> str:
        """The Exact endpoint an entity is read from (e.g. ``budget/Budgets``)."""


class TokenSource(Protocol):
    async def access_token(self, grant_id: uuid.UUID) -> str: ...

    async def rejected(self, grant_id: uuid.UUID, access_token: str) -> None:
        """Exact answered 401 to this token: forget it and tell auth."""

    def near_expiry(self, grant_id: uuid.UUID, access_token: str) -> bool:
        """True when ``access_token`` is about to expire (or is no longer the one handed
        out): a 401 then means a new token is due, not a passing fault."""


@dataclass(frozen=True)
class Permit:
    division: int
    endpoint: str
    sent_ms: int


class RateLimiter(Protocol):
    async def acquire(self, division: int, endpoint: str, reserve: float = 0.0) -> Permit:
        """Wait until a call may go; raises BudgetSpent when it cannot go for a long while
        (or the day is down to the ``reserve`` share this caller must leave)."""

    async def complete(self, permit: Permit, status: int | None,
                       headers: RateHeaders | None) -> BudgetView: ...


@dataclass(frozen=True)
class Outgoing:
    """A message and its serialized form (measured against the size limit, sent as is)."""

    message: Message
    value: bytes


class BatchPublisher(Protocol):
    async def publish(self, batches: Sequence[Outgoing]) -> None:
        """Returns once the broker acknowledged every message."""


class RunStore(Protocol):
    """Runs and checkpoints; every write is fenced by the lease ``owner`` (LeaseLost)."""

    async def load(self, run_id: uuid.UUID) -> Run | None: ...

    async def start(self, run: Run, owner: str, events: Sequence[Message]) -> None: ...

    async def save_page(self, run: Run, checkpoint: EntityCheckpoint, owner: str,
                        events: Sequence[Message],
                        also: Sequence[EntityCheckpoint] = (),
                        hashes: PageHashes | None = None,
                        trial: TrialPage | None = None) -> None:
        """Commit ``checkpoint`` (and the ``also`` ones, e.g. deletion counts) with events,
        the page's refresh ``hashes`` (entities without a sync endpoint) and what the page
        leaves in the trial balance."""

    async def differing(self, datasource_id: uuid.UUID, page: PageHashes) -> set[str]:
        """Row ids of ``page`` that are new or whose hash differs from the stored one."""

    def vanished(self, run: Run, page: PageHashes, chunk: int
                 ) -> AsyncGenerator[list[str], None]:
        """Ids of stored rows of ``page.entity`` that ``run`` did not see and that are not on
        ``page``, in a stable order, at most ``chunk`` at a time."""

    async def finish(self, run: Run, owner: str, status: RunStatus, events: Sequence[Message],
                     not_before: datetime | None = None) -> None:
        """Leave RUNNING: completed, failed, paused (grant gone) or waiting (until not_before)."""

    async def current_grant(self, run_id: uuid.UUID) -> uuid.UUID | None: ...


class TrialStore(Protocol):
    """The trial-balance state of each data source (written with pages by ``RunStore``)."""

    async def stale_periods(self, datasource_id: uuid.UUID) -> set[Period]:
        """Periods whose ledger totals changed since ReportingBalance was read for them."""

    async def forget_stale(self, datasource_id: uuid.UUID, periods: set[Period]) -> None:
        """These periods are current (the run read ReportingBalance for them itself)."""

    async def balance_rows(self, datasource_id: uuid.UUID, scopes: list[PeriodScope]) -> int:
        """ReportingBalance rows held for these periods (what re-reading them costs)."""

    async def last_reread(self, datasource_id: uuid.UUID) -> datetime | None: ...

    async def record_reread(self, datasource_id: uuid.UUID, at: datetime, calls: int
                            ) -> None: ...

    async def differing(self, datasource_id: uuid.UUID, page: PageHashes) -> set[str]:
        """Row ids of ``page`` that are new or differ from what consumers last got."""

    async def unseen_balances(self, run: Run, scope: PeriodScope) -> list[str]:
        """Ids of ReportingBalance rows held for ``scope`` that ``run`` has not read again."""

    async def save_balances(self, run: Run, page: TrialPage, hashes: PageHashes | None = None,
                            gone: list[str] | None = None) -> None:
        """ReportingBalance rows the check read again (and the sweep of their periods, which
        are then no longer stale), with the refresh hashes of what consumers were sent of
        them (``gone``: ids sent as deleted, whose hashes are dropped)."""

    async def totals(self, datasource_id: uuid.UUID, rules: TrialRules
                     ) -> tuple[dict[TrialKey, Decimal], dict[TrialKey, Decimal]]:
        """(ledger, Exact) sums per (year, period, G/L account code) over the rules' statuses."""


class RunRequests(Protocol):
    """Recording what other services ask, one transaction per message (deduplicated)."""

    async def record_request(self, consumer: str, message: InitialRunRequested) -> str: ...

    async def apply_recreate(self, consumer: str, message: RecreateAccepted) -> int: ...


class Releases(Protocol):
    """Data sources ingest no longer syncs (their company was disowned)."""

    async def release(self, message: DataSourceDisowned) -> bool: ...


class PendingChanges(Protocol):
    """Exact's change notifications waiting to be coalesced into a targeted run."""

    async def record(self, message: ExactChangeNotified) -> bool: ...
