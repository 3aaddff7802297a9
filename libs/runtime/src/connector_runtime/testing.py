"""Pytest fixtures for tests that need the real broker and database.

Registered from the root ``conftest.py``. One broker and one database per test
run: from ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` when set, otherwise the
embedded ones, started once. Tests use fresh ids (and fresh schemas or topics
where needed), so they never clean up after each other.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from connector_runtime.embedded import EmbeddedKafka, EmbeddedPostgres


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap_servers: str
    database_url: str


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    kafka: EmbeddedKafka | None = None
    pg: EmbeddedPostgres | None = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database_url = os.environ.get("DATABASE_URL")
    try:
        if not bootstrap:
            kafka = EmbeddedKafka().start()
            bootstrap = kafka.bootstrap_servers
        if not database_url:
            pg = EmbeddedPostgres().start()
            database_url = pg.url
        yield Infra(bootstrap, database_url)
    finally:
        if pg is not None:
            pg.stop()
        if kafka is not None:
            kafka.stop()


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
