"""Authorization sessions: links, the browser binding, the callback and the outcomes."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from auth.domain.errors import ForgedState, LinkExpired, LinkInvalid, LinkRevoked, LinkUsed, WrongStep
from auth.domain.events import Authorized, Failed, LinkIssued
from auth.domain.exact import DivisionChoice, ExactUser, ExpectedCompany
from auth.domain.model import AuthorizationSession, Status
from auth.domain.tokens import TokenSet, sha256_hex

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOKEN = "the-link-token"
USER = ExactUser(uuid.uuid4(), "anna.admin@demo.nl", "Anna de Vries", 100001)
DIV = DivisionChoice(100001, "Bakkerij De Molen B.V.")


def session(purpose: str = "create", expected: ExpectedCompany | None = None
            ) -> AuthorizationSession:
    return AuthorizationSession.open(expected=expected,
        link_nonce="n", link_token_sha256=sha256_hex(TOKEN),
        link_expires_at=NOW + timedelta(days=7), now=NOW,
        authorization_id=uuid.uuid4(), datasource_id=uuid.uuid4(), correlation_id=uuid.uuid4(),
        purpose=purpose, mode="share", company_domain_id=uuid.uuid4(),
        company_domain_name="Bakkerij Groep", requested_by="maria", bound_division=None)


def started(s: AuthorizationSession | None = None, browser: str = "b1") -> AuthorizationSession:
    s = s or session()
    assert s.start_sign_in(token_sha256=sha256_hex(TOKEN), browser_sha256=browser,
                           state_sha256="st", region="NL", region_supported=True, refusal="",
                           now=NOW)
    return s


def tokens() -> TokenSet:
    return TokenSet.issued("SECRET-ACCESS", "SECRET-REFRESH", 600, NOW)


def test_opening_a_session_records_the_issued_link() -> None:
    s = session()
    assert s.status is Status.OPEN
    assert s.events == [LinkIssued(s.authorization_id, "create", "share", NOW + timedelta(days=7))]


@pytest.mark.parametrize(("token", "when", "error"), [
    ("another-token", NOW, LinkInvalid),
    (TOKEN, NOW + timedelta(days=7), LinkExpired),
])
def test_a_wrong_or_expired_link_is_refused(token: str, when: datetime, error: type) -> None:
    with pytest.raises(error):
        session().check_link(sha256_hex(token), when, None)


def test_starting_the_sign_in_binds_the_link_to_one_browser() -> None:
    s = started()
    assert (s.status, s.browser_sha256, s.state_sha256, s.link_used_at) == (
        Status.SIGNING_IN, "b1", "st", NOW)
    s.check_link(sha256_hex(TOKEN), NOW, "b1")
    with pytest.raises(LinkUsed):
        s.check_link(sha256_hex(TOKEN), NOW, "b2")
    with pytest.raises(LinkUsed):
        s.check_link(sha256_hex(TOKEN), NOW, None)


def test_another_instance_chosen_up_front_ends_the_authorization() -> None:
    s = session()
    ok = s.start_sign_in(token_sha256=sha256_hex(TOKEN), browser_sha256="b1", state_sha256="st",
                         region="BE", region_supported=False, refusal="Belgium is not supported",
                         now=NOW)
    assert not ok
    assert (s.status, s.failure_code, s.region, s.state_sha256) == (
        Status.FAILED, "unsupported_region", "BE", None)
    assert s.events[-1] == Failed(s.authorization_id, "create", "unsupported_region",
                                  "Belgium is not supported")
    assert s.owned_by("b1")
    with pytest.raises(LinkUsed):
        s.check_link(sha256_hex(TOKEN), NOW, "b1")


@pytest.mark.parametrize(("state", "browser"), [("forged", "b1"), ("st", "b2"), ("st", None)])
def test_a_callback_needs_the_state_and_the_browser_that_started(state: str,
                                                                  browser: str | None) -> None:
    s = started()
    with pytest.raises(ForgedState):
        s.accept_callback(state, browser)
    assert s.state_sha256 == "st"


def test_a_state_is_used_once() -> None:
    s = started()
    s.accept_callback("st", "b1")
    with pytest.raises(ForgedState):
        s.accept_callback("st", "b1")


def test_one_division_is_chosen_by_itself_and_connecting_records_exact_authorized() -> None:
    s = started()
    s.accept_callback("st", "b1")
    chosen = s.signed_in(USER, (DIV,), tokens(), NOW)
    assert chosen == DIV
    grant_id = uuid.uuid4()
    s.connect(grant_id, DIV, NOW)
    assert (s.status, s.pending_tokens, s.grant_id) == (Status.CONNECTED, None, grant_id)
    assert s.events[-1] == Authorized(s.authorization_id, "create", grant_id, 100001,
                                      "Bakkerij De Molen B.V.", USER.user_id, USER.user_name, NOW)


def test_several_divisions_wait_for_a_choice_among_them() -> None:
    s = started()
    other = DivisionChoice(200001, "Van Dijk Holding B.V.")
    assert s.signed_in(USER, (DIV, other), tokens(), NOW) is None
    assert s.status is Status.CHOOSING
    with pytest.raises(WrongStep):
        s.choose(999, "b1")
    with pytest.raises(ForgedState):
        s.choose(200001, "b2")
    assert s.choose(200001, "b1") == other


def test_no_division_granted_fails_with_no_division() -> None:
    s = started()
    assert s.signed_in(USER, (), tokens(), NOW) is None
    assert (s.status, s.failure_code) == (Status.FAILED, "no_division")


def test_expiry_and_revocation_close_only_open_sessions() -> None:
    s = session()
    assert not s.expire(NOW)
    assert s.expire(NOW + timedelta(days=7))
    assert s.failure_code == "link_expired"
    assert not s.revoke(NOW)
    with pytest.raises(LinkExpired):
        s.link_fetchable(NOW)
    r = session()
    assert r.revoke(NOW)
    with pytest.raises(LinkRevoked):
        r.check_link(sha256_hex(TOKEN), NOW, None)


def test_a_finished_session_cannot_fail_again() -> None:
    s = started()
    s.fail("access_denied", "declined", NOW)
    with pytest.raises(WrongStep):
        s.fail("access_denied", "declined", NOW)
    with pytest.raises(LinkUsed):
        s.link_fetchable(NOW)


def test_restarting_is_for_the_same_browser_only() -> None:
    s = started()
    with pytest.raises(ForgedState):
        s.restart_sign_in(browser_sha256="b2", state_sha256="st2", now=NOW)
    s.restart_sign_in(browser_sha256="b1", state_sha256="st2", now=NOW)
    assert s.state_sha256 == "st2"
    with pytest.raises(WrongStep):
        session().restart_sign_in(browser_sha256="b1", state_sha256="x", now=NOW)


def test_repr_shows_no_secret() -> None:
    s = started()
    s.signed_in(USER, (DIV, DivisionChoice(2, "x")), tokens(), NOW)
    shown = repr(s) + repr(s.pending_tokens)
    assert "SECRET" not in shown and "link_nonce" not in shown and "browser_sha256" not in shown


def test_a_link_for_an_expected_division_refuses_another_company() -> None:
    s = started(session(expected=ExpectedCompany(division=100001)))
    other = DivisionChoice(200001, "Van Dijk Holding B.V.")
    assert s.signed_in(USER, (other,), tokens(), NOW) is None
    assert (s.status, s.failure_code) == (Status.FAILED, "unexpected_company")
    assert "division 100001" in (s.failure_reason or "")
    assert isinstance(s.events[-1], Failed) and s.events[-1].code == "unexpected_company"


def test_a_link_for_an_expected_company_offers_only_that_company() -> None:
    s = started(session(expected=ExpectedCompany(vat_number="NL 0012.34567.B01")))
    ours = DivisionChoice(100001, "Bakkerij De Molen B.V.", "nl001234567b01")
    other = DivisionChoice(200001, "Van Dijk Holding B.V.", "NL999999999B01")
    assert s.signed_in(USER, (other, ours), tokens(), NOW) == ours
    assert s.choices == (ours,)
    with pytest.raises(WrongStep):
        s.choose(200001, "b1")
    s.connect(uuid.uuid4(), ours, NOW)
    event = s.events[-1]
    assert isinstance(event, Authorized)
    assert (event.company_verified, event.vat_number) == (True, "nl001234567b01")


def test_a_division_without_a_vat_number_never_matches_an_expected_vat_number() -> None:
    expected = ExpectedCompany(vat_number="NL001234567B01")
    assert not expected.matches(DivisionChoice(1, "x", None))
    assert not ExpectedCompany(division=1, vat_number="NL1").matches(DivisionChoice(1, "x", "NL2"))
    assert ExpectedCompany(division=1).matches(DivisionChoice(1, "x"))
