"""Grants, authorization codes and tokens, with Exact's rules.

Access tokens live 600 s. Refresh tokens rotate and are single-use: presenting an old one is
refused and (by default) kills the grant. A refresh token unused for 30 days expires. A new
access token is refused while the current one has more than 30 s left (the 570 s rule). The
token endpoint allows 200 calls a day per app and user. Withdrawing a grant (the admin action
standing in for "the approving person lost access") makes refreshes fail and API calls 401.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from exact_sandbox.clock import Clock
from exact_sandbox.config import AppRegistration, Limits
from exact_sandbox.seed import User
from exact_sandbox.stats import Stats


class TokenError(Exception):
    """A token endpoint refusal: status and `{"error","error_description"}` body."""

    def __init__(self, status: int, error: str, description: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}


class AuthFailure(Exception):
    """An API call whose bearer token is not (or no longer) valid: 401."""


@dataclass
class Grant:
    id: str
    client_id: str
    user: User
    divisions: tuple[int, ...]
    created: float
    refresh_token: str = ""
    refresh_issued: float = 0.0
    access_expires: float = 0.0
    withdrawn: bool = False
    dead_reason: str | None = None
    api_calls: int = 0
    old_refresh: set[str] = field(default_factory=set)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "client_id": self.client_id, "username": self.user.username,
                "divisions": list(self.divisions), "withdrawn": self.withdrawn,
                "dead_reason": self.dead_reason, "api_calls": self.api_calls}


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    user: User
    divisions: tuple[int, ...]
    expires: float
    used: bool = False


def _fmt(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class TokenService:
    def __init__(self, limits: Limits, clock: Clock, apps: tuple[AppRegistration, ...],
                 stats: Stats, kill_on_old_reuse: bool) -> None:
        self.limits = limits
        self.clock = clock
        self.apps = {a.client_id: a for a in apps}
        self.stats = stats
        self.kill_on_old_reuse = kill_on_old_reuse
        self.grants: dict[str, Grant] = {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, tuple[str, float]] = {}
        self._refresh: dict[str, str] = {}
        self._old_refresh: dict[str, str] = {}
        self._daily: dict[tuple[str, str, int], int] = {}

    # ---- authorization codes -------------------------------------------------------------

    def issue_code(self, client_id: str, redirect_uri: str, user: User,
                   divisions: tuple[int, ...]) -> str:
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(client_id, redirect_uri, user, divisions,
                                  self.clock.now() + self.limits.code_lifetime_s)
        return code

    def _client(self, client_id: str, client_secret: str) -> AppRegistration:
        app = self.apps.get(client_id)
        if app is None or not secrets.compare_digest(app.client_secret, client_secret):
            raise TokenError(401, "invalid_client", "Client authentication failed.")
        return app

    def _count_call(self, client_id: str, user: User) -> None:
        day = int(self.clock.now() // 86400)
        key = (client_id, user.user_id, day)
        self._daily[key] = self._daily.get(key, 0) + 1
        if self._daily[key] > self.limits.token_daily:
            self.stats.violations["token_daily_limit"] += 1
            raise TokenError(429, "access_denied",
                             "Rate limit exceeded: token endpoint daily limit reached")

    def exchange_code(self, client_id: str, client_secret: str, code: str,
                      redirect_uri: str) -> dict[str, str]:
        self.stats.token_calls["authorization_code"] += 1
        self._client(client_id, client_secret)
        entry = self._codes.get(code)
        if entry is None or entry.client_id != client_id:
            raise TokenError(400, "invalid_grant", "The authorization code is invalid.")
        if entry.used:
            raise TokenError(400, "invalid_grant", "The authorization code was already used.")
        entry.used = True
        if entry.expires < self.clock.now():
            raise TokenError(400, "invalid_grant", "The authorization code has expired.")
        if entry.redirect_uri != redirect_uri:
            raise TokenError(400, "invalid_grant", "The redirect_uri does not match.")
        self._count_call(client_id, entry.user)
        grant = Grant(secrets.token_hex(8), client_id, entry.user, entry.divisions,
                      self.clock.now())
        self.grants[grant.id] = grant
        return self._issue(grant)

    def create_grant(self, client_id: str, user: User, divisions: tuple[int, ...]) -> Grant:
        """Admin shortcut: a grant as if the OAuth dance had completed."""
        grant = Grant(secrets.token_hex(8), client_id, user, divisions, self.clock.now())
        self.grants[grant.id] = grant
        return grant

    def issue(self, grant: Grant) -> dict[str, str]:
        return self._issue(grant)

    def _issue(self, grant: Grant) -> dict[str, str]:
        now = self.clock.now()
        access = f"sandbox.{secrets.token_urlsafe(48)}"
        refresh = secrets.token_urlsafe(48)
        if grant.refresh_token:
            self._refresh.pop(grant.refresh_token, None)
            self._old_refresh[grant.refresh_token] = grant.id
            grant.old_refresh.add(grant.refresh_token)
        grant.refresh_token = refresh
        grant.refresh_issued = now
        grant.access_expires = now + self.limits.access_token_lifetime_s
        self._access[access] = (grant.id, grant.access_expires)
        self._refresh[refresh] = grant.id
        return {"access_token": access, "token_type": "bearer",
                "expires_in": str(self.limits.access_token_lifetime_s),
                "refresh_token": refresh}

    # ---- refresh -------------------------------------------------------------------------

    def refresh(self, client_id: str, client_secret: str, token: str) -> dict[str, str]:
        self.stats.token_calls["refresh_token"] += 1
        self._client(client_id, client_secret)
        now = self.clock.now()
        if token in self._old_refresh:
            self.stats.violations["old_refresh_token_reuse"] += 1
            reused = self.grants[self._old_refresh[token]]
            if self.kill_on_old_reuse:
                reused.dead_reason = "old refresh token used"
            raise TokenError(401, "unauthorized_client", "Old refresh token used.")
        grant_id = self._refresh.get(token)
        grant = self.grants.get(grant_id) if grant_id else None
        if grant is None or grant.client_id != client_id:
            raise TokenError(400, "invalid_grant", "The refresh token is invalid.")
        if grant.withdrawn or grant.dead_reason:
            raise TokenError(400, "invalid_grant",
                             "The authorization was withdrawn; the user must authorize again.")
        expires = grant.refresh_issued + self.limits.refresh_token_lifetime_s
        if now > expires:
            raise TokenError(400, "invalid_request",
                             f"The refresh token expired at {_fmt(expires)} and it is now "
                             f"{_fmt(now)}.")
        self._count_call(client_id, grant.user)
        if grant.access_expires - now > self.limits.refresh_window_s:
            self.stats.violations["refresh_too_early"] += 1
            raise TokenError(400, "access_denied", "Rate limit exceeded: access_token not expired",
                             {"Reason": "TooEarlyToRefreshTokens"})
        return self._issue(grant)

    # ---- API authentication ----------------------------------------------------------------

    def authenticate(self, token: str) -> Grant:
        entry = self._access.get(token)
        if entry is None:
            raise AuthFailure("invalid access token")
        grant = self.grants[entry[0]]
        if grant.withdrawn or grant.dead_reason:
            raise AuthFailure("access token revoked")
        if entry[1] <= self.clock.now():
            raise AuthFailure("access token expired")
        return grant

    def issued_secrets(self) -> dict[str, list[str]]:
        """Every access token, refresh token and code ever issued (tools hunt for leaks)."""
        return {"access_tokens": list(self._access),
                "refresh_tokens": [*self._refresh, *self._old_refresh],
                "codes": list(self._codes)}

    def grant_of(self, token: str) -> Grant | None:
        entry = self._access.get(token)
        return self.grants.get(entry[0]) if entry else None

    def withdraw(self, username: str | None = None, client_id: str | None = None,
                 grant_id: str | None = None) -> list[str]:
        done = []
        for grant in self.grants.values():
            if grant_id is not None and grant.id != grant_id:
                continue
            if username is not None and grant.user.username != username.lower():
                continue
            if client_id is not None and grant.client_id != client_id:
                continue
            if not grant.withdrawn:
                grant.withdrawn = True
                done.append(grant.id)
        return done
