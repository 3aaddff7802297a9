"""Pytest fixtures for tests that need the real broker and database.

Registered from the root ``conftest.py``. One broker and one database per test run, chosen
by one switch, ``CONNECTOR_TEST_INFRA``:

* ``embedded`` (default): the embedded Kafka-protocol broker and PostgreSQL, no Docker;
* ``containers``: Apache Kafka (KRaft) and PostgreSQL images via testcontainers, started
  once per session (``make test-containers``); skipped with the reason when no Docker
  engine is reachable;

and, in either case, a part given by address wins: ``KAFKA_BOOTSTRAP_SERVERS`` /
``DATABASE_URL``. Every test gets the same :class:`Infra` whichever path started it; only
tests of Kafka features the embedded broker lacks (idempotent producer, transactions) look
at :attr:`Infra.kafka` and run on real Kafka only. Tests use fresh ids (and fresh schemas or
topics where needed), so they never clean up after each other.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from connector_runtime.devstack.embedded import EmbeddedKafka, EmbeddedPostgres

KafkaKind = Literal["embedded", "containers", "given"]
INFRA_SETTING = "CONNECTOR_TEST_INFRA"


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap_servers: str
    database_url: str
    kafka: KafkaKind = "embedded"
    """Which broker: the embedded one, an Apache Kafka container, or one given by address."""

    @property
    def real_kafka(self) -> bool:
        """Apache Kafka (idempotent producer, transactions), not the embedded broker."""
        return self.kafka != "embedded"

    def fresh_database(self, prefix: str = "db") -> str:
        """A new empty database on the same server (its URL), for a whole system's services."""
        import psycopg

        name = unique(prefix)
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url.rsplit("/", 1)[0] + f"/{name}"


def infra_choice() -> str:
    choice = os.environ.get(INFRA_SETTING, "embedded").strip().lower() or "embedded"
    if choice not in ("embedded", "containers"):
        raise pytest.UsageError(f"{INFRA_SETTING} is embedded or containers, not {choice!r}")
    return choice


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    choice = infra_choice()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database_url = os.environ.get("DATABASE_URL")
    started: list[Any] = []
    if choice == "containers" and not (bootstrap and database_url):
        from connector_runtime.devstack.containers import docker_unavailable

        if (why := docker_unavailable()) is not None:
            pytest.skip(f"{INFRA_SETTING}=containers: {why}")
    try:
        if not bootstrap:
            kafka = _kafka(choice).start()
            started.append(kafka)
            bootstrap = kafka.bootstrap_servers
        if not database_url:
            pg = _postgres(choice).start()
            started.append(pg)
            database_url = pg.url
        kind: KafkaKind = "given" if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else (
            "containers" if choice == "containers" else "embedded")
        yield Infra(bootstrap, database_url, kind)
    finally:
        for part in reversed(started):
            part.stop()


def _kafka(choice: str) -> Any:
    if choice == "containers":
        from connector_runtime.devstack.containers import ContainerKafka

        return ContainerKafka()
    return EmbeddedKafka()


def _postgres(choice: str) -> Any:
    if choice == "containers":
        from connector_runtime.devstack.containers import ContainerPostgres

        return ContainerPostgres()
    return EmbeddedPostgres()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def read_records(
    bootstrap: str,
    topic: str,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    *,
    timeout: float = 20.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``topic`` from the beginning until ``until(records)`` holds or time runs out."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not until(records):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            batch = await consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000))
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def eventually(check: Callable[[], Any], *, timeout: float = 20.0,
                     interval: float = 0.05) -> Any:
    """Poll ``check`` (sync or async) until it returns a truthy value, or fail."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


@pytest.fixture
async def fresh_topic(infra: Infra) -> AsyncIterator[Callable[[str], str]]:
    yield lambda prefix: unique(prefix)


TEST_CLAIM_SIGNING_KEY = "test:qX0Nem5D_FDCi_VooXv_9ZOPWcSOExs6wNuV45oOdmg"
"""A throwaway Ed25519 key pair for tests: datasource signs with it, ingest verifies."""
TEST_CLAIM_VERIFY_KEYS = "test:gr2wHBrz4K4oAgXviYaEKVHDGpPQdeTfDxLtJ0Rsowk"


def api_caller(name: str, scopes: tuple[str, ...] = ("*",),
               company_domains: tuple[uuid.UUID, ...] | None = None) -> tuple[str, Any]:
    """A fresh bearer token and the ``ApiClient`` entry that lets it in."""
    from connector_runtime.access import ApiClient, token_sha256

    token = f"test-{name}-{uuid.uuid4().hex}"
    return token, ApiClient(name=name, token_sha256=token_sha256(token), scopes=scopes,
                            company_domains=company_domains)


def signed_claim(datasource_id: uuid.UUID, grant_id: uuid.UUID, division: int) -> str:
    """A grant claim signed with the test key, as datasource would sign it."""
    from connector_runtime.messaging.claims import ClaimSigner

    return ClaimSigner(TEST_CLAIM_SIGNING_KEY).sign(datasource_id, grant_id, division)
