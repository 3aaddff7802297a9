"""The SQL unit of work: one connection, one transaction, inbox and outbox included."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connector_runtime.inbox import first_delivery
from connector_runtime.outbox import add_to_outbox
from contracts import Message
from datasource.adapters.repository import SqlCompanyDomains, SqlDataSources, SqlRuns
from datasource.adapters.tables import inbox, outbox


class SqlUnitOfWork:
    """Enter to begin a transaction; :meth:`commit` ends it, leaving without one rolls back.

    ``after_commit`` runs after each commit (the service wakes its outbox relay with it).
    The same instance may be entered again after it was left.
    """

    domains: SqlCompanyDomains
    datasources: SqlDataSources
    runs: SqlRuns

    def __init__(self, engine: AsyncEngine, after_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._after_commit = after_commit
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        conn = await self._engine.connect()
        await conn.begin()
        self._conn = conn
        self.domains = SqlCompanyDomains(conn)
        self.datasources = SqlDataSources(conn)
        self.runs = SqlRuns(conn)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()

    @property
    def _connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not entered")
        return self._conn

    async def first_delivery(self, consumer: str, message_id: UUID) -> bool:
        return bool(await first_delivery(self._connection, inbox, consumer, message_id))

    async def publish(self, topic: str, *messages: Message) -> None:
        await add_to_outbox(self._connection, outbox, topic, *messages)

    async def commit(self) -> None:
        await self._connection.commit()
        if self._after_commit is not None:
            self._after_commit()
