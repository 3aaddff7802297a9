"""Pooled connections are pinged on checkout only after resting: a dead one is replaced before
the caller sees it, and one that just worked costs no extra round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from connector_runtime.devstack.testing import Infra
from connector_runtime.persistence.db import create_engine

pytestmark = pytest.mark.integration

PID = sa.text("SELECT pg_backend_pid()")


@pytest.fixture
async def admin(infra: Infra) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(infra.database_url, pool_size=1)
    yield engine
    await engine.dispose()


def counted_pings(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    dialect = engine.sync_engine.dialect
    real = dialect.do_ping

    def ping(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(real(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", ping)
    return pings


async def pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(PID) or 0)


async def test_a_connection_used_moments_ago_is_not_pinged_again(
        infra: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(infra.database_url, pool_size=1, ping_after_idle=60.0)
    try:
        pings = counted_pings(engine, monkeypatch)
        first = await pid(engine)  # a new connection is pinged once
        for _ in range(5):
            assert await pid(engine) == first
        assert len(pings) == 1
    finally:
        await engine.dispose()


async def test_a_rested_connection_that_died_is_replaced_before_the_caller_sees_it(
        infra: Infra, admin: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(infra.database_url, pool_size=1, ping_after_idle=0.0)
    try:
        pings = counted_pings(engine, monkeypatch)
        first = await pid(engine)
        async with admin.connect() as conn:  # PostgreSQL restarted, a proxy cut it, ...
            assert await conn.scalar(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first})
        second = await pid(engine)  # no error: the ping found it dead
        assert second != first
        assert len(pings) >= 3
    finally:
        await engine.dispose()


async def test_a_connection_that_died_within_the_window_fails_once_and_is_replaced(
        infra: Infra, admin: AsyncEngine) -> None:
    # the price of not pinging a connection that just worked: its death surfaces as the
    # (transient) disconnect error of the next statement, and the pool then starts afresh
    engine = create_engine(infra.database_url, pool_size=1, ping_after_idle=60.0)
    try:
        first = await pid(engine)
        async with admin.connect() as conn:
            await conn.scalar(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first})
        with pytest.raises(sa.exc.OperationalError) as failed:
            await pid(engine)
        assert failed.value.connection_invalidated
        assert await pid(engine) != first
    finally:
        await engine.dispose()
