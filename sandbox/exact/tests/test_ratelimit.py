"""Minutely and daily budgets, their headers, the per-company total and the error budget."""

from __future__ import annotations

from exact_sandbox.config import Limits
from exact_sandbox.testing import T0, MakeEnv

JOURNALS = "/api/v1/100001/financial/Journals"


async def test_429_after_the_minutely_budget_with_only_minutely_headers(make_env: MakeEnv) -> None:
    env = make_env(limits=Limits(minutely=5, daily=100))
    t = (await env.grant())["access_token"]
    for n in range(5):
        r = await env.api(JOURNALS, t)
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Minutely-Remaining"] == str(4 - n)
        assert r.headers["X-RateLimit-Remaining"] == str(99 - n)
        assert r.headers["X-RateLimit-Limit"] == "100"
    refused = await env.api(JOURNALS, t)
    assert refused.status_code == 429
    assert refused.json()["error"]["message"]["value"]
    assert refused.headers["X-RateLimit-Minutely-Remaining"] == "0"
    minute_end = (int(T0 // 60) + 1) * 60_000
    assert refused.headers["X-RateLimit-Minutely-Reset"] == str(minute_end)
    assert "X-RateLimit-Limit" not in refused.headers
    env.sandbox.clock.set(minute_end / 1000)
    again = await env.api(JOURNALS, t)
    assert again.status_code == 200
    assert again.headers["X-RateLimit-Minutely-Remaining"] == "4"
    stats = (await env.client.get("/_sandbox/stats")).json()
    assert stats["responses_429"] == 1
    assert stats["responses_429_by_limit"] == {"minutely": 1}


async def test_daily_budget_resets_at_midnight_utc(make_env: MakeEnv) -> None:
    env = make_env(limits=Limits(minutely=100, daily=3))
    t = (await env.grant())["access_token"]
    for _ in range(3):
        assert (await env.api(JOURNALS, t)).status_code == 200
    refused = await env.api(JOURNALS, t)
    assert refused.status_code == 429
    day_end = (int(T0 // 86400) + 1) * 86_400_000
    assert refused.headers["X-RateLimit-Reset"] == str(day_end)
    assert "X-RateLimit-Minutely-Limit" not in refused.headers
    env.sandbox.clock.set(day_end / 1000 - 1)
    tokens = await env.grant()
    assert (await env.api(JOURNALS, tokens["access_token"])).status_code == 429
    env.sandbox.clock.advance(1)
    assert (await env.api(JOURNALS, tokens["access_token"])).status_code == 200


async def test_budgets_are_per_app_and_company(make_env: MakeEnv) -> None:
    env = make_env(limits=Limits(minutely=2, daily=100))
    anna = (await env.grant())["access_token"]
    other_app = (await env.grant(client_id="9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"))["access_token"]
    dirk = (await env.grant("dirk.multi@demo.nl"))["access_token"]
    for _ in range(2):
        assert (await env.api(JOURNALS, anna)).status_code == 200
    assert (await env.api(JOURNALS, anna)).status_code == 429
    assert (await env.api(JOURNALS, other_app)).status_code == 200
    assert (await env.api("/api/v1/200001/financial/Journals", dirk)).status_code == 200


async def test_optional_company_total_across_apps(make_env: MakeEnv) -> None:
    env = make_env(limits=Limits(minutely=100, daily=100, company_daily=3))
    a = (await env.grant())["access_token"]
    b = (await env.grant(client_id="9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"))["access_token"]
    for token in (a, b, a):
        assert (await env.api(JOURNALS, token)).status_code == 200
    refused = await env.api(JOURNALS, b)
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Limit"] == "3"


async def test_more_than_ten_errors_an_hour_blocks_the_endpoint(make_env: MakeEnv) -> None:
    env = make_env()
    t = (await env.grant())["access_token"]
    bad = "/api/v1/100001/sync/Financial/TransactionLines"  # no $select -> 400
    for _ in range(11):
        assert (await env.api(bad, t)).status_code == 400
    blocked = await env.api(bad, t, **{"$select": "ID"})
    assert blocked.status_code == 403
    assert blocked.headers["Reason"] == "TooManyErrors"
    assert (await env.api(JOURNALS, t)).status_code == 200  # other endpoints still work
    env.sandbox.clock.advance(3600)
    t = (await env.grant())["access_token"]
    assert (await env.api(bad, t, **{"$select": "ID"})).status_code == 200
    stats = (await env.client.get("/_sandbox/stats")).json()
    assert stats["rule_violations"]["error_budget_blocked"] == 1


async def test_limits_can_change_at_runtime(make_env: MakeEnv) -> None:
    env = make_env(limits=Limits(minutely=1, daily=100))
    t = (await env.grant())["access_token"]
    assert (await env.api(JOURNALS, t)).status_code == 200
    assert (await env.api(JOURNALS, t)).status_code == 429
    r = await env.client.patch("/_sandbox/limits", json={"minutely": 10})
    assert r.json()["minutely"] == 10
    assert (await env.api(JOURNALS, t)).status_code == 200
