"""The settings every service shares: a replica's PostgreSQL connections are bounded."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connector_runtime.persistence.db import create_engine
from connector_runtime.settings import ServiceSettings


def test_a_replicas_connection_pool_is_configured_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_POOL_SIZE", "4")
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "2")
    settings = ServiceSettings()
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size,
                           max_overflow=settings.database_max_overflow)
    assert (engine.pool.size(), engine.pool._max_overflow) == (4, 2)  # type: ignore[attr-defined]


def test_defaults_keep_ten_connections_and_ten_more_under_load(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_POOL_SIZE", raising=False)
    monkeypatch.delenv("DATABASE_MAX_OVERFLOW", raising=False)
    settings = ServiceSettings()
    assert (settings.database_pool_size, settings.database_max_overflow) == (10, 10)


def test_an_empty_pool_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_POOL_SIZE", "0")
    with pytest.raises(ValidationError):
        ServiceSettings()


def test_a_pool_of_one_connection_in_all_is_refused_with_the_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_POOL_SIZE", "1")
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "0")
    with pytest.raises(ValidationError, match="outbox relay holds one connection"):
        ServiceSettings()
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "1")
    assert ServiceSettings().database_pool_size == 1
