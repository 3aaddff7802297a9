"""Idempotent consumption: remember which messages a consumer has handled.

Call :func:`first_delivery` inside the transaction that applies a message's
effects. It records ``(consumer, message_id)`` and returns False when the row
already existed, i.e. the message is a redelivery and must be a no-op. The mark
commits or rolls back together with the effects. Every service's consumers dedupe
through it (directly or through the unit of work), so a redelivery is logged
(``duplicate_message_skipped``) and counted (``connector_messages_redelivered_total``)
the same way everywhere; the caller only returns.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from connector_runtime.observability.metrics import MESSAGES_REDELIVERED

log = structlog.get_logger("inbox")


async def first_delivery(
    session: AsyncSession | AsyncConnection, inbox: sa.Table, consumer: str, message_id: uuid.UUID
) -> bool:
    inserted = await session.execute(
        insert(inbox)
        .values(consumer=consumer, message_id=message_id)
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )
    if inserted.first() is not None:
        return True
    MESSAGES_REDELIVERED.labels(consumer).inc()
    log.info("duplicate_message_skipped", consumer=consumer, message_id=str(message_id))
    return False
