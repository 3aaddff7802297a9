"""The datasource service running in-process against the real broker and database.

Tests publish what the portal, auth and ingest would publish (built with the
contracts) and look at what the service emits (read back from Kafka) and at its
read API. Every test uses fresh data-source ids, so tests never interfere.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

import contracts as c
from connector_runtime.devstack.testing import (
    TEST_CLAIM_SIGNING_KEY,
    Infra,
    api_caller,
    eventually,
    read_records,
)
from connector_runtime.messaging.producer import kafka_producer
from datasource.app import create_app
from datasource.settings import DatasourceSettings


class Service:
    """One running datasource app, a producer standing in for the other services, and helpers.

    ``create_command``, ``recreate_command`` and ``exact_authorized`` build what the
    portal and auth would publish.
    """

    def __init__(self, infra: Infra, client: httpx.AsyncClient, producer: AIOKafkaProducer) -> None:
        self.infra = infra
        self.client = client
        self.producer = producer

    # -- messages the portal, auth and ingest would publish ----------------------------------

    @staticmethod
    def create_command(*, domain_id: uuid.UUID | None = None, new_domain_name: str | None = None,
                       new_domain_id: uuid.UUID | None = None, mode: str = "self",
                       datasource_id: uuid.UUID | None = None) -> c.CreateDataSource:
        payload: dict[str, Any] = {"authorization_mode": mode, "requested_by": "anna@portal"}
        if domain_id is not None:
            payload["company_domain_id"] = domain_id
        else:
            payload["new_company_domain_name"] = new_domain_name or f"Acme {uuid.uuid4().hex[:6]}"
            payload["new_company_domain_id"] = new_domain_id
        return c.CreateDataSource.create(datasource_id=datasource_id or uuid.uuid4(),
                                         payload=c.CreateDataSourcePayload(**payload))

    @staticmethod
    def recreate_command(datasource_id: uuid.UUID, mode: str = "share") -> c.RecreateDataSource:
        return c.RecreateDataSource.create(datasource_id=datasource_id, payload=c.RecreateDataSourcePayload(
            authorization_mode=mode, requested_by="bob@portal"))  # type: ignore[arg-type]

    @staticmethod
    def exact_authorized(request: c.AuthorizationRequested, *, division: int,
                         grant_id: uuid.UUID | None = None) -> c.ExactAuthorized:
        return request.caused(c.ExactAuthorized, c.ExactAuthorizedPayload(
            authorization_id=request.payload.authorization_id, purpose=request.payload.purpose,
            grant_id=grant_id or uuid.uuid4(), division=division, division_name=f"Company {division} BV",
            exact_user_id=uuid.uuid4(), exact_user_name="Jan Admin", authorized_at=datetime.now(UTC)))

    async def send(self, topic: str, *messages: c.Message) -> None:
        for message in messages:
            await self.producer.send_and_wait(topic, message.to_bytes(), key=message.key)

    async def send_raw(self, topic: str, value: bytes, key: bytes) -> None:
        await self.producer.send_and_wait(topic, value, key=key)

    async def emitted(self, topic: str, datasource_id: uuid.UUID,
                      until: Callable[[list[c.Message]], bool], timeout: float = 20.0) -> list[c.Message]:
        """Messages the service published on ``topic`` about one data source, once ``until`` holds."""
        key = str(datasource_id).encode()

        def mine(records: list[Any]) -> list[c.Message]:
            return [c.parse_message(topic, r.value) for r in records if r.key == key]

        records = await read_records(self.infra.kafka_bootstrap_servers, topic,
                                     lambda recs: until(mine(recs)), timeout=timeout)
        found = mine(records)
        assert until(found), f"not emitted on {topic} in time: {[m.type for m in found]}"
        return found

    async def one(self, topic: str, datasource_id: uuid.UUID, cls: type[c.Message]) -> Any:
        found = await self.emitted(topic, datasource_id, lambda ms: any(isinstance(m, cls) for m in ms))
        return next(m for m in found if isinstance(m, cls))

    async def each(self, topic: str, cls: type[c.Message], datasource_ids: list[uuid.UUID],
                   timeout: float = 30.0) -> dict[uuid.UUID, Any]:
        """The first ``cls`` message on ``topic`` for each data source, read in one pass."""
        keys = {str(i).encode(): i for i in datasource_ids}

        def firsts(records: list[Any]) -> dict[uuid.UUID, c.Message]:
            found: dict[uuid.UUID, c.Message] = {}
            for r in records:
                if r.key in keys and keys[r.key] not in found:
                    message = c.parse_message(topic, r.value)
                    if isinstance(message, cls):
                        found[keys[r.key]] = message
            return found

        records = await read_records(self.infra.kafka_bootstrap_servers, topic,
                                     lambda recs: len(firsts(recs)) == len(keys), timeout=timeout)
        found = firsts(records)
        assert len(found) == len(keys), f"{cls.__name__} missing for {set(keys.values()) - set(found)}"
        return found

    async def everything(self, topic: str) -> list[Any]:
        """Every record on ``topic`` up to its current end."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.infra.kafka_bootstrap_servers,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            records: list[Any] = []
            while any([await consumer.position(tp) < end[tp] for tp in partitions]):
                for batch in (await consumer.getmany(*partitions, timeout_ms=500)).values():
                    records.extend(batch)
            return records
        finally:
            await consumer.stop()

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def datasource(self, datasource_id: uuid.UUID) -> dict[str, Any]:
        return await self.get(f"/datasources/{datasource_id}")  # type: ignore[no-any-return]

    async def until_datasource(self, datasource_id: uuid.UUID, check: Callable[[dict[str, Any]], bool],
                               timeout: float = 20.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            response = await self.client.get(f"/datasources/{datasource_id}")
            if response.status_code != 200:
                return None
            body: dict[str, Any] = response.json()
            return body if check(body) else None

        return await eventually(probe, timeout=timeout)  # type: ignore[no-any-return]


@asynccontextmanager
async def running_service(infra: Infra, **settings: Any) -> AsyncIterator[Service]:
    token, operator = api_caller("operator", ("read",))
    settings = {"run_claim_signing_key": TEST_CLAIM_SIGNING_KEY, "api_clients": (operator,),
                **settings}
    config = DatasourceSettings(kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
                                database_url=infra.database_url, kafka_session_timeout_ms=2000,
                                kafka_partitions=3, **settings)
    app = create_app(config)
    producer = kafka_producer(infra.kafka_bootstrap_servers, linger_ms=0)
    await producer.start()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://datasource",
                                         headers={"Authorization": f"Bearer {token}"}) as client:
                yield Service(infra, client, producer)
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
async def service(infra: Infra) -> AsyncIterator[Service]:
    async with running_service(infra) as svc:
        yield svc


@pytest.fixture
def start_service(infra: Infra) -> Callable[..., Any]:
    """Start (and on leaving, stop) a service instance: ``async with start_service() as svc``."""
    return lambda **settings: running_service(infra, **settings)
