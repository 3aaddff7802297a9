"""Each injected fault kind; deterministic per seed and scoped per division/endpoint."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from exact_sandbox.config import FaultSettings
from exact_sandbox.testing import JSON, Env, Live, MakeEnv

JOURNALS = "/api/v1/100001/financial/Journals"


async def _statuses(env: Env, token: str, n: int, path: str = JOURNALS) -> list[int]:
    return [(await env.api(path, token)).status_code for _ in range(n)]


async def test_5xx_rate_is_deterministic_for_a_seed(make_env: MakeEnv) -> None:
    runs = []
    for _ in range(2):
        env = make_env(faults=FaultSettings(seed=7, error_5xx_rate=0.3, error_5xx_status=503))
        t = (await env.grant())["access_token"]
        runs.append(await _statuses(env, t, 40))
    assert runs[0] == runs[1]
    assert 3 < runs[0].count(503) < 25
    assert set(runs[0]) == {200, 503}
    other = make_env(faults=FaultSettings(seed=8, error_5xx_rate=0.3, error_5xx_status=503))
    t = (await other.grant())["access_token"]
    assert await _statuses(other, t, 40) != runs[0]


async def test_faults_are_scoped_to_division_and_endpoint(make_env: MakeEnv) -> None:
    env = make_env(faults=FaultSettings(error_5xx_rate=1.0, divisions=(200001,),
                                        endpoints=("TransactionLines",)))
    t = (await env.grant("dirk.multi@demo.nl"))["access_token"]
    assert await _statuses(env, t, 2, "/api/v1/200002/financial/Journals") == [200, 200]
    assert await _statuses(env, t, 2, "/api/v1/200001/financial/Journals") == [200, 200]
    hit = await env.api("/api/v1/200001/bulk/Financial/TransactionLines", t,
                        **{"$select": "ID"})
    assert hit.status_code == 500


async def test_malformed_json_body(make_env: MakeEnv) -> None:
    env = make_env(faults=FaultSettings(malformed_json_rate=1.0))
    t = (await env.grant())["access_token"]
    r = await env.api(JOURNALS, t)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)


async def test_latency_slows_responses(make_env: MakeEnv) -> None:
    env = make_env(faults=FaultSettings(latency_ms=150))
    t = (await env.grant())["access_token"]
    started = time.perf_counter()
    assert (await env.api(JOURNALS, t)).status_code == 200
    assert time.perf_counter() - started >= 0.15


async def test_revocation_after_n_calls(make_env: MakeEnv) -> None:
    env = make_env(faults=FaultSettings(revoke_after_calls=3))
    tokens = await env.grant()
    assert await _statuses(env, tokens["access_token"], 4) == [200, 200, 200, 401]
    env.sandbox.clock.advance(600)
    refresh = await env.client.post("/api/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "5b0c6a2e-3f1d-4c8e-9a7b-2d4e6f8a0c1e",
        "client_secret": "sandbox-connector-secret"})
    assert refresh.status_code == 400


async def test_401_on_a_valid_token_once_then_by_runtime_rate(make_env: MakeEnv) -> None:
    env = make_env(faults=FaultSettings(unauthorized_next=1))
    t = (await env.grant())["access_token"]
    first = await env.api(JOURNALS, t)
    assert first.status_code == 401
    assert "access token expired" in first.headers["WWW-Authenticate"]
    assert (await env.api(JOURNALS, t)).status_code == 200
    r = await env.client.patch("/_sandbox/faults", json={"unauthorized_rate": 1.0})
    assert r.json()["unauthorized_rate"] == 1.0
    assert (await env.api(JOURNALS, t)).status_code == 401
    await env.client.delete("/_sandbox/faults")
    assert (await env.api(JOURNALS, t)).status_code == 200
    stats = (await env.client.get("/_sandbox/stats")).json()
    assert stats["faults_injected"]["unauthorized"] == 2


async def test_a_division_may_have_faults_of_its_own(env: Env) -> None:
    t = (await env.grant("dirk.multi@demo.nl"))["access_token"]
    await env.client.put("/_sandbox/faults", json={"error_5xx_rate": 1.0, "divisions": [200001]})
    own = await env.client.put("/_sandbox/faults/divisions/200002",
                               json={"unauthorized_next": 1})
    assert own.json()["unauthorized_next"] == 1
    assert await _statuses(env, t, 1, "/api/v1/200001/financial/Journals") == [500]
    assert await _statuses(env, t, 2, "/api/v1/200002/financial/Journals") == [401, 200]
    await env.client.delete("/_sandbox/faults/divisions/200002")
    assert await _statuses(env, t, 1, "/api/v1/200002/financial/Journals") == [200]
    await env.client.put("/_sandbox/faults/divisions/200002", json={"error_5xx_rate": 1.0})
    await env.client.delete("/_sandbox/faults")  # clears every division's own faults too
    assert await _statuses(env, t, 1, "/api/v1/200002/financial/Journals") == [200]


async def test_unknown_fault_setting_is_refused(env: Env) -> None:
    r = await env.client.patch("/_sandbox/faults", json={"nope": 1})
    assert r.status_code == 400


async def _live_token(client: httpx.AsyncClient) -> str:
    r = await client.post("/_sandbox/grants", json={"username": "anna.admin@demo.nl"})
    token: str = r.json()["access_token"]
    return token


async def test_dropped_connection_over_real_http(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        token = await _live_token(client)
        await client.put("/_sandbox/faults", json={"drop_rate": 1.0,
                                                   "endpoints": ["financial/Journals"]})
        try:
            with pytest.raises(httpx.TransportError):
                await client.get(JOURNALS, headers={"Authorization": f"Bearer {token}", **JSON})
        finally:
            await client.delete("/_sandbox/faults")
        ok = await client.get(JOURNALS, headers={"Authorization": f"Bearer {token}", **JSON})
        assert ok.status_code == 200


async def test_timeout_hangs_past_the_client_timeout(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        token = await _live_token(client)
        await client.put("/_sandbox/faults", json={"timeout_rate": 1.0, "hang_seconds": 30,
                                                   "endpoints": ["financial/Journals"]})
        try:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(JOURNALS, timeout=0.3,
                                 headers={"Authorization": f"Bearer {token}", **JSON})
        finally:
            await client.delete("/_sandbox/faults")


async def test_token_endpoint_faults_only_when_included(make_env: MakeEnv) -> None:
    env = make_env(faults=FaultSettings(error_5xx_rate=1.0, error_5xx_status=503))
    tokens = await env.grant()
    env.sandbox.clock.advance(600)
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": "5b0c6a2e-3f1d-4c8e-9a7b-2d4e6f8a0c1e",
            "client_secret": "sandbox-connector-secret"}
    await env.client.patch("/_sandbox/faults", json={"include_token_endpoint": True})
    assert (await env.client.post("/api/oauth2/token", data=data)).status_code == 503
    await env.client.patch("/_sandbox/faults", json={"include_token_endpoint": False})
    assert (await env.client.post("/api/oauth2/token", data=data)).status_code == 200
