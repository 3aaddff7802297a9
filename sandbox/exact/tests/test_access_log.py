"""The access log: every data API call as answered, 401s included, by division and page."""

from __future__ import annotations

from exact_sandbox.testing import Env


async def test_every_call_is_logged_with_its_page_status_and_caller(env: Env) -> None:
    t = (await env.grant())["access_token"]
    first = await env.api("/api/v1/100001/bulk/Financial/TransactionLines", t, **{"$select": "ID"})
    link = first.json()["d"]["__next"]
    await env.client.get(link, headers={"Authorization": f"Bearer {t}",
                                        "Accept": "application/json", "User-Agent": "tool/1"})
    await env.api("/api/v1/100001/bulk/Financial/TransactionLines", "not-a-token",
                  **{"$select": "ID"})
    await env.api("/api/v1/current/Me", t)
    log = (await env.client.get("/_sandbox/access-log")).json()
    entries = log["entries"]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4] and log["last"] == 4
    assert [(e["division"], e["endpoint"], e["status"]) for e in entries] == [
        (100001, "bulk/Financial/TransactionLines", 200),
        (100001, "bulk/Financial/TransactionLines", 200),
        (100001, "bulk/Financial/TransactionLines", 401),
        (100001, "current/Me", 200),
    ]
    assert entries[0]["page"] == "" and entries[1]["page"] == link.split("$skiptoken=")[1]
    assert entries[1]["agent"] == "tool/1"
    assert entries[1]["query"] == link.split("?", 1)[1] and "%24select=ID" in entries[0]["query"]
    assert entries[2]["client_id"] is None and entries[0]["client_id"]


async def test_refused_calls_are_counted_though_stats_leave_them_out(env: Env) -> None:
    grant = await env.grant()
    await env.client.post("/_sandbox/grants/withdraw", json={"grant_id": grant["grant_id"]})
    refused = await env.api("/api/v1/100001/financial/Journals", grant["access_token"])
    assert refused.status_code == 401
    stats = (await env.client.get("/_sandbox/stats")).json()
    assert stats["calls_total"] == 0 and stats["status_counts"] == {"401": 1}
    entries = (await env.client.get("/_sandbox/access-log")).json()["entries"]
    assert [(e["division"], e["status"]) for e in entries] == [(100001, 401)]
    assert entries[0]["client_id"]  # the token was known: whose app it was is kept


async def test_a_window_of_calls_is_read_by_number_and_division(env: Env) -> None:
    anna = (await env.grant())["access_token"]
    dirk = (await env.grant("dirk.multi@demo.nl"))["access_token"]
    await env.api("/api/v1/100001/financial/Journals", anna)
    mark = (await env.client.get("/_sandbox/access-log")).json()["last"]
    await env.api("/api/v1/100001/financial/Journals", anna)
    await env.api("/api/v1/200001/financial/Journals", dirk)
    after = (await env.client.get(f"/_sandbox/access-log?since={mark}")).json()["entries"]
    assert [e["division"] for e in after] == [100001, 200001]
    only = (await env.client.get(f"/_sandbox/access-log?since={mark}&division=200001")).json()
    assert [e["seq"] for e in only["entries"]] == [3]
    assert (await env.client.get("/_sandbox/access-log?since=x")).status_code == 400
