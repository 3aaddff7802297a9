"""Tokens of one grant and the rule for when to refresh them.

Exact Online access tokens live 600 s and a new one is refused until 570 s after the
previous one was issued (the "570 s rule"); refresh tokens rotate and are single-use.
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

    def with_access(self, **changes: object) -> TokenSet:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RefreshPolicy:
    """Refresh when ``margin`` seconds are left, never before ``min_interval`` since issue."""

    margin: float = 30.0
    min_interval: float = 570.0


class Action(Enum):
    USE = "use"
    REFRESH = "refresh"
    WAIT = "wait"


@dataclass(frozen=True)
class TokenDecision:
    action: Action
    wait_seconds: float = 0.0


def decide(tokens: TokenSet, now: datetime, policy: RefreshPolicy,
           rejected: bool = False) -> TokenDecision:
    """What to do for a caller that needs a token valid for at least ``policy.margin``."""
    if not rejected and tokens.remaining(now) > policy.margin:
        return TokenDecision(Action.USE)
    earliest = tokens.access_issued_at + timedelta(seconds=policy.min_interval)
    if now < earliest:
        return TokenDecision(Action.WAIT, max(1.0, (earliest - now).total_seconds()))
    return TokenDecision(Action.REFRESH)
