"""Access tokens from auth's internal API (the only place ingest gets them).

``GET /internal/grants/{grant_id}/access-token`` answers a token valid for at least 60 s;
it is kept until about 60 s before it expires, one request per grant at a time. When
Exact refuses a token, :meth:`AuthTokenSource.rejected` forgets it and tells auth (by its
SHA-256, never the token itself), so the next GET refreshes. 410 means the grant is gone
(:class:`GrantRevoked`); 503 waits the ``Retry-After`` auth gives (bounded).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import structlog

from ingest.domain.errors import AuthUnavailable, GrantRevoked, GrantUnknown

log = structlog.get_logger("auth_tokens")


class AuthTokenSource:
    def __init__(self, http: httpx.AsyncClient, *, margin: timedelta = timedelta(seconds=60),
                 max_wait_seconds: float = 900.0, network_attempts: int = 5,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._http = http
        self._margin = margin
        self._max_wait = max_wait_seconds
        self._network_attempts = network_attempts
        self._sleep = sleep
        self._now = now
        self._cache: dict[uuid.UUID, tuple[str, datetime]] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    def _cached(self, grant_id: uuid.UUID) -> str | None:
        found = self._cache.get(grant_id)
        if found is not None and found[1] - self._now() > self._margin:
            return found[0]
        return None

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
        self._cache[grant_id] = (token, expires_at)
        return token

    async def rejected(self, grant_id: uuid.UUID, access_token: str) -> None:
        found = self._cache.get(grant_id)
        if found is not None and found[0] == access_token:
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


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("reason") or body.get("error") or response.reason_phrase)[:200]
    except ValueError:
        return response.reason_phrase


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.1, min(600.0, float(response.headers.get("Retry-After", "5"))))
    except ValueError:
        return 5.0
