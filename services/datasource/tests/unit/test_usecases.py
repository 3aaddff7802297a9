"""Use cases on the in-memory unit of work: one commit per message, duplicates are no-ops,
refusals leave nothing behind.

Size: one test module per source module (the use cases), a few tests per command and event.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import contracts as c
from datasource import usecases
from datasource.domain import RunStatus, State
from datasource.domain.errors import (
    CommandRefused,
    CompanyDomainExists,
    DataSourceExists,
    InvalidCommand,
    InvalidState,
    NotConnected,
    UnknownCompanyDomain,
    UnknownDataSource,
)
from datasource.views import run_view

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def create_cmd(datasource_id: uuid.UUID | None = None, **payload: Any) -> c.CreateDataSource:
    fields: dict[str, Any] = {"authorization_mode": "self", "requested_by": "anna@portal"}
    if "company_domain_id" not in payload:
        fields["new_company_domain_name"] = "Acme Holding"
    fields.update(payload)
    return c.CreateDataSource.create(datasource_id=datasource_id or uuid.uuid4(),
                                     payload=c.CreateDataSourcePayload(**fields))


def recreate_cmd(datasource_id: uuid.UUID, mode: str = "share") -> c.RecreateDataSource:
    return c.RecreateDataSource.create(datasource_id=datasource_id, payload=c.RecreateDataSourcePayload(
        authorization_mode=mode, requested_by="bob@portal"))  # type: ignore[arg-type]


def reimport_cmd(datasource_id: uuid.UUID, **payload: Any) -> c.RequestReimport:
    return c.RequestReimport.create(datasource_id=datasource_id, payload=c.RequestReimportPayload(
        requested_by="bob@portal", **payload))


def authorized(request: c.AuthorizationRequested, division: int = 101,
               grant_id: uuid.UUID | None = None) -> c.ExactAuthorized:
    return request.caused(c.ExactAuthorized, c.ExactAuthorizedPayload(
        authorization_id=request.payload.authorization_id, purpose=request.payload.purpose,
        grant_id=grant_id or uuid.uuid4(), division=division, division_name=f"Division {division}",
        exact_user_id=uuid.uuid4(), exact_user_name="Jan Admin", authorized_at=T0))


def auth_failed(request: c.AuthorizationRequested, code: str = "not_administrator") -> c.AuthorizationFailed:
    return request.caused(c.AuthorizationFailed, c.AuthorizationFailedPayload(
        authorization_id=request.payload.authorization_id, purpose=request.payload.purpose,
        reason_code=code, reason="Jan is not an administrator of this company"))  # type: ignore[arg-type]


def revoked(datasource_id: uuid.UUID, grant_id: uuid.UUID) -> c.GrantRevoked:
    return c.GrantRevoked.create(datasource_id=datasource_id, payload=c.GrantRevokedPayload(
        grant_id=grant_id, division=101, reason="The grant was withdrawn in Exact Online"))


async def create(uow: Any, clock: Any, **payload: Any) -> tuple[c.CreateDataSource, c.AuthorizationRequested]:
    command = create_cmd(**payload)
    await usecases.handle_command(command, uow, clock=clock)
    return command, uow.published(c.AuthorizationRequested)[-1]


async def connect(uow: Any, clock: Any, division: int = 101, **payload: Any) -> tuple[uuid.UUID, uuid.UUID]:
    command, request = await create(uow, clock, **payload)
    grant = uuid.uuid4()
    await usecases.handle_auth_event(authorized(request, division, grant), uow, clock=clock)
    return command.datasource_id, grant


async def recreate(uow: Any, clock: Any, datasource_id: uuid.UUID) -> c.AuthorizationRequested:
    await usecases.handle_command(recreate_cmd(datasource_id), uow, clock=clock)
    return uow.published(c.AuthorizationRequested)[-1]


# -- commands ---------------------------------------------------------------------------------

async def test_create_into_a_new_domain_commits_the_domain_data_source_and_both_events(uow: Any, clock: Any) -> None:
    domain_id = uuid.uuid4()
    command = create_cmd(new_company_domain_id=domain_id, authorization_mode="share")
    await usecases.handle_command(command, uow, clock=clock)
    assert uow.committed and uow.commits == 1
    assert uow.state.domains[domain_id].name == "Acme Holding"
    ds = uow.datasource(command.datasource_id)
    assert ds.state is State.AWAITING_AUTHORIZATION and ds.company_domain_id == domain_id
    assert uow.topics() == [(c.DATASOURCE_EVENTS, "DataSourceCreated"), (c.AUTH_REQUESTS, "AuthorizationRequested")]
    created, request = uow.published()
    assert created.payload.company_domain_created and created.payload.company_domain_id == domain_id
    assert request.payload.mode == "share" and request.payload.purpose == "create"
    assert request.payload.authorization_id == ds.pending.authorization_id
    for message in uow.published():
        assert message.datasource_id == command.datasource_id
        assert message.correlation_id == command.correlation_id


async def test_create_into_a_new_domain_without_an_id_gets_a_fresh_one(uow: Any, clock: Any) -> None:
    command, _ = await create(uow, clock)
    ds = uow.datasource(command.datasource_id)
    assert ds.company_domain_id in uow.state.domains


async def test_create_into_an_existing_domain_uses_it(uow: Any, clock: Any) -> None:
    first, _ = await create(uow, clock)
    domain_id = uow.datasource(first.datasource_id).company_domain_id
    second, request = await create(uow, clock, company_domain_id=domain_id)
    assert uow.datasource(second.datasource_id).company_domain_id == domain_id
    assert len(uow.state.domains) == 1
    created = uow.published(c.DataSourceCreated)[-1]
    assert not created.payload.company_domain_created
    assert request.payload.company_domain_name == "Acme Holding"


@pytest.mark.parametrize(("setup", "make", "error"), [
    ("none", lambda ids: create_cmd(company_domain_id=uuid.uuid4()), UnknownCompanyDomain),
    ("ds", lambda ids: create_cmd(datasource_id=ids["ds"]), DataSourceExists),
    ("ds", lambda ids: create_cmd(new_company_domain_id=ids["domain"]), CompanyDomainExists),
    ("ds", lambda ids: create_cmd(company_domain_id=ids["domain"], new_company_domain_id=uuid.uuid4()),
     InvalidCommand),
    ("none", lambda ids: recreate_cmd(uuid.uuid4()), UnknownDataSource),
    ("none", lambda ids: reimport_cmd(uuid.uuid4()), UnknownDataSource),
    ("ds", lambda ids: recreate_cmd(ids["ds"]), NotConnected),
    ("ds", lambda ids: reimport_cmd(ids["ds"]), NotConnected),
])
async def test_refused_commands_write_nothing(uow: Any, clock: Any, setup: str, make: Any,
                                              error: type[CommandRefused]) -> None:
    ids: dict[str, uuid.UUID] = {}
    if setup == "ds":
        command, _ = await create(uow, clock)
        ids = {"ds": command.datasource_id, "domain": uow.datasource(command.datasource_id).company_domain_id}
    before = (len(uow.state.datasources), len(uow.state.domains), len(uow.state.outbox), len(uow.state.inbox))
    command = make(ids)
    with pytest.raises(error):
        await usecases.handle_command(command, uow, clock=clock)
    assert not uow.committed
    assert (len(uow.state.datasources), len(uow.state.domains), len(uow.state.outbox), len(uow.state.inbox)) == before


async def test_a_refusal_is_recorded_once_as_command_rejected(uow: Any, clock: Any) -> None:
    command = recreate_cmd(uuid.uuid4())
    with pytest.raises(UnknownDataSource) as refused:
        await usecases.handle_command(command, uow, clock=clock)
    await usecases.reject_command(command, refused.value, uow)
    await usecases.reject_command(command, refused.value, uow)
    (rejected,) = uow.published(c.CommandRejected)
    assert rejected.payload.reason_code == "unknown_datasource"
    assert rejected.payload.command_message_id == command.message_id
    assert rejected.payload.command_type == "RecreateDataSource"
    assert str(command.datasource_id) in rejected.payload.reason
    assert rejected.correlation_id == command.correlation_id
    # the command now counts as handled: a redelivery does nothing
    await usecases.handle_command(command, uow, clock=clock)
    assert len(uow.published()) == 1


async def test_a_redelivered_command_is_a_no_op(uow: Any, clock: Any) -> None:
    command = create_cmd()
    await usecases.handle_command(command, uow, clock=clock)
    await usecases.handle_command(command, uow, clock=clock)
    assert uow.commits == 1 and len(uow.published(c.AuthorizationRequested)) == 1


async def test_recreate_while_in_progress_is_refused_as_invalid_state(uow: Any, clock: Any) -> None:
    ds_id, _ = await connect(uow, clock)
    await recreate(uow, clock, ds_id)
    with pytest.raises(InvalidState):
        await usecases.handle_command(recreate_cmd(ds_id), uow, clock=clock)


async def test_reimport_requests_a_reimport_run_for_the_bound_division_and_grant(uow: Any, clock: Any) -> None:
    ds_id, grant = await connect(uow, clock)
    command = reimport_cmd(ds_id, entities=(c.Entity.GL_ACCOUNTS, c.Entity.GL_ACCOUNTS, c.Entity.JOURNALS),
                           date_from=date(2025, 1, 1), date_to=date(2025, 6, 30))
    await usecases.handle_command(command, uow, clock=clock)
    run_request = uow.published(c.InitialRunRequested)[-1]
    p = run_request.payload
    assert (p.kind, p.division, p.grant_id) == ("reimport", 101, grant)
    assert p.entities == (c.Entity.GL_ACCOUNTS, c.Entity.JOURNALS)
    assert (p.date_from, p.date_to) == (date(2025, 1, 1), date(2025, 6, 30))
    assert uow.state.runs[p.run_id].kind == "reimport"
    assert run_request.correlation_id == command.correlation_id


async def test_reimport_without_entities_imports_all(uow: Any, clock: Any) -> None:
    ds_id, _ = await connect(uow, clock)
    await usecases.handle_command(reimport_cmd(ds_id), uow, clock=clock)
    assert uow.published(c.InitialRunRequested)[-1].payload.entities == c.ALL_ENTITIES


# -- auth events ------------------------------------------------------------------------------

async def test_exact_authorized_connects_and_requests_the_initial_run_in_one_commit(uow: Any, clock: Any) -> None:
    command, request = await create(uow, clock)
    grant = uuid.uuid4()
    commits = uow.commits
    await usecases.handle_auth_event(authorized(request, 101, grant), uow, clock=clock)
    assert uow.commits == commits + 1
    ds = uow.datasource(command.datasource_id)
    assert ds.state is State.CONNECTED and ds.binding.grant_id == grant
    connected = uow.published(c.DataSourceConnected)[-1]
    (run_request,) = uow.published(c.InitialRunRequested)
    assert connected.payload.division == 101 and connected.payload.grant_id == grant
    p = run_request.payload
    assert (p.kind, p.division, p.grant_id, p.entities) == ("initial", 101, grant, c.ALL_ENTITIES)
    assert uow.state.runs[p.run_id].status is RunStatus.PENDING
    assert run_request.correlation_id == command.correlation_id == connected.correlation_id
    assert uow.state.domains and ds.company_domain_id in uow.domains.locked


async def test_exact_authorized_twice_requests_the_initial_run_once(uow: Any, clock: Any) -> None:
    _, request = await create(uow, clock)
    event = authorized(request)
    await usecases.handle_auth_event(event, uow, clock=clock)
    await usecases.handle_auth_event(event, uow, clock=clock)  # the same message redelivered
    again = authorized(request, grant_id=event.payload.grant_id)  # auth reported it twice
    await usecases.handle_auth_event(again, uow, clock=clock)
    assert len(uow.published(c.InitialRunRequested)) == 1
    assert len(uow.published(c.DataSourceConnected)) == 1
    assert len(uow.state.runs) == 1


async def test_a_second_data_source_on_the_same_division_in_the_domain_is_refused(uow: Any, clock: Any) -> None:
    first_id, _ = await connect(uow, clock, division=101)
    domain_id = uow.datasource(first_id).company_domain_id
    command, request = await create(uow, clock, company_domain_id=domain_id)
    offered = uuid.uuid4()
    await usecases.handle_auth_event(authorized(request, 101, offered), uow, clock=clock)
    ds = uow.datasource(command.datasource_id)
    assert ds.state is State.AUTHORIZATION_FAILED and ds.binding is None
    failed = uow.published(c.DataSourceAuthorizationFailed)[-1]
    assert failed.payload.reason_code == "division_already_connected"
    assert failed.payload.offered_grant_id == offered and failed.payload.state == "authorization_failed"
    assert len(uow.published(c.InitialRunRequested)) == 1  # only the first data source's


async def test_the_same_division_in_another_domain_is_fine(uow: Any, clock: Any) -> None:
    await connect(uow, clock, division=101)
    second_id, _ = await connect(uow, clock, division=101)
    assert uow.datasource(second_id).state is State.CONNECTED


async def test_authorization_failed_keeps_the_reason(uow: Any, clock: Any) -> None:
    command, request = await create(uow, clock)
    await usecases.handle_auth_event(auth_failed(request), uow, clock=clock)
    ds = uow.datasource(command.datasource_id)
    assert ds.state is State.AUTHORIZATION_FAILED
    assert ds.last_failure.code == "not_administrator" and "administrator" in ds.last_failure.reason
    failed = uow.published(c.DataSourceAuthorizationFailed)[-1]
    assert failed.payload.reason_code == "not_administrator"


async def test_link_issued_is_recorded_without_any_event(uow: Any, clock: Any) -> None:
    command, request = await create(uow, clock)
    before = len(uow.published())
    issued = request.caused(c.AuthorizationLinkIssued, c.AuthorizationLinkIssuedPayload(
        authorization_id=request.payload.authorization_id, purpose="create", mode="self",
        fetch_url="http://auth:8001/internal/authorizations/x/link", expires_at=T0 + timedelta(hours=1)))
    await usecases.handle_auth_event(issued, uow, clock=clock)
    link = uow.datasource(command.datasource_id).pending.link
    assert link.fetch_url.endswith("/link") and link.expires_at == T0 + timedelta(hours=1)
    assert len(uow.published()) == before


async def test_recreate_same_division_is_accepted_and_names_the_previous_grant(uow: Any, clock: Any) -> None:
    ds_id, old_grant = await connect(uow, clock)
    request = await recreate(uow, clock, ds_id)
    assert request.payload.purpose == "recreate" and request.payload.bound_division == 101
    assert uow.datasource(ds_id).state is State.RECREATING
    new_grant = uuid.uuid4()
    await usecases.handle_auth_event(authorized(request, 101, new_grant), uow, clock=clock)
    ds = uow.datasource(ds_id)
    assert ds.state is State.CONNECTED and ds.binding.grant_id == new_grant
    accepted = uow.published(c.RecreateAccepted)[-1]
    assert (accepted.payload.grant_id, accepted.payload.previous_grant_id) == (new_grant, old_grant)
    assert len(uow.published(c.InitialRunRequested)) == 1  # no re-import unless asked


async def test_recreate_other_division_is_rejected_and_nothing_else_changes(uow: Any, clock: Any) -> None:
    ds_id, old_grant = await connect(uow, clock)
    before = uow.datasource(ds_id)
    request = await recreate(uow, clock, ds_id)
    offered = uuid.uuid4()
    await usecases.handle_auth_event(authorized(request, 202, offered), uow, clock=clock)
    ds = uow.datasource(ds_id)
    assert (ds.state, ds.binding, ds.authorization_mode) == (before.state, before.binding, before.authorization_mode)
    rejected = uow.published(c.RecreateRejected)[-1]
    p = rejected.payload
    assert (p.bound_division, p.offered_division, p.offered_grant_id) == (101, 202, offered)
    assert ds.last_rejection.offered_division == 202
    assert ds.binding.grant_id == old_grant


async def test_grant_revoked_moves_the_owner_of_that_grant_to_needs_reauthorization(uow: Any, clock: Any) -> None:
    ds_id, grant = await connect(uow, clock)
    await usecases.handle_auth_event(revoked(ds_id, grant), uow, clock=clock)
    assert uow.datasource(ds_id).state is State.NEEDS_REAUTHORIZATION
    event = uow.published(c.DataSourceNeedsReauthorization)[-1]
    assert event.payload.grant_id == grant and event.datasource_id == ds_id


@pytest.mark.parametrize("case", ["unknown_grant", "unknown_datasource", "stale_authorization"])
async def test_events_that_do_not_apply_are_marked_handled_and_change_nothing(uow: Any, clock: Any, case: str) -> None:
    ds_id, _ = await connect(uow, clock)
    before = len(uow.published())
    if case == "unknown_grant":
        event: c.Message = revoked(ds_id, uuid.uuid4())
    elif case == "unknown_datasource":
        _, request = await create(uow, clock)
        before = len(uow.published())
        event = authorized(request).model_copy(update={"datasource_id": uuid.uuid4()})
    else:
        stale = c.AuthorizationRequested.create(datasource_id=ds_id, payload=c.AuthorizationRequestedPayload(
            authorization_id=uuid.uuid4(), purpose="create", mode="self", company_domain_id=uuid.uuid4(),
            company_domain_name="x", requested_by="x"))
        event = authorized(stale)
    await usecases.handle_auth_event(event, uow, clock=clock)  # type: ignore[arg-type]
    assert uow.committed and (usecases.AUTH_EVENTS, event.message_id) in uow.state.inbox
    assert len(uow.published()) == before
    assert uow.datasource(ds_id).state is State.CONNECTED


# -- run events -------------------------------------------------------------------------------

async def test_run_events_drive_the_run_and_tolerate_disorder(uow: Any, clock: Any) -> None:
    ds_id, _ = await connect(uow, clock)
    run_id = uow.published(c.InitialRunRequested)[-1].payload.run_id
    ent = c.Entity.TRANSACTION_LINES
    completed = c.RunCompleted.create(datasource_id=ds_id, payload=c.RunCompletedPayload(
            run_id=run_id, kind="initial", division=101, batches=3, calls_used=12, duration_seconds=60.0,
            totals=(c.EntityTotals(entity=ent, rows=2500, pages=3, id_hash="ab"),)))
    late_progress = c.RunProgress.create(datasource_id=ds_id, payload=c.RunProgressPayload(
        run_id=run_id, kind="initial", calls_used=3,
        entities=(c.EntityProgress(entity=ent, rows=1000, pages=1, done=False),)))
    late_progress = late_progress.model_copy(update={"occurred_at": completed.occurred_at - timedelta(seconds=30)})
    await usecases.handle_run_event(completed, uow, clock=clock)
    await usecases.handle_run_event(late_progress, uow, clock=clock)
    await usecases.handle_run_event(late_progress, uow, clock=clock)
    run = uow.state.runs[run_id]
    assert run.status is RunStatus.COMPLETED and run.progress[ent.value].rows == 2500
    assert run.batches == 3


async def test_a_runs_trial_balance_check_is_kept_and_shown_next_to_the_run(uow: Any, clock: Any) -> None:
    ds_id, _ = await connect(uow, clock)
    run_id = uow.published(c.InitialRunRequested)[-1].payload.run_id
    checked = c.TrialBalanceChecked.create(datasource_id=ds_id, payload=c.TrialBalanceCheckedPayload(
        run_id=run_id, kind="initial", division=101, checked=True, basis="processed",
        opening_balance_period="as_booked", keys_compared=4, keys_matching=3,
        total_abs_difference=Decimal("12.50"), tolerance=Decimal("0.005"),
        largest_differences=(c.TrialBalanceDifference(
            reporting_year=2024, reporting_period=3, gl_account_code="8000",
            ledger_amount=Decimal("100"), exact_amount=Decimal("87.50"),
            difference=Decimal("-12.50")),)))
    await usecases.handle_run_event(checked, uow, clock=clock)
    await usecases.handle_run_event(checked, uow, clock=clock)  # redelivered
    view = run_view(uow.state.runs[run_id]).trial_balance
    assert view is not None and view.checked and view.keys_matching_percent == 75.0
    [diff] = view.largest_differences
    assert (diff.reporting_year, diff.reporting_period, diff.gl_account_code, diff.difference) == (
        2024, 3, "8000", Decimal("-12.50"))


async def test_a_run_nobody_requested_is_recorded_when_its_events_arrive(uow: Any, clock: Any) -> None:
    ds_id, _ = await connect(uow, clock)
    run_id = uuid.uuid4()
    started = c.RunStarted.create(datasource_id=ds_id, payload=c.RunStartedPayload(
        run_id=run_id, kind="incremental", division=101, entities=(c.Entity.GL_ACCOUNTS,)))
    await usecases.handle_run_event(started, uow, clock=clock)
    assert uow.state.runs[run_id].kind == "incremental"
    assert uow.state.runs[run_id].status is RunStatus.RUNNING


async def test_run_events_of_an_unknown_data_source_are_skipped(uow: Any, clock: Any) -> None:
    started = c.RunStarted.create(datasource_id=uuid.uuid4(), payload=c.RunStartedPayload(
        run_id=uuid.uuid4(), kind="initial", division=101, entities=(c.Entity.GL_ACCOUNTS,)))
    await usecases.handle_run_event(started, uow, clock=clock)
    assert uow.committed and not uow.state.runs


async def test_a_run_failed_because_the_grant_was_revoked_needs_reauthorization(uow: Any, clock: Any) -> None:
    ds_id, grant = await connect(uow, clock)
    run_id = uow.published(c.InitialRunRequested)[-1].payload.run_id
    failed = c.RunFailed.create(datasource_id=ds_id, payload=c.RunFailedPayload(
        run_id=run_id, kind="initial", reason_code="grant_revoked", reason="auth answered 410",
        retryable=True))
    await usecases.handle_run_event(failed, uow, clock=clock)
    assert uow.datasource(ds_id).state is State.NEEDS_REAUTHORIZATION
    assert uow.state.runs[run_id].status is RunStatus.FAILED
    event = uow.published(c.DataSourceNeedsReauthorization)[-1]
    assert event.payload.grant_id == grant and "410" in event.payload.reason
    # auth's GrantRevoked arriving afterwards changes nothing more
    await usecases.handle_auth_event(revoked(ds_id, grant), uow, clock=clock)
    assert len(uow.published(c.DataSourceNeedsReauthorization)) == 1


async def test_an_expiring_grant_is_a_warning_that_changes_nothing(uow: Any, clock: Any) -> None:
    ds_id, grant = await connect(uow, clock)
    before = len(uow.published(c.Message))
    expiring = c.GrantExpiring.create(datasource_id=ds_id, payload=c.GrantExpiringPayload(
        grant_id=grant, division=101, refresh_expires_at=datetime(2026, 2, 1, tzinfo=UTC),
        reason="Exact Online could not renew the access: 503"))
    await usecases.handle_auth_event(expiring, uow, clock=clock)
    assert uow.committed
    assert uow.datasource(ds_id).state is State.CONNECTED
    assert len(uow.published(c.Message)) == before
