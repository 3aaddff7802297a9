"""The data-source state machine: every transition, every refusal, every ignored event.

Size: one test module per source module (the state machine), one test per transition or refusal.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from datasource.domain import CompanyDomain, DataSource, OfferedGrant, RunStatus, State
from datasource.domain import events as ev
from datasource.domain.errors import InvalidState, NotConnected, NotCurrentGrant, StaleAuthorization

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
T2 = T0 + timedelta(minutes=10)
ENTITIES = ("TransactionLines", "GLAccounts")
DOMAIN = CompanyDomain(uuid.uuid4(), "Acme Holding", "anna@portal", T0)


def created(mode: str = "self") -> DataSource:
    return DataSource.create(datasource_id=uuid.uuid4(), domain=DOMAIN, domain_created=True,
                             mode=mode, requested_by="anna@portal",  # type: ignore[arg-type]
                             authorization_id=uuid.uuid4(), now=T0)


def offer(ds: DataSource, division: int = 101, grant_id: uuid.UUID | None = None) -> OfferedGrant:
    assert ds.pending is not None
    return OfferedGrant(ds.pending.authorization_id, grant_id or uuid.uuid4(), division,
                        f"Division {division}", "Jan Admin")


def authorize(ds: DataSource, division: int = 101, conflict: uuid.UUID | None = None,
              grant_id: uuid.UUID | None = None):  # type: ignore[no-untyped-def]
    return ds.authorized(offer(ds, division, grant_id), conflicting_datasource=conflict,
                         run_id=uuid.uuid4(), entities=ENTITIES, now=T1)


def connected(division: int = 101) -> DataSource:
    ds = created()
    authorize(ds, division)
    ds.events.clear()
    return ds


def recreating(from_revoked: bool = False, mode: str = "share") -> DataSource:
    ds = connected()
    if from_revoked:
        assert ds.binding
        ds.grant_revoked(ds.binding.grant_id, reason="withdrawn in Exact", now=T1)
    ds.request_recreate(authorization_id=uuid.uuid4(), mode=mode,  # type: ignore[arg-type]
                        requested_by="bob@portal", domain=DOMAIN, now=T2)
    ds.events.clear()
    return ds


def failed_create() -> DataSource:
    ds = created()
    assert ds.pending
    ds.authorization_failed(ds.pending.authorization_id, code="not_administrator",
                            reason="Jan is no administrator of division 101", now=T1)
    ds.events.clear()
    return ds


# -- create -----------------------------------------------------------------------------------

def test_create_awaits_authorization_and_asks_auth_for_a_create_grant() -> None:
    ds = created(mode="share")
    assert ds.state is State.AWAITING_AUTHORIZATION
    assert ds.binding is None
    assert ds.pending is not None and ds.pending.purpose == "create" and ds.pending.mode == "share"
    created_event, requested = ds.events
    assert isinstance(created_event, ev.DataSourceCreated) and created_event.company_domain_created
    assert isinstance(requested, ev.AuthorizationRequested)
    assert requested.purpose == "create" and requested.bound_division is None
    assert requested.authorization_id == ds.pending.authorization_id
    assert requested.company_domain_name == "Acme Holding"


def test_authorized_create_connects_binds_division_and_requests_the_initial_run() -> None:
    ds = created()
    ds.events.clear()
    grant = uuid.uuid4()
    run = authorize(ds, division=101, grant_id=grant)
    assert ds.state is State.CONNECTED
    assert ds.binding is not None
    assert (ds.binding.division, ds.binding.grant_id, ds.binding.authorized_by) == (101, grant, "Jan Admin")
    assert ds.pending is None
    assert run is not None and run.kind == "initial" and run.status is RunStatus.PENDING
    assert run.entities == ENTITIES and run.grant_id == grant and run.division == 101
    connected_event, run_requested = ds.events
    assert isinstance(connected_event, ev.DataSourceConnected) and connected_event.grant_id == grant
    assert isinstance(run_requested, ev.RunRequested)
    assert (run_requested.run_id, run_requested.kind, run_requested.entities) == (run.run_id, "initial", ENTITIES)


def test_authorized_create_for_a_division_already_in_the_domain_fails_and_names_the_offered_grant() -> None:
    ds = created()
    ds.events.clear()
    other = uuid.uuid4()
    grant = uuid.uuid4()
    run = authorize(ds, division=101, conflict=other, grant_id=grant)
    assert run is None
    assert ds.state is State.AUTHORIZATION_FAILED
    assert ds.binding is None and ds.pending is None
    assert ds.last_failure is not None and ds.last_failure.code == "division_already_connected"
    assert str(other) in ds.last_failure.reason and "101" in ds.last_failure.reason
    (failed,) = ds.events
    assert isinstance(failed, ev.AuthorizationFailed)
    assert (failed.state, failed.offered_grant_id, failed.offered_division) == ("authorization_failed", grant, 101)


def test_failed_create_authorization_keeps_the_reason() -> None:
    ds = created()
    ds.events.clear()
    assert ds.pending
    ds.authorization_failed(ds.pending.authorization_id, code="unsupported_region",
                            reason="Only start.exactonline.nl companies can be connected", now=T1)
    assert ds.state is State.AUTHORIZATION_FAILED
    assert ds.last_failure is not None and ds.last_failure.code == "unsupported_region"
    (failed,) = ds.events
    assert isinstance(failed, ev.AuthorizationFailed) and failed.state == "authorization_failed"
    assert failed.offered_grant_id is None


def test_recreate_after_a_failed_create_retries_the_create_authorization() -> None:
    ds = failed_create()
    new_auth = uuid.uuid4()
    ds.request_recreate(authorization_id=new_auth, mode="share", requested_by="bob@portal",
                        domain=DOMAIN, now=T2)
    assert ds.state is State.AWAITING_AUTHORIZATION
    assert ds.pending is not None and ds.pending.purpose == "create"
    assert ds.authorization_mode == "share"
    (requested,) = ds.events
    assert isinstance(requested, ev.AuthorizationRequested)
    assert (requested.authorization_id, requested.purpose, requested.bound_division) == (new_auth, "create", None)
    ds.events.clear()
    run = authorize(ds, division=202)
    assert ds.state is State.CONNECTED and run is not None
    assert ds.last_failure is None


# -- recreate ---------------------------------------------------------------------------------

def test_recreate_of_a_never_connected_data_source_is_refused() -> None:
    ds = created()
    ds.events.clear()
    with pytest.raises(NotConnected):
        ds.request_recreate(authorization_id=uuid.uuid4(), mode="self", requested_by="bob",
                            domain=DOMAIN, now=T1)
    assert ds.state is State.AWAITING_AUTHORIZATION and ds.events == []


def test_recreate_while_a_recreate_is_in_progress_is_refused() -> None:
    ds = recreating()
    pending = ds.pending
    with pytest.raises(InvalidState):
        ds.request_recreate(authorization_id=uuid.uuid4(), mode="self", requested_by="bob",
                            domain=DOMAIN, now=T2)
    assert ds.pending == pending and ds.events == []


@pytest.mark.parametrize("from_revoked", [False, True])
def test_recreate_asks_auth_for_the_bound_division_and_remembers_where_it_came_from(from_revoked: bool) -> None:
    ds = connected()
    if from_revoked:
        assert ds.binding
        ds.grant_revoked(ds.binding.grant_id, reason="withdrawn", now=T1)
    before = ds.state
    ds.events.clear()
    ds.request_recreate(authorization_id=uuid.uuid4(), mode="share", requested_by="bob@portal",
                        domain=DOMAIN, now=T2)
    assert ds.state is State.RECREATING
    assert ds.pending is not None and ds.pending.resume_state is before
    (requested,) = ds.events
    assert isinstance(requested, ev.AuthorizationRequested)
    assert (requested.purpose, requested.bound_division, requested.mode) == ("recreate", 101, "share")


@pytest.mark.parametrize("from_revoked", [False, True])
def test_recreate_for_the_same_division_is_accepted_and_replaces_the_grant(from_revoked: bool) -> None:
    ds = recreating(from_revoked=from_revoked)
    assert ds.binding
    old_grant, new_grant = ds.binding.grant_id, uuid.uuid4()
    run = authorize(ds, division=101, grant_id=new_grant)
    assert run is None  # nothing is re-imported unless asked
    assert ds.state is State.CONNECTED
    assert ds.binding.grant_id == new_grant and ds.binding.division == 101
    assert ds.authorization_mode == "share"
    assert ds.reauthorization is None and ds.pending is None
    (accepted,) = ds.events
    assert isinstance(accepted, ev.RecreateAccepted)
    assert (accepted.division, accepted.grant_id, accepted.previous_grant_id) == (101, new_grant, old_grant)


def test_recreate_accepted_with_the_same_grant_id_names_no_previous_grant_to_retire() -> None:
    ds = recreating()
    assert ds.binding
    authorize(ds, division=101, grant_id=ds.binding.grant_id)
    (accepted,) = ds.events
    assert isinstance(accepted, ev.RecreateAccepted) and accepted.previous_grant_id is None


@pytest.mark.parametrize(("from_revoked", "back_to"), [(False, State.CONNECTED),
                                                       (True, State.NEEDS_REAUTHORIZATION)])
def test_recreate_for_another_division_is_rejected_and_the_data_source_stays_as_it_was(
        from_revoked: bool, back_to: State) -> None:
    ds = recreating(from_revoked=from_revoked)
    binding, mode, reauth = ds.binding, ds.authorization_mode, ds.reauthorization
    offered_grant = uuid.uuid4()
    run = authorize(ds, division=999, grant_id=offered_grant)
    assert run is None
    assert ds.state is back_to
    assert ds.binding == binding and ds.authorization_mode == mode and ds.reauthorization == reauth
    assert ds.pending is None
    (rejected,) = ds.events
    assert isinstance(rejected, ev.RecreateRejected)
    assert (rejected.bound_division, rejected.offered_division, rejected.offered_grant_id) == (101, 999, offered_grant)
    assert "101" in rejected.reason and "999" in rejected.reason
    assert ds.last_rejection is not None and ds.last_rejection.offered_division == 999


@pytest.mark.parametrize(("from_revoked", "back_to"), [(False, State.CONNECTED),
                                                       (True, State.NEEDS_REAUTHORIZATION)])
def test_failed_recreate_authorization_returns_to_the_previous_state(from_revoked: bool, back_to: State) -> None:
    ds = recreating(from_revoked=from_revoked)
    binding = ds.binding
    assert ds.pending
    ds.authorization_failed(ds.pending.authorization_id, code="link_expired",
                            reason="The link expired", now=T2)
    assert ds.state is back_to and ds.binding == binding and ds.pending is None
    assert ds.last_failure is not None and ds.last_failure.purpose == "recreate"
    (failed,) = ds.events
    assert isinstance(failed, ev.AuthorizationFailed) and failed.state == back_to.value


# -- stale and duplicate authorization outcomes -----------------------------------------------

def test_an_authorization_outcome_for_another_authorization_is_stale_and_changes_nothing() -> None:
    ds = created()
    ds.events.clear()
    stranger = OfferedGrant(uuid.uuid4(), uuid.uuid4(), 101, "D", "x")
    with pytest.raises(StaleAuthorization):
        ds.authorized(stranger, conflicting_datasource=None, run_id=uuid.uuid4(), entities=ENTITIES, now=T1)
    with pytest.raises(StaleAuthorization):
        ds.authorization_failed(uuid.uuid4(), code="access_denied", reason="no", now=T1)
    with pytest.raises(StaleAuthorization):
        ds.link_issued(uuid.uuid4(), fetch_url="http://auth/x", expires_at=T2, now=T1)
    assert ds.state is State.AWAITING_AUTHORIZATION and ds.events == []


def test_a_second_authorized_for_the_same_create_is_stale_so_one_initial_run_only() -> None:
    ds = created()
    first = offer(ds)
    ds.authorized(first, conflicting_datasource=None, run_id=uuid.uuid4(), entities=ENTITIES, now=T1)
    ds.events.clear()
    with pytest.raises(StaleAuthorization):
        ds.authorized(first, conflicting_datasource=None, run_id=uuid.uuid4(), entities=ENTITIES, now=T2)
    assert ds.events == []


def test_a_failure_after_the_authorization_completed_is_stale() -> None:
    ds = created()
    assert ds.pending
    auth_id = ds.pending.authorization_id
    authorize(ds)
    with pytest.raises(StaleAuthorization):
        ds.authorization_failed(auth_id, code="exact_error", reason="late", now=T2)
    assert ds.state is State.CONNECTED


def test_link_issued_is_recorded_on_the_pending_authorization() -> None:
    ds = created(mode="share")
    assert ds.pending
    ds.link_issued(ds.pending.authorization_id, fetch_url="http://auth/internal/authorizations/x/link",
                   expires_at=T0 + timedelta(days=7), now=T1)
    assert ds.pending.link is not None
    assert ds.pending.link.fetch_url.endswith("/link") and ds.pending.link.issued_at == T1
    assert ds.state is State.AWAITING_AUTHORIZATION


# -- revoked grants ---------------------------------------------------------------------------

def test_revoking_the_current_grant_needs_reauthorization() -> None:
    ds = connected()
    assert ds.binding
    grant = ds.binding.grant_id
    ds.grant_revoked(grant, reason="refresh token refused", now=T2)
    assert ds.state is State.NEEDS_REAUTHORIZATION
    assert ds.reauthorization is not None and ds.reauthorization.reason == "refresh token refused"
    assert ds.binding.grant_id == grant  # the division stays bound
    (event,) = ds.events
    assert isinstance(event, ev.NeedsReauthorization) and (event.division, event.grant_id) == (101, grant)


def test_revoking_another_grant_or_the_same_one_twice_is_ignored() -> None:
    ds = connected()
    with pytest.raises(NotCurrentGrant):
        ds.grant_revoked(uuid.uuid4(), reason="x", now=T2)
    assert ds.binding
    ds.grant_revoked(ds.binding.grant_id, reason="x", now=T2)
    ds.events.clear()
    with pytest.raises(NotCurrentGrant):
        ds.grant_revoked(ds.binding.grant_id, reason="again", now=T2)
    assert ds.events == []
    never = created()
    with pytest.raises(NotCurrentGrant):
        never.grant_revoked(uuid.uuid4(), reason="x", now=T2)


def test_grant_revoked_during_a_recreate_makes_a_failed_recreate_end_in_needs_reauthorization() -> None:
    ds = recreating()
    assert ds.binding and ds.pending
    ds.grant_revoked(ds.binding.grant_id, reason="withdrawn", now=T2)
    assert ds.state is State.RECREATING
    assert ds.pending.resume_state is State.NEEDS_REAUTHORIZATION
    assert isinstance(ds.events[0], ev.NeedsReauthorization)
    ds.authorization_failed(ds.pending.authorization_id, code="access_denied", reason="denied", now=T2)
    assert ds.state is State.NEEDS_REAUTHORIZATION


def test_grant_revoked_during_a_recreate_then_accepted_ends_connected() -> None:
    ds = recreating()
    assert ds.binding
    ds.grant_revoked(ds.binding.grant_id, reason="withdrawn", now=T2)
    authorize(ds, division=101)
    assert ds.state is State.CONNECTED and ds.reauthorization is None


# -- re-import --------------------------------------------------------------------------------

def test_reimport_of_a_connected_data_source_requests_a_reimport_run() -> None:
    ds = connected()
    run_id = uuid.uuid4()
    run = ds.request_reimport(run_id=run_id, entities=("GLAccounts",), date_from=date(2025, 1, 1),
                              date_to=date(2025, 12, 31), now=T2)
    assert (run.run_id, run.kind, run.entities, run.status) == (run_id, "reimport", ("GLAccounts",), RunStatus.PENDING)
    (event,) = ds.events
    assert isinstance(event, ev.RunRequested)
    assert (event.kind, event.date_from, event.date_to) == ("reimport", date(2025, 1, 1), date(2025, 12, 31))
    assert ds.state is State.CONNECTED


def test_reimport_is_refused_unless_connected() -> None:
    with pytest.raises(NotConnected):
        created().request_reimport(run_id=uuid.uuid4(), entities=ENTITIES, date_from=None, date_to=None, now=T2)
    with pytest.raises(NotConnected):
        failed_create().request_reimport(run_id=uuid.uuid4(), entities=ENTITIES, date_from=None,
                                         date_to=None, now=T2)
    for ds in (recreating(), recreating(from_revoked=True)):
        with pytest.raises(InvalidState):
            ds.request_reimport(run_id=uuid.uuid4(), entities=ENTITIES, date_from=None, date_to=None, now=T2)
    revoked = connected()
    assert revoked.binding
    revoked.grant_revoked(revoked.binding.grant_id, reason="x", now=T2)
    revoked.events.clear()
    with pytest.raises(InvalidState, match="needs_reauthorization"):
        revoked.request_reimport(run_id=uuid.uuid4(), entities=ENTITIES, date_from=None, date_to=None, now=T2)
    assert revoked.events == []
