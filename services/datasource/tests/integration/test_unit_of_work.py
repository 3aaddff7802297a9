"""The unit-of-work port: the same contract holds for the SQL adapter and the in-memory fake."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import contracts as c
from connector_runtime.devstack.testing import TEST_CLAIM_SIGNING_KEY, Infra
from connector_runtime.messaging.claims import ClaimSigner
from connector_runtime.persistence.db import create_engine, migrate_async
from datasource.adapters.uow import SqlUnitOfWork
from datasource.app import MIGRATIONS
from datasource.domain import (
    AuthorizationFailure,
    AuthorizationLink,
    Binding,
    Budget,
    CompanyDomain,
    DataSource,
    PendingAuthorization,
    Reauthorization,
    RecreateRejection,
    Run,
    RunFailure,
    State,
)

T0 = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def engine(infra: Infra) -> AsyncIterator[Any]:
    await migrate_async(infra.database_url, MIGRATIONS, "datasource")
    engine = create_engine(infra.database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(params=["sql", "fake"])
def make_uow(request: pytest.FixtureRequest, engine: Any) -> Callable[[], Any]:
    if request.param == "sql":
        commits: list[int] = []
        claims = ClaimSigner(TEST_CLAIM_SIGNING_KEY)
        return lambda: SqlUnitOfWork(engine, claims, after_commit=lambda: commits.append(1))
    fake = request.getfixturevalue("uow")
    return lambda: fake


def full_datasource(domain: CompanyDomain) -> DataSource:
    """A data source with every optional part filled in, to prove nothing is lost on the way."""
    return DataSource(
        id=uuid.uuid4(), company_domain_id=domain.id, state=State.RECREATING, authorization_mode="share",
        requested_by="anna", created_at=T0, updated_at=T0 + timedelta(minutes=1),
        binding=Binding(101, "Acme BV", uuid.uuid4(), "Jan Admin", T0),
        pending=PendingAuthorization(uuid.uuid4(), "recreate", "share", "bob", T0, State.NEEDS_REAUTHORIZATION,
                                     AuthorizationLink("http://auth/internal/authorizations/x/link",
                                                       T0 + timedelta(days=7), T0)),
        last_failure=AuthorizationFailure(uuid.uuid4(), "recreate", "link_expired", "expired", T0, 5),
        last_rejection=RecreateRejection(uuid.uuid4(), 202, "Other BV", uuid.uuid4(), "other division", T0),
        reauthorization=Reauthorization(uuid.uuid4(), "withdrawn", T0),
    )


def full_run(ds: DataSource) -> Run:
    run = Run.requested(run_id=uuid.uuid4(), datasource_id=ds.id, kind="reimport", division=101,
                        grant_id=uuid.uuid4(), entities=("GLAccounts", "Journals"), now=T0,
                        date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
    run.progressed(T0 + timedelta(minutes=1), [("GLAccounts", 40, 1, True)], Budget(3, 4990, 57, 12.5))
    run.failed(T0 + timedelta(minutes=2), code="rate_limited", reason="daily limit", retryable=True)
    run.started(T0 + timedelta(minutes=3), division=101, entities=(), resumed=True)
    run.failed(T0 + timedelta(minutes=4), code="exact_error", reason="500 from Exact", retryable=False)
    return run


async def test_what_is_committed_comes_back_whole(make_uow: Callable[[], Any]) -> None:
    domain = CompanyDomain(uuid.uuid4(), "Acme Holding", "anna", T0)
    ds = full_datasource(domain)
    run = full_run(ds)
    async with make_uow() as uow:
        await uow.domains.add(domain)
        await uow.datasources.add(ds)
        await uow.runs.add(run)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.domains.get(domain.id) == domain
        loaded = await uow.datasources.get(ds.id)
        assert loaded is not None
        for field in ("state", "authorization_mode", "binding", "pending", "last_failure", "last_rejection",
                      "reauthorization", "created_at", "updated_at", "company_domain_id", "requested_by"):
            assert getattr(loaded, field) == getattr(ds, field), field
        assert await uow.datasources.get_by_grant(ds.binding.grant_id) is not None  # type: ignore[union-attr]
        loaded_run = await uow.runs.get(run.run_id)
        assert loaded_run is not None
        assert vars(loaded_run) == vars(run)
        assert loaded_run.failure == RunFailure("exact_error", "500 from Exact", False)


async def test_leaving_without_commit_rolls_everything_back(make_uow: Callable[[], Any]) -> None:
    domain = CompanyDomain(uuid.uuid4(), "Rollback BV", "anna", T0)
    message_id = uuid.uuid4()
    message = c.CommandRejected.create(datasource_id=uuid.uuid4(), payload=c.CommandRejectedPayload(
        command_type="X", command_message_id=uuid.uuid4(), reason_code="invalid_command", reason="r"))
    async with make_uow() as uow:
        await uow.domains.add(domain)
        assert await uow.first_delivery("contract-test", message_id)
        await uow.publish(c.DATASOURCE_EVENTS, message)
    async with make_uow() as uow:
        assert await uow.domains.get(domain.id) is None
        assert await uow.first_delivery("contract-test", message_id)  # the mark was rolled back too
        await uow.commit()
    async with make_uow() as uow:
        assert not await uow.first_delivery("contract-test", message_id)


async def test_updates_replace_the_stored_data_source_and_find_division_conflicts(make_uow: Callable[[], Any]) -> None:
    domain = CompanyDomain(uuid.uuid4(), "Acme Holding", "anna", T0)
    ds = full_datasource(domain)
    other = replace(full_datasource(domain), id=uuid.uuid4(), binding=None, pending=None,
                    state=State.AWAITING_AUTHORIZATION)
    async with make_uow() as uow:
        await uow.domains.add(domain)
        await uow.datasources.add(ds)
        await uow.datasources.add(other)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.datasources.bound_to(domain.id, 101, other_than=other.id) == ds.id
        assert await uow.datasources.bound_to(domain.id, 101, other_than=ds.id) is None
        assert await uow.datasources.bound_to(uuid.uuid4(), 101, other_than=other.id) is None
        loaded = await uow.datasources.get(ds.id)
        loaded.state, loaded.pending = State.CONNECTED, None
        await uow.datasources.update(loaded)
        await uow.commit()
    async with make_uow() as uow:
        again = await uow.datasources.get(ds.id)
        assert again.state is State.CONNECTED and again.pending is None and again.binding == ds.binding
