"""Admin changes show up through sync (Timestamp filter), sync/Deleted and the expected figures."""

from __future__ import annotations

from exact_sandbox.testing import Env


async def _sync(env: Env, token: str, entity: str, after: int, select: str) -> list[dict]:
    r = await env.api(f"/api/v1/100001/sync/{entity}", token,
                      **{"$select": select, "$filter": f"Timestamp gt {after}L"})
    assert r.status_code == 200, r.text
    rows: list[dict] = r.json()["d"]["results"]
    return rows


async def _max_ts(env: Env, token: str, entity: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    url: str | None = f"/api/v1/100001/sync/{entity}?$select=Timestamp&$filter=Timestamp gt 1L"
    top = 0
    while url:
        d = (await env.client.get(url, headers=headers)).json()["d"]
        top = max([top, *(r["Timestamp"] for r in d["results"])])
        url = d.get("__next")
    return top


async def test_inserts_updates_and_deletes_flow_through_sync(env: Env) -> None:
    t = (await env.grant())["access_token"]
    before = (await env.client.get("/_sandbox/expected/100001")).json()["entities"]
    high = await _max_ts(env, t, "Financial/TransactionLines")
    change = (await env.client.post("/_sandbox/divisions/100001/changes", json={
        "entity": "TransactionLines", "insert": 2, "update": 3, "delete": 1})).json()
    assert change["inserted"] and len(change["updated"]) == 3 and change["deleted"]
    assert change["max_timestamp"] > high
    rows = await _sync(env, t, "Financial/TransactionLines", high,
                       "ID,EntryID,AmountDC,Description,Timestamp")
    ids = {r["ID"] for r in rows}
    assert set(change["inserted"]) <= ids
    assert set(change["updated"]) - set(change["deleted"]) <= ids
    assert not ids & set(change["deleted"])
    assert all(r["Timestamp"] > high for r in rows)
    inserted = [r for r in rows if r["ID"] in change["inserted"]]
    by_entry: dict[str, int] = {}
    for r in inserted:
        by_entry[r["EntryID"]] = by_entry.get(r["EntryID"], 0) + round(r["AmountDC"] * 100)
    assert set(by_entry.values()) == {0}
    deleted = await _sync(env, t, "Deleted", 1, "ID,EntityKey,EntityType,Timestamp,DeletedDate")
    assert {d["EntityKey"] for d in deleted} == set(change["deleted"])
    assert {d["EntityType"] for d in deleted} == {1}
    after = (await env.client.get("/_sandbox/expected/100001")).json()
    tl = after["entities"]["TransactionLines"]
    assert after["data_version"] == 1
    assert tl["count"] == (before["TransactionLines"]["count"] + len(change["inserted"])
                           - len(change["deleted"]))
    assert tl["sum_amount_dc"] == "0.00"
    assert tl["id_hash"] != before["TransactionLines"]["id_hash"]


async def test_full_resync_after_changes_matches_expected(env: Env) -> None:
    t = (await env.grant())["access_token"]
    await env.client.post("/_sandbox/divisions/100001/changes", json={
        "entity": "TransactionLines", "insert": 3, "update": 5, "delete": 2})
    headers = {"Authorization": f"Bearer {t}", "Accept": "application/json"}
    for kind in ("sync", "bulk"):
        url: str | None = (f"/api/v1/100001/{kind}/Financial/TransactionLines?$select=ID"
                           + ("&$filter=Timestamp gt 1L" if kind == "sync" else ""))
        ids: list[str] = []
        while url:
            d = (await env.client.get(url, headers=headers)).json()["d"]
            ids += [r["ID"] for r in d["results"]]
            url = d.get("__next")
        expected = (await env.client.get("/_sandbox/expected/100001")).json()
        assert len(ids) == len(set(ids)) == expected["entities"]["TransactionLines"]["count"]


async def test_master_data_changes_and_explicit_fields(env: Env) -> None:
    t = (await env.grant())["access_token"]
    accounts = await _sync(env, t, "CRM/Accounts", 1, "ID,Name,Timestamp")
    target = accounts[0]["ID"]
    r = await env.client.post("/_sandbox/divisions/100001/changes", json={
        "entity": "Accounts", "update_ids": [target], "fields": {"Name": "Renamed B.V."},
        "insert": 1})
    assert r.status_code == 200, r.text
    rows = await _sync(env, t, "CRM/Accounts", max(a["Timestamp"] for a in accounts),
                       "ID,Name,Timestamp")
    assert {"Renamed B.V."} <= {row["Name"] for row in rows}
    assert len(rows) == 2
    gl = await env.client.post("/_sandbox/divisions/100001/changes", json={
        "entity": "GLAccounts", "delete": 1})
    deleted = await _sync(env, t, "Deleted", 1, "EntityKey,EntityType")
    assert {"EntityKey": gl.json()["deleted"][0], "EntityType": 7} in deleted
    bad = await env.client.post("/_sandbox/divisions/100001/changes", json={
        "entity": "Journals", "insert": 1})
    assert bad.status_code == 400


async def test_reporting_balance_agrees_with_transaction_lines(env: Env) -> None:
    t = (await env.grant())["access_token"]
    await env.client.post("/_sandbox/divisions/100001/changes", json={"insert": 2, "delete": 1})
    headers = {"Authorization": f"Bearer {t}", "Accept": "application/json"}
    url: str | None = "/api/v1/100001/financial/ReportingBalance"
    count, debit = 0, 0
    while url:
        d = (await env.client.get(url, headers=headers)).json()["d"]
        count += sum(r["Count"] for r in d["results"])
        debit += sum(round(r["AmountDebit"] * 100) for r in d["results"])
        url = d.get("__next")
    tl = (await env.client.get("/_sandbox/expected/100001")).json()["entities"]["TransactionLines"]
    assert count == tl["count"]
    assert debit == round(float(tl["sum_debit_dc"]) * 100)


async def _balances(env: Env, token: str) -> dict[tuple[int, int, str], int]:
    """Cents of ReportingBalance per (year, period, G/L account code)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    url: str | None = ("/api/v1/100001/financial/ReportingBalance?$select="
                       "ReportingYear,ReportingPeriod,GLAccountCode,Amount")
    out: dict[tuple[int, int, str], int] = {}
    while url:
        d = (await env.client.get(url, headers=headers)).json()["d"]
        for r in d["results"]:
            key = (r["ReportingYear"], r["ReportingPeriod"], r["GLAccountCode"])
            out[key] = out.get(key, 0) + round(r["Amount"] * 100)
        url = d.get("__next")
    return out


async def test_an_unreported_line_is_missing_from_exactly_its_balance(env: Env) -> None:
    t = (await env.grant())["access_token"]
    line = (await _sync(env, t, "Financial/TransactionLines", 1,
                        "ID,FinancialYear,FinancialPeriod,GLAccountCode,AmountDC,Timestamp"))[5]
    before = await _balances(env, t)
    r = await env.client.patch("/_sandbox/faults", json={"unreported_lines": [line["ID"].upper()]})
    assert r.status_code == 200 and r.json()["unreported_lines"] == [line["ID"].lower()]
    after = await _balances(env, t)
    key = (line["FinancialYear"], line["FinancialPeriod"], line["GLAccountCode"])
    assert before[key] - after[key] == round(line["AmountDC"] * 100)
    assert {k: v for k, v in after.items() if k != key} == \
        {k: v for k, v in before.items() if k != key}
    await env.client.delete("/_sandbox/faults")
    assert await _balances(env, t) == before
