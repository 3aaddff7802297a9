"""The unit of work: one PostgreSQL transaction with repositories, inbox and outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from auth.adapters import tables
from auth.adapters.crypto import TokenCipher
from auth.adapters.repository import SqlGrantRepository, SqlSessionRepository
from connector_runtime.inbox import first_delivery
from connector_runtime.outbox import add_to_outbox
from contracts import Message


class SqlUnitOfWork:
    sessions: SqlSessionRepository
    grants: SqlGrantRepository

    def __init__(self, engine: AsyncEngine, cipher: TokenCipher,
                 on_commit: Callable[[], None] = lambda: None) -> None:
        self._engine = engine
        self._cipher = cipher
        self._on_commit = on_commit
        self._conn: AsyncConnection | None = None
        self._published = False

    async def __aenter__(self) -> SqlUnitOfWork:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        self.sessions = SqlSessionRepository(self._conn, self._cipher)
        self.grants = SqlGrantRepository(self._conn, self._cipher)
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
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work is not open")
        return self._conn

    async def first_delivery(self, consumer: str, message_id: uuid.UUID) -> bool:
        return await first_delivery(self.conn, tables.inbox, consumer, message_id)

    async def publish(self, topic: str, *messages: Message) -> None:
        await add_to_outbox(self.conn, tables.outbox, topic, *messages)
        self._published = self._published or bool(messages)

    async def commit(self) -> None:
        await self.conn.commit()
        if self._published:
            self._published = False
            self._on_commit()


def unit_of_work_factory(engine: AsyncEngine, cipher: TokenCipher,
                         on_commit: Callable[[], None] = lambda: None
                         ) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine, cipher, on_commit)
