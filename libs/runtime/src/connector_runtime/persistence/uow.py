"""The SQL unit of work every service builds on: one connection, one transaction, with the
service's inbox and outbox in it.

Enter to begin a transaction; :meth:`commit` ends it; leaving without a commit rolls back.
A subclass opens its repositories on the connection in :meth:`_open`. ``after_commit`` runs
after a commit that queued messages (the service wakes its outbox relay with it). The same
instance may be entered again after it was left.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connector_runtime.persistence.inbox import first_delivery
from connector_runtime.persistence.outbox import add_to_outbox
from contracts import Message


class SqlUnitOfWorkBase:
    def __init__(self, engine: AsyncEngine, *, inbox: sa.Table, outbox: sa.Table,
                 after_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._inbox = inbox
        self._outbox = outbox
        self._after_commit = after_commit
        self._conn: AsyncConnection | None = None
        self._published = False

    def _open(self, conn: AsyncConnection) -> None:
        """Create the service's repositories on ``conn``."""

    async def __aenter__(self) -> Self:
        conn = await self._engine.connect()
        await conn.begin()
        self._conn = conn
        self._published = False
        self._open(conn)
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
            raise RuntimeError("the unit of work is not entered")
        return self._conn

    async def first_delivery(self, consumer: str, message_id: uuid.UUID) -> bool:
        """False when ``consumer`` handled ``message_id`` before: the delivery is a no-op."""
        return await first_delivery(self.conn, self._inbox, consumer, message_id)

    async def publish(self, topic: str, *messages: Message) -> None:
        """Queue messages in the outbox; they are sent only if this transaction commits."""
        await add_to_outbox(self.conn, self._outbox, topic, *messages)
        self._published = self._published or bool(messages)

    async def commit(self) -> None:
        await self.conn.commit()
        if self._published and self._after_commit is not None:
            self._published = False
            self._after_commit()
