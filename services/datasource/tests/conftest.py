"""In-memory fakes of the datasource ports (a unit of work with a ``committed`` flag), for every test.

The fake keeps database semantics that matter to the use cases: a transaction
works on a copy of the committed state, loaded objects are copies (a change not
saved with ``update`` is lost), and leaving without ``commit`` rolls back.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import pytest

import contracts as c
from connector_runtime.devstack.testing import TEST_CLAIM_SIGNING_KEY
from connector_runtime.messaging.claims import ClaimSigner
from datasource.domain import CompanyDomain, DataSource, Run


@dataclass
class State:
    domains: dict[uuid.UUID, CompanyDomain] = field(default_factory=dict)
    datasources: dict[uuid.UUID, DataSource] = field(default_factory=dict)
    runs: dict[uuid.UUID, Run] = field(default_factory=dict)
    inbox: set[tuple[str, uuid.UUID]] = field(default_factory=set)
    outbox: list[tuple[str, c.Message]] = field(default_factory=list)


def _stored(obj: Any) -> Any:
    stored = copy.deepcopy(obj)
    if isinstance(stored, DataSource):
        stored.events.clear()
    return stored


class FakeDomains:
    def __init__(self, state: State) -> None:
        self.state = state
        self.locked: list[uuid.UUID] = []

    async def get(self, domain_id: uuid.UUID, *, lock: bool = False) -> CompanyDomain | None:
        if lock:
            self.locked.append(domain_id)
        return self.state.domains.get(domain_id)

    async def add(self, domain: CompanyDomain) -> None:
        assert domain.id not in self.state.domains
        self.state.domains[domain.id] = domain


class FakeDataSources:
    def __init__(self, state: State) -> None:
        self.state = state

    async def get(self, datasource_id: uuid.UUID) -> DataSource | None:
        return _stored(self.state.datasources.get(datasource_id))

    async def get_by_grant(self, grant_id: uuid.UUID) -> DataSource | None:
        for ds in self.state.datasources.values():
            if ds.binding and ds.binding.grant_id == grant_id:
                return _stored(ds)
        return None

    async def bound_to(self, company_domain_id: uuid.UUID, division: int, *,
                       other_than: uuid.UUID) -> uuid.UUID | None:
        for ds in self.state.datasources.values():
            if (ds.company_domain_id == company_domain_id and ds.binding
                    and ds.binding.division == division and ds.id != other_than):
                return ds.id
        return None

    async def add(self, datasource: DataSource) -> None:
        assert datasource.id not in self.state.datasources
        self.state.datasources[datasource.id] = _stored(datasource)

    async def update(self, datasource: DataSource) -> None:
        assert datasource.id in self.state.datasources
        self.state.datasources[datasource.id] = _stored(datasource)


class FakeRuns:
    def __init__(self, state: State) -> None:
        self.state = state

    async def get(self, run_id: uuid.UUID) -> Run | None:
        return _stored(self.state.runs.get(run_id))

    async def ids_of(self, datasource_id: uuid.UUID) -> list[uuid.UUID]:
        found = [r for r in self.state.runs.values() if r.datasource_id == datasource_id]
        return [r.run_id for r in sorted(found, key=lambda r: r.requested_at)]

    async def add(self, run: Run) -> None:
        assert run.run_id not in self.state.runs
        self.state.runs[run.run_id] = _stored(run)

    async def update(self, run: Run) -> None:
        assert run.run_id in self.state.runs
        self.state.runs[run.run_id] = _stored(run)


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.claims = ClaimSigner(TEST_CLAIM_SIGNING_KEY)
        self.state = State()
        self.committed = False
        self.commits = 0
        self._work: State | None = None

    async def __aenter__(self) -> Self:
        self.committed = False
        self._work = copy.deepcopy(self.state)
        self.domains = FakeDomains(self._work)
        self.datasources = FakeDataSources(self._work)
        self.runs = FakeRuns(self._work)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._work = None

    async def first_delivery(self, consumer: str, message_id: uuid.UUID) -> bool:
        assert self._work is not None
        key = (consumer, message_id)
        if key in self._work.inbox:
            return False
        self._work.inbox.add(key)
        return True

    async def publish(self, topic: str, *messages: c.Message) -> None:
        assert self._work is not None
        self._work.outbox.extend((topic, m) for m in messages)

    async def commit(self) -> None:
        assert self._work is not None
        self.state = self._work
        self._work = copy.deepcopy(self.state)
        self.committed = True
        self.commits += 1

    # -- helpers for assertions -------------------------------------------------------------

    def published(self, cls: type[c.Message] | None = None) -> list[c.Message]:
        return [m for _, m in self.state.outbox if cls is None or isinstance(m, cls)]

    def topics(self) -> list[tuple[str, str]]:
        return [(t, m.type) for t, m in self.state.outbox]

    def datasource(self, datasource_id: uuid.UUID) -> DataSource:
        return self.state.datasources[datasource_id]


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()
