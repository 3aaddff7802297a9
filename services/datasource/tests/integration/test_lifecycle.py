"""The data-source lifecycle end to end through the real broker and database."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import contracts as c
from connector_runtime.devstack.testing import read_records
from connector_runtime.messaging.broker import dlq_reason

pytestmark = pytest.mark.integration


def count(messages: list[c.Message], cls: type[c.Message]) -> int:
    return sum(isinstance(m, cls) for m in messages)


async def created_and_requested(service: Any, command: c.CreateDataSource) -> c.AuthorizationRequested:
    await service.send(c.DATASOURCE_COMMANDS, command)
    request: c.AuthorizationRequested = await service.one(c.AUTH_REQUESTS, command.datasource_id,
                                                          c.AuthorizationRequested)
    return request


async def connected(service: Any, *, division: int, domain_id: uuid.UUID | None = None
                    ) -> tuple[uuid.UUID, uuid.UUID, c.AuthorizationRequested]:
    command = service.create_command(domain_id=domain_id)
    request = await created_and_requested(service, command)
    grant = uuid.uuid4()
    await service.send(c.AUTH_EVENTS, service.exact_authorized(request, division=division, grant_id=grant))
    await service.until_datasource(command.datasource_id, lambda d: d["state"] == "connected")
    return command.datasource_id, grant, request


async def test_create_into_a_new_then_an_existing_domain_asks_auth_for_authorization(service: Any) -> None:
    domain_id = uuid.uuid4()
    first = service.create_command(new_domain_name="Bakkerij de Vries", new_domain_id=domain_id, mode="share")
    request = await created_and_requested(service, first)
    assert request.payload.purpose == "create" and request.payload.mode == "share"
    assert request.payload.company_domain_id == domain_id
    assert request.payload.company_domain_name == "Bakkerij de Vries"
    assert request.correlation_id == first.correlation_id
    created = await service.one(c.DATASOURCE_EVENTS, first.datasource_id, c.DataSourceCreated)
    assert created.payload.company_domain_created

    second = service.create_command(domain_id=domain_id)
    await created_and_requested(service, second)
    created = await service.one(c.DATASOURCE_EVENTS, second.datasource_id, c.DataSourceCreated)
    assert not created.payload.company_domain_created

    domains = {d["id"]: d for d in await service.get("/company-domains")}
    assert domains[str(domain_id)]["name"] == "Bakkerij de Vries"
    assert domains[str(domain_id)]["datasource_count"] == 2
    listed = await service.get("/datasources", company_domain_id=str(domain_id))
    assert {d["id"] for d in listed} == {str(first.datasource_id), str(second.datasource_id)}
    assert {d["state"] for d in listed} == {"awaiting_authorization"}
    detail = await service.datasource(first.datasource_id)
    assert detail["pending_authorization"]["authorization_id"] == str(request.payload.authorization_id)
    assert detail["authorization_mode"] == "share" and detail["company_domain_name"] == "Bakkerij de Vries"


async def test_authorized_create_connects_and_starts_the_initial_run_once_despite_duplicates(service: Any) -> None:
    command = service.create_command()
    request = await created_and_requested(service, command)
    grant = uuid.uuid4()
    authorized = service.exact_authorized(request, division=4711, grant_id=grant)
    # the same message delivered twice, then auth reporting the same authorization again
    again = service.exact_authorized(request, division=4711, grant_id=grant)
    await service.send(c.AUTH_EVENTS, authorized, authorized, again)

    run_request = await service.one(c.INGEST_REQUESTS, command.datasource_id, c.InitialRunRequested)
    p = run_request.payload
    assert (p.kind, p.division, p.grant_id, p.entities) == ("initial", 4711, grant, c.ALL_ENTITIES)
    assert run_request.correlation_id == command.correlation_id
    connected_event = await service.one(c.DATASOURCE_EVENTS, command.datasource_id, c.DataSourceConnected)
    assert connected_event.payload.division == 4711 and connected_event.payload.grant_id == grant

    # A later event on the same partition proves the duplicates were handled before it.
    revoked = c.GrantRevoked.create(datasource_id=command.datasource_id, payload=c.GrantRevokedPayload(
        grant_id=grant, division=4711, reason="withdrawn in Exact Online"))
    await service.send(c.AUTH_EVENTS, revoked)
    detail = await service.until_datasource(command.datasource_id,
                                            lambda d: d["state"] == "needs_reauthorization")
    assert detail["reauthorization"]["reason"] == "withdrawn in Exact Online"
    ingest = await service.emitted(c.INGEST_REQUESTS, command.datasource_id, lambda ms: len(ms) >= 1)
    events = await service.emitted(c.DATASOURCE_EVENTS, command.datasource_id,
                                   lambda ms: count(ms, c.DataSourceNeedsReauthorization) == 1)
    assert count(ingest, c.InitialRunRequested) == 1
    assert count(events, c.DataSourceConnected) == 1
    assert [r["run_id"] for r in detail["runs"]] == [str(p.run_id)]
    assert detail["division"] == 4711 and detail["division_name"] == "Company 4711 BV"


async def test_recreate_with_the_same_division_is_accepted(service: Any) -> None:
    ds_id, old_grant, _ = await connected(service, division=300)
    await service.send(c.DATASOURCE_COMMANDS, service.recreate_command(ds_id, mode="share"))
    requests = await service.emitted(c.AUTH_REQUESTS, ds_id, lambda ms: len(ms) == 2)
    recreate = requests[-1]
    assert recreate.payload.purpose == "recreate" and recreate.payload.bound_division == 300
    await service.until_datasource(ds_id, lambda d: d["state"] == "recreating")

    new_grant = uuid.uuid4()
    await service.send(c.AUTH_EVENTS, service.exact_authorized(recreate, division=300, grant_id=new_grant))
    accepted = await service.one(c.DATASOURCE_EVENTS, ds_id, c.RecreateAccepted)
    assert (accepted.payload.grant_id, accepted.payload.previous_grant_id) == (new_grant, old_grant)
    detail = await service.until_datasource(ds_id, lambda d: d["state"] == "connected"
                                            and d["grant_id"] == str(new_grant))
    assert detail["division"] == 300 and detail["authorization_mode"] == "share"
    assert len(detail["runs"]) == 1  # nothing re-imported


async def test_recreate_with_another_division_is_rejected_and_nothing_changes(service: Any) -> None:
    ds_id, old_grant, _ = await connected(service, division=400)
    before = await service.datasource(ds_id)
    await service.send(c.DATASOURCE_COMMANDS, service.recreate_command(ds_id))
    requests = await service.emitted(c.AUTH_REQUESTS, ds_id, lambda ms: len(ms) == 2)
    offered = uuid.uuid4()
    await service.send(c.AUTH_EVENTS, service.exact_authorized(requests[-1], division=999, grant_id=offered))

    rejected = await service.one(c.DATASOURCE_EVENTS, ds_id, c.RecreateRejected)
    p = rejected.payload
    assert (p.bound_division, p.offered_division, p.offered_grant_id) == (400, 999, offered)
    assert "400" in p.reason and "999" in p.reason
    after = await service.until_datasource(ds_id, lambda d: d["last_recreate_rejection"] is not None)
    for key in ("state", "division", "division_name", "grant_id", "authorization_mode", "connected_at",
                "authorized_by", "runs"):
        assert after[key] == before[key], key
    assert after["grant_id"] == str(old_grant) and after["state"] == "connected"
    assert after["last_recreate_rejection"]["offered_division"] == 999
    assert after["last_failure_reason"] == p.reason
    assert after["pending_authorization"] is None


@pytest.mark.parametrize("case", ["unknown_domain", "unknown_datasource", "never_connected", "existing_id",
                                  "reimport_not_connected"])
async def test_invalid_commands_are_rejected_with_a_reason(service: Any, case: str) -> None:
    if case == "unknown_domain":
        command: c.Message = service.create_command(domain_id=uuid.uuid4())
        code = "unknown_company_domain"
    elif case == "unknown_datasource":
        command = service.recreate_command(uuid.uuid4())
        code = "unknown_datasource"
    else:
        existing = service.create_command()
        await created_and_requested(service, existing)
        ds_id = existing.datasource_id
        if case == "never_connected":
            command, code = service.recreate_command(ds_id), "not_connected"
        elif case == "existing_id":
            command, code = service.create_command(datasource_id=ds_id), "datasource_exists"
        else:
            command = c.RequestReimport.create(datasource_id=ds_id, payload=c.RequestReimportPayload(
                requested_by="bob@portal"))
            code = "not_connected"
    await service.send(c.DATASOURCE_COMMANDS, command)
    rejected = await service.one(c.DATASOURCE_EVENTS, command.datasource_id, c.CommandRejected)
    assert rejected.payload.reason_code == code
    assert rejected.payload.command_message_id == command.message_id
    assert rejected.payload.reason
    if case in ("unknown_domain", "unknown_datasource"):
        response = await service.client.get(f"/datasources/{command.datasource_id}")
        assert response.status_code == 404


async def test_a_racing_second_create_is_rejected_and_a_redelivered_one_is_ignored(service: Any) -> None:
    first = service.create_command()
    racing = service.create_command(datasource_id=first.datasource_id)
    await service.send(c.DATASOURCE_COMMANDS, first, first, racing)
    events = await service.emitted(c.DATASOURCE_EVENTS, first.datasource_id,
                                   lambda ms: count(ms, c.CommandRejected) == 1)
    rejected = next(m for m in events if isinstance(m, c.CommandRejected))
    assert rejected.payload.command_message_id == racing.message_id
    assert count(events, c.DataSourceCreated) == 1
    requests = await service.emitted(c.AUTH_REQUESTS, first.datasource_id, lambda ms: len(ms) >= 1)
    assert len(requests) == 1


async def test_a_malformed_command_is_dead_lettered_and_consumption_goes_on(service: Any) -> None:
    key = str(uuid.uuid4()).encode()
    await service.send_raw(c.DATASOURCE_COMMANDS, b'{"type": "CreateDataSource", "payload": 42}', key)
    follow_up = service.create_command()
    await created_and_requested(service, follow_up)
    dlq = c.dead_letter_topic(c.DATASOURCE_COMMANDS)
    records = await read_records(service.infra.kafka_bootstrap_servers, dlq,
                                 lambda recs: any(r.key == key for r in recs))
    record = next(r for r in records if r.key == key)
    reason = dlq_reason(record.headers)
    assert reason is not None and reason.startswith("invalid message")
    assert record.value == b'{"type": "CreateDataSource", "payload": 42}'


async def test_a_second_data_source_on_the_same_division_in_a_domain_is_refused(service: Any) -> None:
    first_id, _, first_request = await connected(service, division=777)
    domain_id = first_request.payload.company_domain_id
    second = service.create_command(domain_id=domain_id)
    request = await created_and_requested(service, second)
    offered = uuid.uuid4()
    await service.send(c.AUTH_EVENTS, service.exact_authorized(request, division=777, grant_id=offered))
    failed = await service.one(c.DATASOURCE_EVENTS, second.datasource_id, c.DataSourceAuthorizationFailed)
    assert failed.payload.reason_code == "division_already_connected"
    assert failed.payload.offered_grant_id == offered
    assert str(first_id) in failed.payload.reason
    detail = await service.until_datasource(second.datasource_id, lambda d: d["state"] == "authorization_failed")
    assert detail["division"] is None and detail["runs"] == []
    assert detail["last_authorization_failure"]["reason_code"] == "division_already_connected"


async def test_authorization_failed_is_shown_and_a_recreate_retries_it(service: Any) -> None:
    command = service.create_command(mode="share")
    request = await created_and_requested(service, command)
    failed = request.caused(c.AuthorizationFailed, c.AuthorizationFailedPayload(
        authorization_id=request.payload.authorization_id, purpose="create", reason_code="unsupported_region",
        reason="This company is on the Belgian instance; only start.exactonline.nl is supported."))
    await service.send(c.AUTH_EVENTS, failed)
    detail = await service.until_datasource(command.datasource_id, lambda d: d["state"] == "authorization_failed")
    assert "Belgian" in detail["last_failure_reason"]
    assert detail["last_authorization_failure"]["reason_code"] == "unsupported_region"

    await service.send(c.DATASOURCE_COMMANDS, service.recreate_command(command.datasource_id, mode="self"))
    requests = await service.emitted(c.AUTH_REQUESTS, command.datasource_id, lambda ms: len(ms) == 2)
    assert requests[-1].payload.purpose == "create" and requests[-1].payload.mode == "self"
    await service.send(c.AUTH_EVENTS, service.exact_authorized(requests[-1], division=515))
    run_request = await service.one(c.INGEST_REQUESTS, command.datasource_id, c.InitialRunRequested)
    assert run_request.payload.division == 515


async def test_reimport_of_a_connected_data_source_requests_a_reimport_run(service: Any) -> None:
    ds_id, grant, _ = await connected(service, division=610)
    reimport = c.RequestReimport.create(datasource_id=ds_id, payload=c.RequestReimportPayload(
        requested_by="bob@portal", entities=(c.Entity.GL_ACCOUNTS,)))
    await service.send(c.DATASOURCE_COMMANDS, reimport)
    requests = await service.emitted(c.INGEST_REQUESTS, ds_id, lambda ms: len(ms) == 2)
    p = requests[-1].payload
    assert (p.kind, p.entities, p.grant_id, p.division) == ("reimport", (c.Entity.GL_ACCOUNTS,), grant, 610)
    detail = await service.until_datasource(ds_id, lambda d: len(d["runs"]) == 2)
    assert detail["runs"][0]["kind"] == "reimport" and detail["run_status"] == "run_pending"


async def test_not_my_company_disconnects_and_tells_auth_and_downstream(service: Any) -> None:
    datasource_id, grant, _request = await connected(service, division=4712)
    run_request = await service.one(c.INGEST_REQUESTS, datasource_id, c.InitialRunRequested)
    disown = c.DisownConnection.create(datasource_id=datasource_id, payload=c.DisownConnectionPayload(
        requested_by="anna@portal"))
    await service.send(c.DATASOURCE_COMMANDS, disown, disown)

    disowned = await service.one(c.DATASOURCE_EVENTS, datasource_id, c.DataSourceDisowned)
    assert (disowned.payload.grant_id, disowned.payload.division) == (grant, 4712)
    purged = await service.one(c.LEDGER_BATCHES, datasource_id, c.DataSourcePurged)
    assert purged.payload.run_ids == (run_request.payload.run_id,)
    detail = await service.until_datasource(datasource_id,
                                            lambda d: d["state"] == "authorization_failed")
    assert detail["division"] is None and detail["grant_id"] is None
    assert detail["last_authorization_failure"]["reason_code"] == "not_my_company"
