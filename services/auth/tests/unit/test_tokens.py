"""When to refresh (the 570 s rule, taken from each token's lifetime) and the lifecycle of
a grant."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from auth.domain.errors import GrantGone
from auth.domain.events import GrantRevoked
from auth.domain.grants import Grant, GrantStatus
from auth.domain.tokens import (
    Action,
    RefreshPolicy,
    TokenSet,
    decide,
    sha256_hex,
    too_early_until,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = RefreshPolicy(margin=30)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def tokens(access: str = "a1") -> TokenSet:
    return TokenSet.issued(access, "r1", 600, T0)


@pytest.mark.parametrize(("seconds", "rejected", "action"), [
    (0, False, Action.USE),
    (569, False, Action.USE),
    (570, False, Action.REFRESH),  # 30 s left: Exact allows a new token exactly now
    (700, False, Action.REFRESH),  # expired long ago
    (100, True, Action.REFRESH),  # refused: ask Exact at once, it decides
    (570, True, Action.REFRESH),
])
def test_refresh_only_when_due_and_allowed(seconds: int, rejected: bool, action: Action) -> None:
    assert decide(tokens(), at(seconds), POLICY, rejected).action is action


def test_a_too_early_answer_makes_callers_wait_and_says_how_long() -> None:
    until = too_early_until(tokens(), at(100), POLICY)
    decision = decide(tokens(), at(100), POLICY, rejected=True, not_before=until)
    assert (decision.action, decision.wait_seconds) == (Action.WAIT, 470)
    assert decide(tokens(), at(570), POLICY, True, until).action is Action.REFRESH


@pytest.mark.parametrize(("lifetime", "earliest"), [(600, 570), (60, 30), (40, 10), (20, 0)])
def test_the_earliest_refresh_follows_the_tokens_own_lifetime(lifetime: int, earliest: int
                                                             ) -> None:
    short = TokenSet.issued("a", "r", lifetime, T0)
    assert POLICY.earliest(short) == at(earliest)
    assert decide(short, at(earliest - 1), POLICY).action is Action.USE
    assert decide(short, at(max(earliest, lifetime - 30)), POLICY).action is Action.REFRESH


def test_an_explicit_interval_overrides_the_tokens_lifetime() -> None:
    policy = RefreshPolicy(margin=30, min_interval=45)
    assert policy.earliest(TokenSet.issued("a", "r", 60, T0)) == at(45)
    assert decide(TokenSet.issued("a", "r", 60, T0), at(40), policy).action is Action.USE


def grant(status: GrantStatus = GrantStatus.ACTIVE) -> Grant:
    return Grant(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), 100001, "Bakkerij",
                 uuid.uuid4(), "anna", "NL", status, tokens(), T0)


def test_rotation_replaces_the_tokens_and_clears_a_rejection() -> None:
    g = grant()
    assert g.report_rejected(sha256_hex("a1").upper())
    g.rotate(TokenSet.issued("a2", "r2", 600, at(570)))
    assert (g.current_tokens().refresh_token, g.refresh_requested) == ("r2", False)


def test_only_the_current_token_can_be_reported_rejected() -> None:
    g = grant()
    assert not g.report_rejected(sha256_hex("an-old-token"))
    assert not g.refresh_requested


def test_revoking_drops_the_tokens_and_records_grant_revoked_once() -> None:
    g = grant()
    g.revoke("Old refresh token used.")
    g.revoke("again")
    assert g.status is GrantStatus.REVOKED and g.tokens is None
    assert g.events == [GrantRevoked(g.grant_id, 100001, "Old refresh token used.")]
    with pytest.raises(GrantGone, match="Old refresh token used"):
        g.token_decision(T0, POLICY)


def test_acceptance_activates_a_pending_grant_and_retires_the_old_one() -> None:
    new, old = grant(GrantStatus.PENDING), grant()
    new.accept()
    old.retire()
    assert new.status is GrantStatus.ACTIVE and new.usable
    assert old.status is GrantStatus.RETIRED and old.tokens is None
    with pytest.raises(GrantGone, match="replaced"):
        old.current_tokens()


def test_rejection_discards_the_offered_grant_with_the_reason() -> None:
    offered = grant(GrantStatus.PENDING)
    offered.discard("another company")
    assert (offered.status, offered.tokens, offered.status_reason) == (
        GrantStatus.DISCARDED, None, "another company")
    offered.accept()  # a late acceptance does not bring it back
    assert offered.status is GrantStatus.DISCARDED


def test_token_repr_hides_the_tokens() -> None:
    assert "a1" not in repr(tokens()) and "r1" not in repr(tokens())
