"""Tokens of one grant and the rule for when to refresh them.

Exact Online says how long an access token lives (``expires_in``, a string: "600") and
refuses a new one until 570 s after the previous one was issued (the "570 s rule", since
July 2021), answering ``TooEarlyToRefreshTokens`` (EXACT_API.md section 2). With Exact's
600 s tokens that is the token's last 30 s, the window in which clients refresh. The
earliest refresh of a token is therefore taken from the token itself: issued + lifetime
- 30 s (570 s for a 600 s token, 30 s for a 60 s one), never a fixed number; an explicit
``min_interval`` only overrides it. A ``TooEarlyToRefreshTokens`` answer is kept as
``not_before`` and respected. Refresh tokens rotate and are single-use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class TokenSet:
    """An access and refresh token pair; ``repr`` never shows the tokens."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_issued_at: datetime
    access_expires_at: datetime
    refresh_issued_at: datetime

    @classmethod
    def issued(cls, access_token: str, refresh_token: str, expires_in: int,
               now: datetime) -> TokenSet:
        return cls(access_token, refresh_token, now, now + timedelta(seconds=expires_in), now)

    @property
    def access_token_sha256(self) -> str:
        return sha256_hex(self.access_token)

    def remaining(self, now: datetime) -> float:
        return (self.access_expires_at - now).total_seconds()

    @property
    def lifetime(self) -> float:
        """Seconds the access token lives from issue (Exact's ``expires_in``)."""
        return (self.access_expires_at - self.access_issued_at).total_seconds()

    def with_access(self, **changes: object) -> TokenSet:
        return replace(self, **changes)  # type: ignore[arg-type]


REFRESH_WINDOW_SECONDS = 30.0
"""Exact allows a new access token once the current one has this much life left: the
570 s rule for its 600 s tokens (EXACT_API.md section 2; clients refresh 10-30 s before
expiry, picqer Connection.php, ossobv/exactonline #33)."""


@dataclass(frozen=True)
class RefreshPolicy:
    """Refresh when ``margin`` seconds are left; never before Exact allows it.

    ``min_interval`` (seconds after issue) overrides the earliest refresh taken from the
    token's own lifetime; leave it None, the token says when."""

    margin: float = 30.0
    min_interval: float | None = None
    window: float = REFRESH_WINDOW_SECONDS

    def earliest(self, tokens: TokenSet) -> datetime:
        """When Exact allows the token after ``tokens`` (the 570 s rule, scaled)."""
        after = self.min_interval if self.min_interval is not None \
            else max(0.0, tokens.lifetime - self.window)
        return tokens.access_issued_at + timedelta(seconds=after)

    def due(self, tokens: TokenSet) -> datetime:
        """When a token is refreshed although nobody reported it refused."""
        return max(self.earliest(tokens), tokens.access_expires_at - timedelta(seconds=self.margin))


class Action(Enum):
    USE = "use"
    REFRESH = "refresh"
    WAIT = "wait"


@dataclass(frozen=True)
class TokenDecision:
    action: Action
    wait_seconds: float = 0.0


def decide(tokens: TokenSet, now: datetime, policy: RefreshPolicy,
           rejected: bool = False, not_before: datetime | None = None) -> TokenDecision:
    """What to do for a caller that needs a usable token.

    A token nobody reported refused is used until it is due (never before Exact allows
    a new one). One that Exact refused (``rejected``) is refreshed at once, even before
    our earliest time: Exact answers a withdrawn grant with ``invalid_grant`` right away,
    and otherwise says too early - kept as ``not_before`` (see :func:`too_early_until`),
    which makes every caller wait instead of asking Exact again.
    """
    if not rejected and now < policy.due(tokens):
        return TokenDecision(Action.USE)
    if not_before is not None and now < not_before:
        return TokenDecision(Action.WAIT, max(1.0, (not_before - now).total_seconds()))
    return TokenDecision(Action.REFRESH)


TOO_EARLY_RETRY_SECONDS = 10.0
"""Exact said too early although its rule should allow the refresh: ask again this much later."""


def too_early_until(tokens: TokenSet, now: datetime, policy: RefreshPolicy) -> datetime:
    """Exact answered ``TooEarlyToRefreshTokens``: when to ask again."""
    return max(policy.earliest(tokens), now + timedelta(seconds=TOO_EARLY_RETRY_SECONDS))


@dataclass(frozen=True)
class KeepAlivePolicy:
    """Refresh an idle grant ``before`` seconds before its refresh token would expire.

    Exact expires a refresh token unused for 30 days (EXACT_API.md section 2, via
    websmurf/laravel-exact-online #19); a refresh issues a new one, so refreshing a
    grant that has not been used for 23 days keeps it alive for another 30."""

    refresh_lifetime: float = 30 * 86400.0
    before: float = 7 * 86400.0

    def refresh_expires_at(self, tokens: TokenSet) -> datetime:
        return tokens.refresh_issued_at + timedelta(seconds=self.refresh_lifetime)

    def refreshed_before(self, now: datetime) -> datetime:
        """Grants whose refresh token was issued before this are due for a keep-alive."""
        return now - timedelta(seconds=max(0.0, self.refresh_lifetime - self.before))
