"""The unit of work: one PostgreSQL transaction with repositories, inbox and outbox."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from auth.adapters import tables
from auth.adapters.crypto import TokenCipher
from auth.adapters.repository import SqlGrantRepository, SqlSessionRepository
from connector_runtime.persistence.uow import SqlUnitOfWorkBase


class SqlUnitOfWork(SqlUnitOfWorkBase):
    sessions: SqlSessionRepository
    grants: SqlGrantRepository

    def __init__(self, engine: AsyncEngine, cipher: TokenCipher,
                 on_commit: Callable[[], None] = lambda: None) -> None:
        super().__init__(engine, inbox=tables.inbox, outbox=tables.outbox, after_commit=on_commit)
        self._cipher = cipher

    def _open(self, conn: AsyncConnection) -> None:
        self.sessions = SqlSessionRepository(conn, self._cipher)
        self.grants = SqlGrantRepository(conn, self._cipher)


def unit_of_work_factory(engine: AsyncEngine, cipher: TokenCipher,
                         on_commit: Callable[[], None] = lambda: None
                         ) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine, cipher, on_commit)
