"""The SQL unit of work: one connection, one transaction, inbox and outbox included."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connector_runtime.messaging.claims import ClaimSigner
from connector_runtime.persistence.uow import SqlUnitOfWorkBase
from datasource.adapters.repository import SqlCompanyDomains, SqlDataSources, SqlRuns
from datasource.adapters.tables import inbox, outbox


class SqlUnitOfWork(SqlUnitOfWorkBase):
    """One connection, one transaction; ``after_commit`` wakes the outbox relay."""

    domains: SqlCompanyDomains
    datasources: SqlDataSources
    runs: SqlRuns

    def __init__(self, engine: AsyncEngine, claims: ClaimSigner,
                 after_commit: Callable[[], None] | None = None) -> None:
        super().__init__(engine, inbox=inbox, outbox=outbox, after_commit=after_commit)
        self.claims = claims

    def _open(self, conn: AsyncConnection) -> None:
        self.domains = SqlCompanyDomains(conn)
        self.datasources = SqlDataSources(conn)
        self.runs = SqlRuns(conn)
