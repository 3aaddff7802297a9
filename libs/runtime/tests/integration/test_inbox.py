"""The inbox: a consumer handles a message id once; a redelivery is counted and a no-op."""

import uuid

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import create_async_engine

from connector_runtime.devstack.testing import Infra, unique
from connector_runtime.persistence.inbox import first_delivery
from connector_runtime.persistence.tables import inbox_table

pytestmark = pytest.mark.integration


async def test_a_message_is_a_first_delivery_once_per_consumer(infra: Infra) -> None:
    schema = unique("inbox")
    inbox = inbox_table(sa.MetaData(schema=schema))
    engine = create_async_engine(infra.database_url.replace("postgresql://",
                                                            "postgresql+psycopg://"))
    consumer = unique("consumer")
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.schema.CreateSchema(schema))
            await conn.run_sync(inbox.metadata.create_all)
        message_id = uuid.uuid4()
        async with engine.begin() as conn:
            assert await first_delivery(conn, inbox, consumer, message_id)
        async with engine.begin() as conn:  # rolled back: the mark goes with the effects
            assert not await first_delivery(conn, inbox, consumer, message_id)
            assert await first_delivery(conn, inbox, "another-consumer", message_id)
            await conn.rollback()
        async with engine.begin() as conn:
            assert await first_delivery(conn, inbox, "another-consumer", message_id)
        assert REGISTRY.get_sample_value("connector_messages_redelivered_total",
                                         {"consumer": consumer}) == 1
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.schema.DropSchema(schema, cascade=True))
        await engine.dispose()
