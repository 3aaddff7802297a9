"""Inspection and admin endpoints: stats, expected figures, clock, users, divisions."""

from __future__ import annotations

import asyncio
import hashlib

from exact_sandbox.aggregates import id_hash
from exact_sandbox.testing import T0, Env


async def test_stats_count_calls_tokens_and_peak_concurrency(env: Env) -> None:
    t = (await env.grant())["access_token"]
    env.sandbox.faults.settings.latency_ms = 20  # keep requests in flight together
    await asyncio.gather(*(env.api("/api/v1/100001/financial/Journals", t) for _ in range(4)))
    env.sandbox.faults.settings.latency_ms = 0
    await env.api("/api/v1/current/Me", t)
    stats = (await env.client.get("/_sandbox/stats")).json()
    assert stats["calls_by_endpoint"] == {"current/Me": 1, "financial/Journals": 4}
    assert stats["calls_by_division"] == {"100001": 5}
    assert stats["peak_concurrent_by_division"]["100001"] == 4
    assert stats["rows_served"]["financial/Journals"] == 20
    reset = (await env.client.post("/_sandbox/stats/reset")).json()
    assert reset["calls_total"] == 0


async def test_expected_figures_shape_and_hash_definition(env: Env) -> None:
    body = (await env.client.get("/_sandbox/expected/200003")).json()
    assert body["division"] == 200003 and body["data_version"] == 0
    entities = body["entities"]
    assert set(entities) >= {"TransactionLines", "GLAccounts", "GLClassifications", "Accounts",
                             "Journals", "FinancialPeriods", "Budgets", "CostCenters",
                             "CostUnits", "ReportingBalance", "Deleted"}
    tl = entities["TransactionLines"]
    assert tl["count"] == 10
    assert sum(p["count"] for p in tl["by_period"]) == 10
    t = (await env.grant("dirk.multi@demo.nl"))["access_token"]
    rows = (await env.api("/api/v1/200003/bulk/Financial/TransactionLines", t,
                          **{"$select": "ID"})).json()["d"]["results"]
    ids = [r["ID"] for r in rows]
    manual = sum(int.from_bytes(hashlib.sha256(i.lower().encode()).digest()[:8], "big")
                 for i in ids) % 2**64
    assert tl["id_hash"] == f"{manual:016x}" == id_hash(reversed(ids))
    journals = (await env.api("/api/v1/200003/financial/Journals", t)).json()["d"]["results"]
    assert entities["Journals"]["id_hash"] == id_hash(j["ID"] for j in journals)
    assert (await env.client.get("/_sandbox/expected/999")).status_code == 404


async def test_clock_can_be_read_set_advanced_and_sped_up(env: Env) -> None:
    now = (await env.client.get("/_sandbox/clock")).json()
    assert now["now"] == T0 and now["speed"] == 0
    moved = (await env.client.post("/_sandbox/clock", json={"advance": 90})).json()
    assert moved["now"] == T0 + 90
    at = (await env.client.post("/_sandbox/clock", json={"set": "2025-01-01T00:00:00Z"})).json()
    assert at["iso"].startswith("2025-01-01T00:00:00")
    fast = (await env.client.post("/_sandbox/clock", json={"speed": 60})).json()
    assert fast["speed"] == 60
    assert (await env.client.post("/_sandbox/clock", json={"speed": -1})).status_code == 400


async def test_users_and_divisions_are_listed(env: Env) -> None:
    users = {u["username"]: u for u in (await env.client.get("/_sandbox/users")).json()}
    assert users["carla.user@demo.nl"]["admin_of"] == []
    assert users["dirk.multi@demo.nl"]["admin_of"] == [200001, 200002, 200003]
    assert users["lucas@demo.be"]["instance"] == "BE"
    divisions = {d["code"]: d for d in (await env.client.get("/_sandbox/divisions")).json()}
    assert divisions[300002]["transaction_lines"] == 5_000_000
    grants = (await env.client.get("/_sandbox/grants")).json()
    assert grants == []


async def test_admin_paths_do_not_shadow_the_api(env: Env) -> None:
    t = (await env.grant())["access_token"]
    assert (await env.api("/api/v1/100001/_sandbox/stats", t)).status_code == 404
    assert (await env.client.get("/api/v1/100001/financial/Journals")).status_code == 401


async def test_every_issued_token_and_code_is_listed_for_leak_hunting(env: Env) -> None:
    first = await env.grant()
    second = await env.grant("bram.admin@demo.nl")
    listed = (await env.client.get("/_sandbox/tokens")).json()
    assert {first["access_token"], second["access_token"]} <= set(listed["access_tokens"])
    assert {first["refresh_token"], second["refresh_token"]} <= set(listed["refresh_tokens"])
    assert listed["codes"] == []
