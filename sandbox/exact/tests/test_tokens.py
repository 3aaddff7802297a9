"""Token rules: rotation, single-use refresh tokens, the 570 s rule, 30-day expiry, withdrawal."""

from __future__ import annotations

from exact_sandbox.config import Limits
from exact_sandbox.testing import CLIENT_ID, CLIENT_SECRET, Env, MakeEnv


async def _refresh(env: Env, token: str, basic: bool = False) -> tuple[int, dict[str, str],
                                                                         dict[str, str]]:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    if basic:
        r = await env.client.post("/api/oauth2/token", data=data, auth=(CLIENT_ID, CLIENT_SECRET))
    else:
        r = await env.client.post("/api/oauth2/token", data={
            **data, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    return r.status_code, r.json(), dict(r.headers)


async def test_refresh_rotates_and_old_refresh_token_is_refused(env: Env) -> None:
    first = await env.grant()
    env.sandbox.clock.advance(575)
    status, second, _ = await _refresh(env, first["refresh_token"], basic=True)
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert second["expires_in"] == "600"
    env.sandbox.clock.advance(575)
    status, body, _ = await _refresh(env, first["refresh_token"])
    assert status == 401
    assert body == {"error": "unauthorized_client", "error_description": "Old refresh token used."}
    # The grant is unusable from then on (EXACT_API.md section 9).
    status, body, _ = await _refresh(env, second["refresh_token"])
    assert status == 400
    api = await env.api("/api/v1/current/Me", second["access_token"])
    assert api.status_code == 401
    stats = (await env.client.get("/_sandbox/stats")).json()
    assert stats["rule_violations"]["old_refresh_token_reuse"] == 1
    assert stats["refresh_calls"] == 3


async def test_570_second_rule_refuses_early_refresh_with_reason_header(env: Env) -> None:
    tokens = await env.grant()
    env.sandbox.clock.advance(569)
    status, body, headers = await _refresh(env, tokens["refresh_token"])
    assert status == 400
    assert body == {"error": "access_denied",
                    "error_description": "Rate limit exceeded: access_token not expired"}
    assert headers["reason"] == "TooEarlyToRefreshTokens"
    env.sandbox.clock.advance(1)
    status, _body, _ = await _refresh(env, tokens["refresh_token"])
    assert status == 200
    stats = (await env.client.get("/_sandbox/stats")).json()
    assert stats["rule_violations"]["refresh_too_early"] == 1


async def test_access_token_expires_after_600_seconds(env: Env) -> None:
    tokens = await env.grant()
    env.sandbox.clock.advance(599)
    assert (await env.api("/api/v1/current/Me", tokens["access_token"])).status_code == 200
    env.sandbox.clock.advance(1)
    expired = await env.api("/api/v1/current/Me", tokens["access_token"])
    assert expired.status_code == 401
    assert "access token expired" in expired.headers["www-authenticate"]


async def test_refresh_token_unused_for_30_days_expires(env: Env) -> None:
    tokens = await env.grant()
    env.sandbox.clock.advance(30 * 86400 + 1)
    status, body, _ = await _refresh(env, tokens["refresh_token"])
    assert status == 400
    assert body["error"] == "invalid_request"
    assert body["error_description"].startswith("The refresh token expired at ")
    assert " and it is now " in body["error_description"]


async def test_withdrawn_grant_fails_refresh_and_api_calls(env: Env) -> None:
    tokens = await env.grant("bram.admin@demo.nl")
    r = await env.client.post("/_sandbox/grants/withdraw", json={"username": "bram.admin@demo.nl"})
    assert r.json()["withdrawn"] == [tokens["grant_id"]]
    api = await env.api("/api/v1/100001/financial/Journals", tokens["access_token"])
    assert api.status_code == 401
    env.sandbox.clock.advance(575)
    status, body, _ = await _refresh(env, tokens["refresh_token"])
    assert status == 400
    assert body["error"] == "invalid_grant"


async def test_token_endpoint_allows_200_calls_a_day_per_app_and_user(make_env: MakeEnv) -> None:
    env = make_env(limits=Limits(token_daily=3, minutely=10**6, daily=10**9))
    tokens = await env.grant()
    refresh = tokens["refresh_token"]
    for _ in range(3):
        env.sandbox.clock.advance(600)
        status, body, _ = await _refresh(env, refresh)
        assert status == 200
        refresh = body["refresh_token"]
    env.sandbox.clock.advance(600)
    status, body, _ = await _refresh(env, refresh)
    assert status == 429
    assert body["error"] == "access_denied"


async def test_unknown_grant_type_and_bad_client(env: Env) -> None:
    r = await env.client.post("/api/oauth2/token", data={
        "grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"
    r = await env.client.post("/api/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": "x", "client_id": "x",
        "client_secret": "y"})
    assert r.status_code == 401
