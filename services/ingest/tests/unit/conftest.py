"""In-memory fakes of the ingest ports (clock, limiter, tokens, store, publisher, Exact)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import contracts as c
from ingest.domain.budget import BudgetView, RateHeaders
from ingest.domain.errors import LeaseLost
from ingest.domain.model import EntityCheckpoint, PageStats, Run, RunStatus
from ingest.domain.refresh import PageHashes
from ingest.domain.trial_balance import TrialPage
from ingest.entities import CATALOG
from ingest.ports import EntityRequest, Outgoing, Page, Permit

VIEW = BudgetView(minutely_limit=60, minutely_remaining=50, daily_limit=5000,
                  daily_remaining=4000, seconds_per_call=1.0, seconds_to_daily_reset=3600.0)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.start = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t - 1000.0)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


class FakeLimiter:
    def __init__(self) -> None:
        self.acquired: list[tuple[int, str]] = []
        self.completed: list[tuple[int | None, RateHeaders | None]] = []

    async def acquire(self, division: int, endpoint: str, reserve: float = 0.0) -> Permit:
        self.acquired.append((division, endpoint))
        return Permit(division, endpoint, len(self.acquired))

    async def complete(self, permit: Permit, status: int | None,
                       headers: RateHeaders | None) -> BudgetView:
        self.completed.append((status, headers))
        return VIEW


class FakeTokens:
    def __init__(self) -> None:
        self.issued = 0
        self.rejections: list[str] = []
        self.near = False
        """What :meth:`near_expiry` answers."""

    async def access_token(self, grant_id: uuid.UUID) -> str:
        return f"token-{self.issued}"

    async def rejected(self, grant_id: uuid.UUID, access_token: str) -> None:
        self.rejections.append(access_token)
        self.issued += 1

    def near_expiry(self, grant_id: uuid.UUID, access_token: str) -> bool:
        return self.near


@dataclass
class FakeStore:
    """Runs by id; writes only while ``owner`` holds the run (as the SQL store fences)."""

    runs: dict[uuid.UUID, Run] = field(default_factory=dict)
    owners: dict[uuid.UUID, str] = field(default_factory=dict)
    events: list[c.Message] = field(default_factory=list)
    not_before: dict[uuid.UUID, datetime | None] = field(default_factory=dict)
    saves: int = 0
    hashes: dict[tuple[uuid.UUID, str], dict[str, tuple[bytes, uuid.UUID]]] = field(
        default_factory=dict)
    """Refresh hashes: (datasource, entity) -> row id -> (hash, run that last saw the row)."""
    trial_pages: list[TrialPage] = field(default_factory=list)

    def add(self, run: Run, owner: str) -> None:
        self.runs[run.run_id] = copy.deepcopy(run)
        self.owners[run.run_id] = owner

    async def load(self, run_id: uuid.UUID) -> Run | None:
        found = self.runs.get(run_id)
        return copy.deepcopy(found) if found else None

    def _fence(self, run: Run, owner: str) -> Run:
        if self.owners.get(run.run_id) != owner:
            raise LeaseLost("not the owner")
        return self.runs[run.run_id]

    async def start(self, run: Run, owner: str, events: Sequence[c.Message]) -> None:
        stored = self._fence(run, owner)
        stored.status = run.status = RunStatus.RUNNING
        stored.started_at = run.started_at = stored.started_at or datetime(2025, 3, 3, 10, tzinfo=UTC)
        self.events.extend(events)

    async def save_page(self, run: Run, checkpoint: EntityCheckpoint, owner: str,
                        events: Sequence[c.Message], also: Sequence[EntityCheckpoint] = (),
                        hashes: PageHashes | None = None,
                        trial: TrialPage | None = None) -> None:
        stored = self._fence(run, owner)
        if trial is not None:
            self.trial_pages.append(trial)
        for cp in (checkpoint, *also):
            stored.checkpoints[cp.entity] = copy.deepcopy(cp)
        stored.calls_used, stored.batches = run.calls_used, run.batches
        if hashes is not None:
            table = self.hashes.setdefault((run.datasource_id, hashes.entity), {})
            table.update({k: (h, run.run_id) for k, h in hashes.hashes.items()})
            if hashes.sweep:
                for key in [k for k, (_h, seen) in table.items() if seen != run.run_id]:
                    del table[key]
        self.events.extend(events)
        self.saves += 1

    async def differing(self, datasource_id: uuid.UUID, page: PageHashes) -> set[str]:
        table = self.hashes.get((datasource_id, page.entity), {})
        return {k for k, h in page.hashes.items() if k not in table or table[k][0] != h}

    async def vanished(self, run: Run, page: PageHashes, chunk: int
                       ) -> AsyncGenerator[list[str], None]:
        table = self.hashes.get((run.datasource_id, page.entity), {})
        ids = sorted(k for k, (_h, seen) in table.items()
                     if seen != run.run_id and k not in page.hashes)
        for start in range(0, len(ids), chunk):
            yield ids[start:start + chunk]

    async def finish(self, run: Run, owner: str, status: RunStatus, events: Sequence[c.Message],
                     not_before: datetime | None = None) -> None:
        stored = self._fence(run, owner)
        stored.status = status
        stored.error_code, stored.error_reason = run.error_code, run.error_reason
        stored.calls_used, stored.batches = run.calls_used, run.batches
        stored.waiting_reason = run.waiting_reason
        self.not_before[run.run_id] = not_before
        del self.owners[run.run_id]
        self.events.extend(events)

    async def current_grant(self, run_id: uuid.UUID) -> uuid.UUID | None:
        return self.runs[run_id].grant_id

    def of(self, cls: type[c.Message]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[c.LedgerBatch] = []
        self.deletes: list[c.LedgerDeletes] = []
        self.fail_on_call: int | None = None
        self.calls = 0

    async def publish(self, batches: Sequence[Outgoing]) -> None:
        self.calls += 1
        if self.fail_on_call == self.calls:
            raise ConnectionError("broker gone")
        for b in batches:
            assert b.value == b.message.to_bytes()  # sent exactly as measured
        self.sent.extend(b.message for b in batches if isinstance(b.message, c.LedgerBatch))
        self.deletes.extend(b.message for b in batches if isinstance(b.message, c.LedgerDeletes))


def gl_row(n: int, division: int = 100001) -> c.Row:
    return c.ROW_MODELS[c.Entity.GL_ACCOUNTS].model_validate({
        "ID": uuid.UUID(int=n + 1), "Code": f"{n:04d}", "Division": division,
        "Timestamp": 1000 + n})


def budget_row(n: int, amount: str, division: int = 100001) -> c.Row:
    return c.ROW_MODELS[c.Entity.BUDGETS].model_validate({
        "ID": uuid.UUID(int=10_000 + n), "ReportingYear": 2024, "ReportingPeriod": 1,
        "AmountDC": Decimal(amount), "Division": division})


def page_of(rows: list[c.Row], next_cursor: str | None, amount: bool = False) -> Page:
    ids = [r.id for r in rows]
    stamps = [getattr(r, "timestamp", None) for r in rows]
    amounts = [r.amount_dc for r in rows] if amount else []
    return Page(rows=rows, stats=PageStats(
        rows=len(rows),
        amount_sum=sum(amounts, Decimal(0)) if amount else None,
        debit_sum=sum((a for a in amounts if a > 0), Decimal(0)) if amount else None,
        id_hash_sum=int(c.id_hash(ids), 16),
        max_timestamp=max((s for s in stamps if s is not None), default=None),
        count_sum=None, next_cursor=next_cursor), calls=1, budget=VIEW)


class FakeExact:
    """Scripted pages per entity; ``cursor`` is the index of the page to start from."""

    def __init__(self, pages: dict[c.Entity, list[Page]]) -> None:
        self.script = pages
        self.requests: list[tuple[EntityRequest, str | None]] = []
        self.raise_at: dict[tuple[c.Entity, int], Exception] = {}

    def page_size(self, entity: c.Entity) -> int:
        return 1000

    def endpoint_path(self, entity: c.Entity, date_from: date | None, date_to: date | None
                      ) -> str:
        return f"fake/{entity}"

    async def pages(self, request: EntityRequest, cursor: str | None) -> AsyncGenerator[Page, None]:
        self.requests.append((request, cursor))
        start = int(cursor.split("=")[1]) if cursor else 0
        pages = self.script.get(request.entity, [page_of([], None)])
        for i in range(start, len(pages)):
            error = self.raise_at.pop((request.entity, i), None)
            if error is not None:
                raise error
            yield pages[i]


def new_run(entities: tuple[c.Entity, ...], **kw: Any) -> Run:
    kw.setdefault("kind", "initial")
    return Run(run_id=uuid.uuid4(), datasource_id=uuid.uuid4(), correlation_id=uuid.uuid4(),
               division=100001, grant_id=uuid.uuid4(), entities=CATALOG.ordered(entities), **kw)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_run() -> Callable[..., Run]:
    return new_run


@dataclass(frozen=True)
class Kit:
    """The fakes and row builders, for test modules (helpers travel as fixtures here)."""

    FakeStore: type[FakeStore] = FakeStore
    FakePublisher: type[FakePublisher] = FakePublisher
    FakeExact: type[FakeExact] = FakeExact
    FakeLimiter: type[FakeLimiter] = FakeLimiter
    FakeTokens: type[FakeTokens] = FakeTokens
    gl_row: Callable[..., c.Row] = gl_row
    budget_row: Callable[..., c.Row] = budget_row
    page_of: Callable[..., Page] = page_of
    new_run: Callable[..., Run] = new_run


@pytest.fixture
def kit() -> Kit:
    return Kit()
