"""Routing and validation at the edge (FastStream's in-memory test broker, fake unit of work)."""

from __future__ import annotations

import uuid
from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker

import contracts as c
from connector_runtime.devstack.testing import TEST_CLAIM_SIGNING_KEY
from datasource.settings import DatasourceSettings
from datasource.subscribers import build_router


def broker_for(uow: Any) -> KafkaBroker:
    broker = KafkaBroker()
    settings = DatasourceSettings(run_claim_signing_key=TEST_CLAIM_SIGNING_KEY)
    broker.include_router(build_router(settings, "exact-datasource", uow=lambda: uow))
    return broker


def create_cmd() -> c.CreateDataSource:
    return c.CreateDataSource.create(datasource_id=uuid.uuid4(), payload=c.CreateDataSourcePayload(
        new_company_domain_name="Acme", authorization_mode="self", requested_by="anna"))


async def test_a_command_reaches_its_use_case(uow: Any) -> None:
    command = create_cmd()
    async with TestKafkaBroker(broker_for(uow)) as broker:
        await broker.publish(command.to_bytes(), c.DATASOURCE_COMMANDS)
    assert [m.type for m in uow.published()] == ["DataSourceCreated", "AuthorizationRequested"]


async def test_a_refused_command_becomes_command_rejected(uow: Any) -> None:
    command = c.RecreateDataSource.create(datasource_id=uuid.uuid4(), payload=c.RecreateDataSourcePayload(
        authorization_mode="self", requested_by="anna"))
    async with TestKafkaBroker(broker_for(uow)) as broker:
        await broker.publish(command.to_bytes(), c.DATASOURCE_COMMANDS)
    (rejected,) = uow.published()
    assert isinstance(rejected, c.CommandRejected)
    assert rejected.payload.reason_code == "unknown_datasource"


async def test_auth_and_run_events_reach_their_use_cases(uow: Any) -> None:
    command = create_cmd()
    async with TestKafkaBroker(broker_for(uow)) as broker:
        await broker.publish(command.to_bytes(), c.DATASOURCE_COMMANDS)
        request = uow.published(c.AuthorizationRequested)[0]
        authorized = request.caused(c.ExactAuthorized, c.ExactAuthorizedPayload(
            authorization_id=request.payload.authorization_id, purpose="create", grant_id=uuid.uuid4(),
            division=7, division_name="D7", exact_user_id=uuid.uuid4(), exact_user_name="Jan",
            authorized_at=request.occurred_at))
        await broker.publish(authorized.to_bytes(), c.AUTH_EVENTS)
        run_id = uow.published(c.InitialRunRequested)[0].payload.run_id
        started = c.RunStarted.create(datasource_id=command.datasource_id, payload=c.RunStartedPayload(
            run_id=run_id, kind="initial", division=7, entities=c.ALL_ENTITIES))
        await broker.publish(started.to_bytes(), c.RUN_EVENTS)
    assert uow.state.runs[run_id].status.value == "running"
