"""Grants: the tokens one Exact Online user gave for one division, and their lifecycle.

A grant from a create is ACTIVE at once. A grant from a recreate is PENDING until the
datasource service accepts it (then ACTIVE, and the grant it replaces RETIRED) or rejects
it (DISCARDED; the old grant is untouched). A refresh token Exact refuses makes the grant
REVOKED. Only PENDING and ACTIVE grants hold tokens.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from auth.domain.errors import GrantGone
from auth.domain.events import DomainEvent, GrantExpiring, GrantRevoked
from auth.domain.tokens import RefreshPolicy, TokenDecision, TokenSet, decide, too_early_until


class GrantStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REVOKED = "revoked"
    RETIRED = "retired"
    DISCARDED = "discarded"


USABLE = (GrantStatus.PENDING, GrantStatus.ACTIVE)

_GONE = {
    GrantStatus.RETIRED: "The grant was replaced by a newer authorization.",
    GrantStatus.DISCARDED: "The reconnection this grant came from was rejected.",
    GrantStatus.REVOKED: "The grant was revoked.",
}


@dataclass
class Grant:
    grant_id: uuid.UUID
    authorization_id: uuid.UUID
    datasource_id: uuid.UUID
    correlation_id: uuid.UUID
    division: int
    division_name: str
    exact_user_id: uuid.UUID
    exact_user_name: str
    region: str
    status: GrantStatus
    tokens: TokenSet | None = field(repr=False)
    created_at: datetime
    status_reason: str | None = None
    refresh_requested: bool = False
    refresh_not_before: datetime | None = None
    """Exact said too early: no refresh is asked before this."""
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def usable(self) -> bool:
        return self.status in USABLE and self.tokens is not None

    def current_tokens(self) -> TokenSet:
        if not self.usable or self.tokens is None:
            raise GrantGone(self.status_reason or _GONE.get(self.status, "The grant is gone."))
        return self.tokens

    def token_decision(self, now: datetime, policy: RefreshPolicy) -> TokenDecision:
        return decide(self.current_tokens(), now, policy, rejected=self.refresh_requested,
                      not_before=self.refresh_not_before)

    def too_early(self, now: datetime, policy: RefreshPolicy) -> float:
        """Exact refused the refresh as too early: seconds until it is asked again."""
        self.refresh_not_before = too_early_until(self.current_tokens(), now, policy)
        return max(1.0, (self.refresh_not_before - now).total_seconds())

    def rotate(self, tokens: TokenSet) -> None:
        """Keep the tokens Exact just issued; the previous refresh token is dead now."""
        self.current_tokens()
        self.tokens = tokens
        self.refresh_requested = False
        self.refresh_not_before = None

    def report_rejected(self, access_token_sha256: str) -> bool:
        """Exact answered 401 to a token: refresh at the next request if it is the current one."""
        if self.tokens is None or not hmac.compare_digest(
            access_token_sha256.lower(), self.tokens.access_token_sha256
        ):
            return False
        self.refresh_requested = True
        return True

    def keep_alive_failed(self, reason: str, refresh_expires_at: datetime) -> None:
        """An idle grant's keep-alive refresh failed: warn before its refresh token dies."""
        if self.usable:
            self.events.append(GrantExpiring(self.grant_id, self.division, refresh_expires_at,
                                             reason))

    def revoke(self, reason: str) -> None:
        if self.status not in USABLE:
            return
        self.status = GrantStatus.REVOKED
        self.status_reason = reason
        self.tokens = None
        self.events.append(GrantRevoked(self.grant_id, self.division, reason))

    def accept(self) -> None:
        if self.status is GrantStatus.PENDING:
            self.status = GrantStatus.ACTIVE

    def retire(self) -> None:
        if self.status in USABLE:
            self.status = GrantStatus.RETIRED
            self.status_reason = _GONE[GrantStatus.RETIRED]
            self.tokens = None

    def discard(self, reason: str) -> None:
        if self.status in USABLE:
            self.status = GrantStatus.DISCARDED
            self.status_reason = reason
            self.tokens = None
