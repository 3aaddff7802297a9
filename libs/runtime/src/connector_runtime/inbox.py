"""Idempotent consumption: remember which messages a consumer has handled.

Call :func:`first_delivery` inside the transaction that applies a message's
effects. It records ``(consumer, message_id)`` and returns False when the row
already existed, i.e. the message is a redelivery and must be a no-op. The mark
commits or rolls back together with the effects.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


async def first_delivery(
    session: AsyncSession | AsyncConnection, inbox: sa.Table, consumer: str, message_id: uuid.UUID
) -> bool:
    inserted = await session.execute(
        insert(inbox)
        .values(consumer=consumer, message_id=message_id)
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )
    return inserted.first() is not None
