"""Access tokens from auth's internal API: cached until a minute before expiry, refused
tokens reported by hash, 503 waited out, a gone grant is GrantRevoked."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ingest.adapters.auth_tokens import AuthTokenSource
from ingest.domain.errors import (
    AuthUnavailable,
    GrantRevoked,
    GrantUnknown,
    TokenNotYetAllowed,
)

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
GRANT = uuid.uuid4()


def token_answer(token: str, seconds: int = 600) -> httpx.Response:
    return httpx.Response(200, json={"access_token": token, "division": 100001,
                                     "expires_at": (NOW + timedelta(seconds=seconds)).isoformat()})


def source(answers: list[httpx.Response], now: list[datetime] | None = None
           ) -> tuple[AuthTokenSource, list[httpx.Request], list[float]]:
    seen: list[httpx.Request] = []
    slept: list[float] = []
    clock = now or [NOW]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://auth",
                             headers={"Authorization": "Bearer internal"})
    return AuthTokenSource(http, sleep=sleep, now=lambda: clock[0]), seen, slept


async def test_a_token_is_reused_until_a_minute_before_it_expires() -> None:
    now = [NOW]
    tokens, seen, _ = source([token_answer("a"), token_answer("b")], now)
    assert await tokens.access_token(GRANT) == "a"
    now[0] = NOW + timedelta(seconds=530)
    assert await tokens.access_token(GRANT) == "a"
    now[0] = NOW + timedelta(seconds=541)
    assert await tokens.access_token(GRANT) == "b"
    assert [r.url.path for r in seen] == [f"/internal/grants/{GRANT}/access-token"] * 2
    assert seen[0].headers["Authorization"] == "Bearer internal"


async def test_a_refused_token_is_reported_by_its_hash_and_forgotten() -> None:
    tokens, seen, _ = source([token_answer("secret-a"), httpx.Response(202), token_answer("b")])
    await tokens.access_token(GRANT)
    await tokens.rejected(GRANT, "secret-a")
    assert json.loads(seen[1].content) == {
        "access_token_sha256": hashlib.sha256(b"secret-a").hexdigest()}
    assert b"secret-a" not in seen[1].content
    assert await tokens.access_token(GRANT) == "b"


async def test_auth_busy_is_waited_out_for_the_time_it_names() -> None:
    busy = httpx.Response(503, json={"error": "exact_unavailable", "reason": "570 s rule"},
                          headers={"Retry-After": "7"})
    tokens, _, slept = source([busy, token_answer("a")])
    assert await tokens.access_token(GRANT) == "a"
    assert slept == [7.0]


async def test_a_short_lived_token_is_kept_for_half_its_life() -> None:
    now = [NOW]
    tokens, seen, _ = source([token_answer("a", seconds=60), token_answer("b", seconds=60)], now)
    assert await tokens.access_token(GRANT) == "a"
    now[0] = NOW + timedelta(seconds=29)
    assert await tokens.access_token(GRANT) == "a"  # not one auth request per Exact call
    now[0] = NOW + timedelta(seconds=31)
    assert await tokens.access_token(GRANT) == "b"
    assert len(seen) == 2


async def test_a_token_is_near_expiry_in_its_last_30_seconds_or_once_replaced() -> None:
    now = [NOW]
    tokens, _, _ = source([token_answer("a", seconds=600)], now)
    await tokens.access_token(GRANT)
    assert not tokens.near_expiry(GRANT, "a")
    now[0] = NOW + timedelta(seconds=571)
    assert tokens.near_expiry(GRANT, "a")
    assert tokens.near_expiry(GRANT, "some-other-token")


async def test_a_long_wait_for_a_new_token_lets_the_run_wait_visibly() -> None:
    too_early = httpx.Response(503, json={"error": "refresh_not_yet_allowed",
                                          "reason": "Exact allows a new token in 400 s"},
                               headers={"Retry-After": "400"})
    tokens, _, slept = source([too_early])
    with pytest.raises(TokenNotYetAllowed) as raised:
        await tokens.access_token(GRANT)
    assert raised.value.wait_seconds == 400.0
    assert slept == []  # not slept through inside a run that looks busy


async def test_auth_busy_for_too_long_is_auth_unavailable() -> None:
    busy = [httpx.Response(503, headers={"Retry-After": "400"}) for _ in range(4)]
    tokens, _, _ = source(busy)
    with pytest.raises(AuthUnavailable):
        await tokens.access_token(GRANT)


async def test_a_gone_grant_is_grant_revoked_with_auths_reason() -> None:
    tokens, _, _ = source([httpx.Response(410, json={"error": "grant_revoked",
                                                     "reason": "refresh refused"})])
    with pytest.raises(GrantRevoked, match="refresh refused"):
        await tokens.access_token(GRANT)


async def test_an_unknown_grant_and_a_refused_internal_token_are_told_apart() -> None:
    tokens, _, _ = source([httpx.Response(404), httpx.Response(401)])
    with pytest.raises(GrantUnknown):
        await tokens.access_token(GRANT)
    with pytest.raises(AuthUnavailable, match="INGEST_AUTH_INTERNAL_TOKEN"):
        await tokens.access_token(GRANT)
