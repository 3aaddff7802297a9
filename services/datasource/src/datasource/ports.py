"""What the use cases need from the outside world; adapters implement these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from contracts import Message
from datasource import views
from datasource.domain import CompanyDomain, DataSource, Run

Clock = Callable[[], datetime]
NewId = Callable[[], UUID]


class CompanyDomainRepository(Protocol):
    async def get(self, domain_id: UUID, *, lock: bool = False) -> CompanyDomain | None:
        """The domain; ``lock`` serializes division binding within it until commit."""

    async def add(self, domain: CompanyDomain) -> None: ...


class DataSourceRepository(Protocol):
    async def get(self, datasource_id: UUID) -> DataSource | None:
        """The data source, locked for update until the transaction ends."""

    async def get_by_grant(self, grant_id: UUID) -> DataSource | None:
        """The data source whose current grant this is, locked for update."""

    async def bound_to(self, company_domain_id: UUID, division: int, *, other_than: UUID) -> UUID | None:
        """Another data source of the company domain bound to ``division``, if any."""

    async def add(self, datasource: DataSource) -> None: ...

    async def update(self, datasource: DataSource) -> None: ...


class RunRepository(Protocol):
    async def get(self, run_id: UUID) -> Run | None:
        """The run, locked for update until the transaction ends."""

    async def add(self, run: Run) -> None: ...

    async def ids_of(self, datasource_id: UUID) -> list[UUID]:
        """Every run of the data source, oldest first."""
        ...

    async def update(self, run: Run) -> None: ...


class GrantClaims(Protocol):
    def sign(self, datasource_id: UUID, grant_id: UUID, division: int) -> str:
        """Vouch that the grant reads this division for this data source (ingest verifies)."""
        ...


class UnitOfWork(Protocol):
    """One transaction: state, outbox messages and the inbox mark commit together.

    ``claims`` signs the grant claims of the run requests and recreate decisions it publishes.
    """

    @property
    def claims(self) -> GrantClaims: ...

    @property
    def domains(self) -> CompanyDomainRepository: ...

    @property
    def datasources(self) -> DataSourceRepository: ...

    @property
    def runs(self) -> RunRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Rolls back unless committed."""

    async def first_delivery(self, consumer: str, message_id: UUID) -> bool:
        """Mark the message handled; False when it already was (a redelivery: do nothing)."""

    async def publish(self, topic: str, *messages: Message) -> None:
        """Queue messages in the outbox; they are sent only if the transaction commits."""

    async def commit(self) -> None: ...


class Reads(Protocol):
    """The read side behind the HTTP API."""

    async def company_domains(self) -> list[views.CompanyDomainView]: ...

    async def datasources(self, *, company_domain_id: UUID | None = None,
                          state: str | None = None) -> list[views.DataSourceSummaryView]: ...

    async def datasource(self, datasource_id: UUID, *,
                         run_limit: int = 20) -> views.DataSourceView | None: ...

    async def run(self, run_id: UUID) -> views.RunView | None: ...
