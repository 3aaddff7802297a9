"""Use cases on in-memory fakes of the ports: one transaction each, events in the outbox,
duplicates are no-ops, nothing is kept when a step fails.

Size: one test module per source module (the use cases), a few tests per command and event;
the fakes of the ports are in conftest.
"""

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType

import pytest

import contracts as c
from auth.adapters.signing import ItsDangerousSigner
from auth.domain.errors import (
    ExactRefused,
    ExactRejected,
    ExactTooEarly,
    ExactUnavailable,
    GrantGone,
    LinkRevoked,
    RefreshNotYetAllowed,
)
from auth.domain.exact import DivisionChoice, ExactUser
from auth.domain.grants import Grant, GrantStatus
from auth.domain.model import AuthorizationSession, Status
from auth.domain.tokens import KeepAlivePolicy, RefreshPolicy, TokenSet
from auth.ports import Config, Dependencies, RegionInfo
from auth.usecases import authorizations, keepalive, recreate, signin, tokens

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
USER = ExactUser(uuid.uuid4(), "anna.admin@demo.nl", "Anna", 100001)


@dataclass
class Store:
    sessions: dict[uuid.UUID, AuthorizationSession] = field(default_factory=dict)
    grants: dict[uuid.UUID, Grant] = field(default_factory=dict)
    inbox: set[tuple[str, uuid.UUID]] = field(default_factory=set)
    outbox: list[c.Message] = field(default_factory=list)
    commits: int = 0


class FakeSessions:
    def __init__(self, data: dict[uuid.UUID, AuthorizationSession]) -> None:
        self.data = data

    async def add(self, s: AuthorizationSession) -> None:
        self.data[s.authorization_id] = s

    async def get(self, i: uuid.UUID, *, for_update: bool = False) -> AuthorizationSession | None:
        return self.data.get(i)

    async def save(self, s: AuthorizationSession) -> None:
        self.data[s.authorization_id] = s

    async def open_for_datasource(self, d: uuid.UUID) -> list[AuthorizationSession]:
        return [s for s in self.data.values() if s.datasource_id == d and s.is_open]

    async def expired(self, now: datetime, limit: int) -> list[AuthorizationSession]:
        return [s for s in self.data.values() if s.is_open and s.link_expires_at <= now][:limit]


class FakeGrants:
    def __init__(self, data: dict[uuid.UUID, Grant]) -> None:
        self.data = data

    async def add(self, g: Grant) -> None:
        self.data[g.grant_id] = g

    async def get(self, i: uuid.UUID, *, for_update: bool = False) -> Grant | None:
        return self.data.get(i)

    async def save(self, g: Grant) -> None:
        self.data[g.grant_id] = g

    async def idle(self, refreshed_before: datetime, limit: int) -> list[uuid.UUID]:
        due = sorted((g for g in self.data.values() if g.usable and g.tokens is not None
                      and g.tokens.refresh_issued_at < refreshed_before),
                     key=lambda g: g.tokens.refresh_issued_at if g.tokens else NOW)
        return [g.grant_id for g in due][:limit]


class FakeUnitOfWork:
    """Works on a copy of the store; only commit() writes it back."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.committed = False

    async def __aenter__(self) -> "FakeUnitOfWork":
        self.work = copy.deepcopy(self.store)
        self.sessions = FakeSessions(self.work.sessions)
        self.grants = FakeGrants(self.work.grants)
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None
                        ) -> None:
        return None

    async def first_delivery(self, consumer: str, message_id: uuid.UUID) -> bool:
        if (consumer, message_id) in self.work.inbox:
            return False
        self.work.inbox.add((consumer, message_id))
        return True

    async def publish(self, topic: str, *messages: c.Message) -> None:
        assert topic == c.AUTH_EVENTS
        self.work.outbox.extend(messages)

    async def commit(self) -> None:
        self.committed = True
        self.work.commits = self.store.commits + 1
        self.store.__dict__.update(copy.deepcopy(self.work).__dict__)


@dataclass
class FakeExact:
    roles: set[int] = field(default_factory=lambda: {1})
    rights: bool = True
    divisions_: tuple[DivisionChoice, ...] = (DivisionChoice(100001, "Bakkerij"),)
    refresh_error: Exception | None = None
    calls: list[str] = field(default_factory=list)
    issued: int = 0
    expired: set[str] = field(default_factory=set)
    """Access tokens Exact answers 401 to."""

    def authorization_url(self, region: str, state: str) -> str:
        return f"https://exact.test/api/oauth2/auth?state={state}"

    def _tokens(self) -> TokenSet:
        self.issued += 1
        return TokenSet.issued(f"A{self.issued}", f"R{self.issued}", 600, clock.now)

    async def exchange_code(self, region: str, code: str) -> TokenSet:
        self.calls.append("exchange")
        return self._tokens()

    async def refresh(self, region: str, refresh_token: str) -> TokenSet:
        self.calls.append(f"refresh:{refresh_token}")
        if self.refresh_error:
            raise self.refresh_error
        return self._tokens()

    async def current_user(self, region: str, access_token: str) -> ExactUser:
        return USER

    async def divisions(self, region: str, access_token: str, candidates: Sequence[int]
                        ) -> tuple[DivisionChoice, ...]:
        return self.divisions_

    async def role_ids(self, region: str, access_token: str, division: int,
                       user_id: uuid.UUID) -> set[int]:
        self.calls.append("roles")
        if access_token in self.expired:
            raise ExactRejected("Exact Online answered 401", 401)
        return self.roles

    async def has_rights(self, region: str, access_token: str, division: int, endpoint: str
                         ) -> bool:
        self.calls.append("rights")
        return self.rights


class Clock:
    now = NOW

    def __call__(self) -> datetime:
        return self.now


clock = Clock()


@pytest.fixture
def world() -> tuple[Store, FakeExact, Dependencies]:
    clock.now = NOW
    store, exact = Store(), FakeExact()
    deps = Dependencies(
        uow=lambda: FakeUnitOfWork(store), clock=clock, signer=ItsDangerousSigner("k"),
        oauth=exact, exact=exact,
        config=Config(link_ttl_seconds={"share": 7 * 86400, "self": 86400},
                      admin_role_ids=(1,), rights_endpoints=("a", "b"),
                      regions=(RegionInfo("NL", "the Netherlands", "start.exactonline.nl", True),
                               RegionInfo("BE", "Belgium", "start.exactonline.be", False)),
                      refresh=RefreshPolicy(30), keepalive=KeepAlivePolicy(),
                      public_base_url="https://auth.test",
                      internal_base_url="http://auth:8000"))
    return store, exact, deps


def request(purpose: str = "create", datasource_id: uuid.UUID | None = None,
            expected: c.ExpectedCompany | None = None) -> c.AuthorizationRequested:
    return c.AuthorizationRequested.create(
        datasource_id=datasource_id or uuid.uuid4(),
        payload=c.AuthorizationRequestedPayload(
            authorization_id=uuid.uuid4(), purpose=purpose, mode="share",
            company_domain_id=uuid.uuid4(), company_domain_name="Bakkerij Groep",
            requested_by="maria", bound_division=100001 if purpose == "recreate" else None,
            expected_company=expected))


async def test_a_request_opens_a_session_and_announces_where_its_link_is(world) -> None:
    store, _exact, deps = world
    message = request()
    assert await authorizations.open_authorization(deps, message)
    (issued,) = store.outbox
    assert isinstance(issued, c.AuthorizationLinkIssued)
    assert issued.payload.fetch_url == (
        f"http://auth:8000/internal/authorizations/{message.payload.authorization_id}/link")
    assert issued.payload.expires_at == NOW + timedelta(days=7)
    assert (issued.correlation_id, issued.datasource_id) == (message.correlation_id,
                                                             message.datasource_id)
    link = await authorizations.link_for_portal(deps, message.payload.authorization_id)
    assert link.url.startswith("https://auth.test/share/") and link.mode == "share"
    assert link.url.rsplit("/", 1)[1] not in issued.to_bytes().decode()


async def test_a_redelivered_request_changes_nothing(world) -> None:
    store, _exact, deps = world
    message = request()
    await authorizations.open_authorization(deps, message)
    assert not await authorizations.open_authorization(deps, message)
    assert len(store.outbox) == 1 and store.commits == 1


async def test_a_newer_request_revokes_the_open_link_of_the_same_data_source(world) -> None:
    store, _exact, deps = world
    first = request()
    await authorizations.open_authorization(deps, first)
    await authorizations.open_authorization(deps, request(datasource_id=first.datasource_id))
    failed = [m for m in store.outbox if isinstance(m, c.AuthorizationFailed)]
    assert [(f.payload.authorization_id, f.payload.reason_code) for f in failed] == [
        (first.payload.authorization_id, "link_revoked")]
    with pytest.raises(LinkRevoked):
        await authorizations.link_for_portal(deps, first.payload.authorization_id)


async def _sign_in(deps: Dependencies, purpose: str = "create",
                   expected: c.ExpectedCompany | None = None,
                   datasource_id: uuid.UUID | None = None) -> c.AuthorizationRequested:
    message = request(purpose, datasource_id, expected=expected)
    await authorizations.open_authorization(deps, message)
    link = await authorizations.link_for_portal(deps, message.payload.authorization_id)
    started = await signin.start_sign_in(deps, link.url.rsplit("/", 1)[1], "browser", "NL")
    state = started.redirect_url.split("state=")[1]
    await signin.callback(deps, state=state, code="code", error=None, browser="browser")
    return message


async def test_an_administrator_with_one_division_is_connected(world) -> None:
    store, exact, deps = world
    message = await _sign_in(deps)
    authorized = store.outbox[-1]
    assert isinstance(authorized, c.ExactAuthorized)
    grant = store.grants[authorized.payload.grant_id]
    assert (grant.status, grant.division, grant.current_tokens().access_token) == (
        GrantStatus.ACTIVE, 100001, "A1")
    assert exact.calls == ["exchange", "roles", "rights", "rights"]
    assert store.sessions[message.payload.authorization_id].status is Status.CONNECTED


async def test_a_recreate_grant_stays_pending_until_the_datasource_decides(world) -> None:
    store, _exact, deps = world
    message = await _sign_in(deps, "recreate")
    new = store.outbox[-1].payload.grant_id
    assert store.grants[new].status is GrantStatus.PENDING
    decision = message.caused(c.RecreateRejected, c.RecreateRejectedPayload(
        bound_division=100001, offered_division=200001, offered_grant_id=new, reason="other"))
    await recreate.recreate_rejected(deps, decision)
    await recreate.recreate_rejected(deps, decision)
    assert (store.grants[new].status, store.grants[new].tokens) == (GrantStatus.DISCARDED, None)


async def test_a_grant_the_datasource_refuses_is_discarded(world) -> None:
    store, _exact, deps = world
    message = await _sign_in(deps)
    offered = store.outbox[-1].payload.grant_id
    refusal = message.caused(c.DataSourceAuthorizationFailed, c.DataSourceAuthorizationFailedPayload(
        authorization_id=message.payload.authorization_id, purpose="create",
        reason_code="division_already_connected", reason="already connected",
        state="authorization_failed", offered_division=100001, offered_grant_id=offered))
    await recreate.offered_grant_refused(deps, refusal)
    await recreate.offered_grant_refused(deps, refusal)
    assert (store.grants[offered].status, store.grants[offered].tokens) == (GrantStatus.DISCARDED, None)


async def test_a_user_without_the_role_is_refused_without_asking_for_rights(world) -> None:
    store, exact, deps = world
    exact.roles = {20}
    await _sign_in(deps)
    failed = store.outbox[-1]
    assert isinstance(failed, c.AuthorizationFailed)
    assert failed.payload.reason_code == "not_administrator"
    assert "rights" not in exact.calls and store.grants == {}


async def test_an_unsupported_instance_is_refused_before_exact_is_asked(world) -> None:
    store, exact, deps = world
    message = request()
    await authorizations.open_authorization(deps, message)
    link = await authorizations.link_for_portal(deps, message.payload.authorization_id)
    started = await signin.start_sign_in(deps, link.url.rsplit("/", 1)[1], "browser", "BE")
    assert started.redirect_url is None and exact.calls == []
    assert store.outbox[-1].payload.reason_code == "unsupported_region"
    assert "start.exactonline.be" in store.outbox[-1].payload.reason


async def _grant(world) -> tuple[Store, FakeExact, Dependencies, uuid.UUID]:
    store, exact, deps = world
    await _sign_in(deps)
    return store, exact, deps, store.outbox[-1].payload.grant_id


async def test_a_fresh_token_is_served_without_asking_exact(world) -> None:
    _store, exact, deps, grant_id = await _grant(world)
    token = await tokens.access_token(deps, grant_id)
    assert (token.access_token, token.division) == ("A1", 100001)
    assert not any(call.startswith("refresh") for call in exact.calls)


async def test_a_due_token_is_refreshed_and_the_rotated_refresh_token_kept(world) -> None:
    store, exact, deps, grant_id = await _grant(world)
    clock.now = NOW + timedelta(seconds=575)
    token = await tokens.access_token(deps, grant_id)
    assert token.access_token == "A2"
    assert store.grants[grant_id].current_tokens().refresh_token == "R2"
    clock.now = NOW + timedelta(seconds=1150)
    await tokens.access_token(deps, grant_id)
    assert [c for c in exact.calls if c.startswith("refresh")] == ["refresh:R1", "refresh:R2"]


async def test_a_refused_refresh_revokes_the_grant_and_emits_grant_revoked(world) -> None:
    store, exact, deps, grant_id = await _grant(world)
    exact.refresh_error = ExactRefused("unauthorized_client: Old refresh token used.")
    clock.now = NOW + timedelta(seconds=575)
    with pytest.raises(GrantGone, match="Old refresh token used"):
        await tokens.access_token(deps, grant_id)
    revoked = store.outbox[-1]
    assert isinstance(revoked, c.GrantRevoked) and revoked.payload.grant_id == grant_id
    with pytest.raises(GrantGone):
        await tokens.access_token(deps, grant_id)
    assert len([c for c in exact.calls if c.startswith("refresh")]) == 1


async def test_an_unavailable_token_endpoint_keeps_the_grant_as_it_was(world) -> None:
    store, exact, deps, grant_id = await _grant(world)
    exact.refresh_error = ExactUnavailable("503")
    clock.now = NOW + timedelta(seconds=575)
    commits = store.commits
    with pytest.raises(ExactUnavailable):
        await tokens.access_token(deps, grant_id)
    assert store.commits == commits
    assert store.grants[grant_id].current_tokens().refresh_token == "R1"


async def test_a_too_early_answer_is_kept_and_respected_without_asking_again(world) -> None:
    store, exact, deps, grant_id = await _grant(world)
    exact.refresh_error = ExactTooEarly("570")
    clock.now = NOW + timedelta(seconds=575)  # our rule says yes, Exact says no
    with pytest.raises(RefreshNotYetAllowed) as waiting:
        await tokens.access_token(deps, grant_id)
    assert waiting.value.retry_after == 10
    with pytest.raises(RefreshNotYetAllowed):
        await tokens.access_token(deps, grant_id)
    assert len([c for c in exact.calls if c.startswith("refresh")]) == 1
    assert store.grants[grant_id].current_tokens().refresh_token == "R1"
    exact.refresh_error = None
    clock.now = NOW + timedelta(seconds=585)
    assert (await tokens.access_token(deps, grant_id)).access_token == "A2"


async def test_a_rejected_token_is_refreshed_at_once_when_exact_allows(world) -> None:
    from auth.domain.tokens import sha256_hex

    _store, exact, deps, grant_id = await _grant(world)
    assert await tokens.report_rejected(deps, grant_id, sha256_hex("A1"))
    clock.now = NOW + timedelta(seconds=100)
    assert (await tokens.access_token(deps, grant_id)).access_token == "A2"
    assert len([c for c in exact.calls if c.startswith("refresh")]) == 1


async def test_a_rejected_token_exact_will_not_replace_yet_waits_until_it_allows(world) -> None:
    from auth.domain.tokens import sha256_hex

    _store, exact, deps, grant_id = await _grant(world)
    assert await tokens.report_rejected(deps, grant_id, sha256_hex("A1"))
    exact.refresh_error = ExactTooEarly("570")
    clock.now = NOW + timedelta(seconds=100)
    with pytest.raises(RefreshNotYetAllowed) as waiting:
        await tokens.access_token(deps, grant_id)
    assert waiting.value.retry_after == 470  # the 570 s rule of the token Exact issued
    exact.refresh_error = None
    clock.now = NOW + timedelta(seconds=570)
    assert (await tokens.access_token(deps, grant_id)).access_token == "A2"
    assert len([c for c in exact.calls if c.startswith("refresh")]) == 2


async def test_a_rejected_token_of_a_withdrawn_grant_is_revoked_at_once(world) -> None:
    from auth.domain.tokens import sha256_hex

    store, exact, deps, grant_id = await _grant(world)
    assert await tokens.report_rejected(deps, grant_id, sha256_hex("A1"))
    exact.refresh_error = ExactRefused("invalid_grant: The authorization was withdrawn")
    clock.now = NOW + timedelta(seconds=100)  # long before the 570 s rule would allow
    with pytest.raises(GrantGone):
        await tokens.access_token(deps, grant_id)
    assert isinstance(store.outbox[-1], c.GrantRevoked)


async def test_an_accepted_recreate_retires_the_previous_grant(world) -> None:
    store, _exact, deps, old = await _grant(world)
    message = await _sign_in(deps, "recreate", datasource_id=store.grants[old].datasource_id)
    new = store.outbox[-1].payload.grant_id
    await recreate.recreate_accepted(deps, message.caused(c.RecreateAccepted, c.RecreateAcceptedPayload(
        division=100001, grant_id=new, previous_grant_id=old)))
    assert store.grants[new].status is GrantStatus.ACTIVE
    assert (store.grants[old].status, store.grants[old].tokens) == (GrantStatus.RETIRED, None)


async def test_a_recreate_decision_about_another_data_sources_grants_retires_nothing(world) -> None:
    store, _exact, deps, victim = await _grant(world)
    message = await _sign_in(deps, "recreate")  # another data source
    new = store.outbox[-1].payload.grant_id
    for grant_id in (new, uuid.uuid4()):
        await recreate.recreate_accepted(deps, message.caused(
            c.RecreateAccepted, c.RecreateAcceptedPayload(division=100001, grant_id=grant_id,
                                                          previous_grant_id=victim)))
    assert store.grants[victim].status is GrantStatus.ACTIVE


async def test_expired_links_are_closed_with_link_expired(world) -> None:
    store, _exact, deps = world
    message = request()
    await authorizations.open_authorization(deps, message)
    assert await authorizations.expire_links(deps) == 0
    clock.now = NOW + timedelta(days=7)
    assert await authorizations.expire_links(deps) == 1
    assert store.outbox[-1].payload.reason_code == "link_expired"
    assert await authorizations.expire_links(deps) == 0




async def test_an_idle_grant_is_refreshed_a_week_before_its_refresh_token_expires(world) -> None:
    store, _exact, deps, grant_id = await _grant(world)
    clock.now = NOW + timedelta(days=22)
    assert (await keepalive.keep_alive(deps)).outcomes == {}  # 8 days left: not yet
    clock.now = NOW + timedelta(days=23, seconds=1)
    assert (await keepalive.keep_alive(deps)).outcomes == {"refreshed": [grant_id]}
    assert store.grants[grant_id].current_tokens().refresh_token == "R2"
    assert (await keepalive.keep_alive(deps)).outcomes == {}  # alive for 30 more days


async def test_an_idle_grant_that_cannot_be_refreshed_warns_and_is_tried_again(world) -> None:
    store, exact, deps, grant_id = await _grant(world)
    exact.refresh_error = ExactUnavailable("the token endpoint answered 503")
    clock.now = NOW + timedelta(days=24)
    assert (await keepalive.keep_alive(deps)).outcomes == {"failed": [grant_id]}
    warning = store.outbox[-1]
    assert isinstance(warning, c.GrantExpiring) and warning.payload.grant_id == grant_id
    assert warning.payload.refresh_expires_at == NOW + timedelta(days=30)
    assert "503" in warning.payload.reason
    exact.refresh_error = None
    assert (await keepalive.keep_alive(deps)).outcomes == {"refreshed": [grant_id]}


async def test_an_idle_grant_exact_refuses_is_revoked(world) -> None:
    store, exact, deps, grant_id = await _grant(world)
    exact.refresh_error = ExactRefused("invalid_grant: withdrawn")
    clock.now = NOW + timedelta(days=24)
    assert (await keepalive.keep_alive(deps)).outcomes == {"refused": [grant_id]}
    assert isinstance(store.outbox[-1], c.GrantRevoked)
    assert store.grants[grant_id].status is GrantStatus.REVOKED


async def test_a_token_that_runs_out_during_the_administrator_checks_is_renewed_once(world
                                                                                   ) -> None:
    store, exact, deps = world
    exact.expired = {"A1"}  # slow, retried answers: the sign-in's token expired meanwhile
    message = await _sign_in(deps)
    authorized = store.outbox[-1]
    assert isinstance(authorized, c.ExactAuthorized), authorized
    assert message.payload.authorization_id == authorized.payload.authorization_id
    assert exact.calls.count("roles") == 2 and "refresh:R1" in exact.calls
    grant = store.grants[authorized.payload.grant_id]
    assert grant.current_tokens().access_token == "A2"


async def test_a_link_for_another_company_connects_nothing(world) -> None:
    store, exact, deps = world
    await _sign_in(deps, expected=c.ExpectedCompany(division=200001))
    failed = store.outbox[-1]
    assert isinstance(failed, c.AuthorizationFailed)
    assert failed.payload.reason_code == "unexpected_company"
    assert store.grants == {} and "roles" not in exact.calls


async def test_a_link_for_the_expected_company_connects_it_verified(world) -> None:
    store, _exact, deps = world
    await _sign_in(deps, expected=c.ExpectedCompany(division=100001))
    authorized = store.outbox[-1]
    assert isinstance(authorized, c.ExactAuthorized) and authorized.payload.company_verified


async def test_a_disowned_grant_hands_out_no_token_any_more(world) -> None:
    store, _exact, deps = world
    message = await _sign_in(deps)
    grant_id = store.outbox[-1].payload.grant_id
    disowned = message.caused(c.DataSourceDisowned, c.DataSourceDisownedPayload(
        division=100001, division_name="Bakkerij", grant_id=grant_id, disowned_by="maria",
        reason="not my company", state="authorization_failed"))
    await recreate.grant_disowned(deps, disowned)
    assert (store.grants[grant_id].status, store.grants[grant_id].tokens) == (
        GrantStatus.DISCARDED, None)
