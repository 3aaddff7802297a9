"""Access tokens from auth's internal API (the only place ingest gets them).

``GET /internal/grants/{grant_id}/access-token`` answers a token and when it expires. It
is kept until ``margin`` (60 s) before it expires, or half its remaining life for a
short-lived token (a 60 s token is kept 30 s: auth refreshes it once Exact allows), one
request per grant at a time. When Exact refuses a token, :meth:`AuthTokenSource.rejected`
forgets it and tells auth (by its SHA-256, never the token itself), so the next GET
refreshes. 410 means the grant is gone (:class:`GrantRevoked`); 503 waits the
``Retry-After`` auth gives (bounded). When auth says Exact does not allow a new token for
longer than ``in_run_wait_seconds``, :class:`TokenNotYetAllowed` lets the run wait visibly
(RunProgress ``waiting_until``) instead of sleeping while it looks busy.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import structlog

from connector_runtime.observability.logs import redact_text
from ingest.domain.errors import AuthUnavailable, GrantRevoked, GrantUnknown, TokenNotYetAllowed

log = structlog.get_logger("auth_tokens")

NEAR_EXPIRY_SECONDS = 30.0
"""A token with this little life left is near its expiry: Exact allows a refresh then
(the 570 s rule lets a 600 s token be replaced in its last 30 s, EXACT_API.md section 2),
so a 401 on it asks for a new token at once instead of retrying the old one."""


class AuthTokenSource:
    def __init__(self, http: httpx.AsyncClient, *, margin: timedelta = timedelta(seconds=60),
                 max_wait_seconds: float = 900.0, in_run_wait_seconds: float = 15.0,
                 network_attempts: int = 5,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._http = http
        self._margin = margin
        self._max_wait = max_wait_seconds
        self._in_run_wait = in_run_wait_seconds
        self._network_attempts = network_attempts
        self._sleep = sleep
        self._now = now
        self._cache: dict[uuid.UUID, _Cached] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    def _cached(self, grant_id: uuid.UUID) -> str | None:
        found = self._cache.get(grant_id)
        if found is not None and self._now() < found.keep_until:
            return found.token
        return None

    def near_expiry(self, grant_id: uuid.UUID, access_token: str) -> bool:
        found = self._cache.get(grant_id)
        if found is None or found.token != access_token:
            return True  # already dropped or replaced: asking again costs no retry
        return (found.expires_at - self._now()).total_seconds() <= NEAR_EXPIRY_SECONDS

    async def access_token(self, grant_id: uuid.UUID) -> str:
        token = self._cached(grant_id)
        if token is not None:
            return token
        async with self._locks.setdefault(grant_id, asyncio.Lock()):
            token = self._cached(grant_id)
            if token is not None:
                return token
            return await self._fetch(grant_id)

    async def _fetch(self, grant_id: uuid.UUID) -> str:
        waited = 0.0
        failures = 0
        while True:
            try:
                response = await self._http.get(f"/internal/grants/{grant_id}/access-token")
            except httpx.HTTPError as exc:
                failures += 1
                if failures >= self._network_attempts:
                    raise AuthUnavailable(f"auth did not answer ({type(exc).__name__})") from None
                await self._sleep(min(10.0, 0.5 * 2**failures))
                continue
            if response.status_code == 200:
                return self._remember(grant_id, response)
            reason = _reason(response)
            if response.status_code == 410:
                self._cache.pop(grant_id, None)
                raise GrantRevoked(f"the grant can no longer be used: {reason}")
            if response.status_code == 404:
                raise GrantUnknown(f"auth does not know grant {grant_id}")
            if response.status_code == 401:
                raise AuthUnavailable("auth refused ingest's internal API token "
                                      "(INGEST_AUTH_INTERNAL_TOKEN)")
            retry_after = _retry_after(response)
            if response.status_code != 503 and response.status_code < 500:
                raise AuthUnavailable(f"auth answered {response.status_code}: {reason}")
            if _error(response) == "refresh_not_yet_allowed" and retry_after > self._in_run_wait:
                log.info("access_token_not_yet_allowed", grant_id=str(grant_id),
                         retry_after=retry_after)
                raise TokenNotYetAllowed(
                    "Exact Online refused the access token and allows a new one only after "
                    f"its token refresh wait ({reason}); the run resumes then",
                    wait_seconds=retry_after)
            if waited + retry_after > self._max_wait:
                raise AuthUnavailable(f"auth could not hand out a token for {waited:.0f} s: {reason}")
            log.info("access_token_wait", grant_id=str(grant_id), retry_after=retry_after,
                     reason=reason)
            await self._sleep(retry_after)
            waited += retry_after

    def _remember(self, grant_id: uuid.UUID, response: httpx.Response) -> str:
        try:
            body = response.json()
            token = str(body["access_token"])
            expires_at = datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthUnavailable(f"auth's token answer is malformed ({type(exc).__name__})") from None
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        left = max(timedelta(0), expires_at - self._now())
        self._cache[grant_id] = _Cached(token, expires_at, expires_at - min(self._margin, left / 2))
        return token

    async def rejected(self, grant_id: uuid.UUID, access_token: str) -> None:
        found = self._cache.get(grant_id)
        if found is not None and found.token == access_token:
            del self._cache[grant_id]
        digest = hashlib.sha256(access_token.encode()).hexdigest()
        try:
            response = await self._http.post(f"/internal/grants/{grant_id}/access-token/rejected",
                                             json={"access_token_sha256": digest})
            if response.status_code >= 400:
                log.warning("access_token_rejection_not_taken", grant_id=str(grant_id),
                            status=response.status_code)
        except httpx.HTTPError as exc:  # the next GET still asks auth; nothing is lost
            log.warning("access_token_rejection_failed", grant_id=str(grant_id),
                        error=type(exc).__name__)


@dataclass(frozen=True)
class _Cached:
    token: str = field(repr=False)
    expires_at: datetime
    keep_until: datetime


def _error(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("error")) if isinstance(body, dict) else None


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
        return redact_text(str(body.get("reason") or body.get("error") or response.reason_phrase),
                           200)
    except ValueError:
        return response.reason_phrase


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.1, min(600.0, float(response.headers.get("Retry-After", "5"))))
    except ValueError:
        return 5.0
