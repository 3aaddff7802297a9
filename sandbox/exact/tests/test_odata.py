"""OData serving: $select rules, filters, paging with __next, page sizes, Accept, paths."""

from __future__ import annotations

import json
from decimal import Decimal

from exact_sandbox.aggregates import id_hash
from exact_sandbox.odata import SELECT_REQUIRED
from exact_sandbox.testing import Env

TL_FIELDS = ("ID,EntryID,EntryNumber,LineNumber,Division,Date,Created,Modified,FinancialYear,"
             "FinancialPeriod,GLAccount,GLAccountCode,GLAccountDescription,AmountDC,AmountFC,"
             "Currency,ExchangeRate,JournalCode,JournalDescription,Description,CostCenter,"
             "CostUnit,Account,AccountCode,AccountName,Type,Status,Timestamp")


def _parse(text: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(text, parse_float=Decimal)
    return data


async def test_paging_100k_rows_to_the_end_matches_expected_figures(env: Env) -> None:
    tokens = await env.grant("eva.large@demo.nl")
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"}
    url: str | None = ("/api/v1/300001/sync/Financial/TransactionLines"
                       "?$select=ID,AmountDC,Timestamp&$filter=Timestamp gt 1L")
    count, total, debit, pages, ids = 0, Decimal(0), Decimal(0), 0, []
    while url:
        r = await env.client.get(url, headers=headers)
        assert r.status_code == 200
        d = _parse(r.text)["d"]
        assert isinstance(d, dict)
        rows = d["results"]
        assert len(rows) <= 1000
        pages += 1
        for row in rows:
            count += 1
            total += row["AmountDC"]
            debit += max(row["AmountDC"], Decimal(0))
            ids.append(row["ID"])
        url = d.get("__next")
    expected = (await env.client.get("/_sandbox/expected/300001")).json()["entities"]
    tl = expected["TransactionLines"]
    assert count == tl["count"] == 100_000
    assert pages == 100
    assert total == Decimal(tl["sum_amount_dc"]) == 0
    assert debit == Decimal(tl["sum_debit_dc"])
    assert id_hash(ids) == tl["id_hash"]
    assert len(set(ids)) == count


async def test_select_is_required_on_sync_and_bulk(env: Env) -> None:
    t = (await env.grant())["access_token"]
    for path in ("/api/v1/100001/sync/Financial/TransactionLines",
                 "/api/v1/100001/bulk/Financial/GLAccounts"):
        r = await env.api(path, t)
        assert r.status_code == 400
        assert r.json()["error"]["message"]["value"] == SELECT_REQUIRED
        top1 = await env.api(path, t, **{"$top": "1"})
        assert top1.status_code == 200
        assert len(top1.json()["d"]["results"]) == 1
        assert "__next" not in top1.json()["d"]


async def test_select_returns_only_selected_fields_and_rejects_unknown(env: Env) -> None:
    t = (await env.grant())["access_token"]
    r = await env.api("/api/v1/100001/sync/Financial/TransactionLines", t,
                      **{"$select": TL_FIELDS})
    row = r.json()["d"]["results"][0]
    assert list(row) == TL_FIELDS.split(",")
    assert row["Date"].startswith("/Date(") and row["Timestamp"] > 1
    bad = await env.api("/api/v1/100001/bulk/Financial/TransactionLines", t,
                        **{"$select": "ID,Timestamp"})  # Timestamp is sync-only
    assert bad.status_code == 400
    bad = await env.api("/api/v1/100001/bulk/Financial/TransactionLines", t,
                        **{"$select": "ID,Nope"})
    assert bad.status_code == 400


async def test_sync_accepts_only_the_timestamp_filter(env: Env) -> None:
    t = (await env.grant())["access_token"]
    ok = await env.api("/api/v1/100001/sync/Financial/GLAccounts", t,
                       **{"$select": "ID,Timestamp", "$filter": "Timestamp gt 20000000010L"})
    stamps = [r["Timestamp"] for r in ok.json()["d"]["results"]]
    assert stamps and min(stamps) == 20000000011
    bad = await env.api("/api/v1/100001/sync/Financial/GLAccounts", t,
                        **{"$select": "ID", "$filter": "Code eq '1100'"})
    assert bad.status_code == 400


async def test_regular_endpoints_page_by_60_and_bulk_by_1000(env: Env) -> None:
    t = (await env.grant())["access_token"]
    regular = await env.api("/api/v1/100001/budget/Budgets", t)
    body = regular.json()["d"]
    assert len(body["results"]) == 60
    assert "$skiptoken=guid'" in body["__next"]
    second = await env.client.get(body["__next"], headers={"Authorization": f"Bearer {t}",
                                                           "Accept": "application/json"})
    assert second.json()["d"]["results"][0]["ID"] != body["results"][0]["ID"]
    bulk = await env.api("/api/v1/100001/bulk/Financial/TransactionLines", t,
                         **{"$select": "ID"})
    assert len(bulk.json()["d"]["results"]) == 1000


async def test_bulk_paging_reaches_every_row_once(env: Env) -> None:
    t = (await env.grant())["access_token"]
    headers = {"Authorization": f"Bearer {t}", "Accept": "application/json"}
    url: str | None = "/api/v1/100001/bulk/Financial/TransactionLines?$select=ID,AmountDC"
    ids: list[str] = []
    while url:
        d = (await env.client.get(url, headers=headers)).json()["d"]
        ids += [r["ID"] for r in d["results"]]
        url = d.get("__next")
    assert len(ids) == len(set(ids)) == 2000


async def test_filters_on_bulk_and_regular(env: Env) -> None:
    t = (await env.grant())["access_token"]
    first = (await env.api("/api/v1/100001/bulk/Financial/TransactionLines", t,
                           **{"$select": "ID,FinancialYear,Modified", "$top": "1"})
             ).json()["d"]["results"][0]
    by_id = await env.api("/api/v1/100001/financialtransaction/TransactionLines", t,
                          **{"$filter": f"ID eq guid'{first['ID']}'"})
    assert [r["ID"] for r in by_id.json()["d"]["results"]] == [first["ID"]]
    year = await env.api("/api/v1/100001/bulk/Financial/TransactionLines", t,
                         **{"$select": "FinancialYear", "$filter": "FinancialYear eq 2023"})
    years = {r["FinancialYear"] for r in year.json()["d"]["results"]}
    assert years == {2023}
    modified = await env.api("/api/v1/100001/bulk/Financial/TransactionLines", t,
                             **{"$select": "Modified",
                                "$filter": "Modified ge datetime'2025-06-01T00:00:00'"})
    stamps = [int(r["Modified"][6:-2]) for r in modified.json()["d"]["results"]]
    assert stamps and min(stamps) >= 1_748_736_000_000
    rb = await env.api("/api/v1/100001/financial/ReportingBalance", t,
                       **{"$filter": "ReportingYear eq 2024 and BalanceType eq 'W'"})
    rows = rb.json()["d"]["results"]
    assert rows and {(r["ReportingYear"], r["BalanceType"]) for r in rows} == {(2024, "W")}
    # the trial-balance check's re-read of changed periods (docs/trial-balance.md)
    periods = await env.api("/api/v1/100001/financial/ReportingBalance", t, **{
        "$select": "ReportingYear,ReportingPeriod",
        "$filter": "ReportingYear ge 2024 and ReportingYear le 2024 and ReportingPeriod ge 3 "
                   "and ReportingPeriod le 4"})
    found = {(r["ReportingYear"], r["ReportingPeriod"]) for r in periods.json()["d"]["results"]}
    assert found == {(2024, 3), (2024, 4)}


async def test_regular_endpoint_with_sync_twin_requires_a_filter(env: Env) -> None:
    t = (await env.grant())["access_token"]
    r = await env.api("/api/v1/100001/financial/GLAccounts", t)
    assert r.status_code == 400
    ok = await env.api("/api/v1/100001/financial/GLAccounts", t,
                       **{"$filter": "Code eq '1100'"})
    assert [a["Description"] for a in ok.json()["d"]["results"]] == ["Bank"]


async def test_json_only_and_case_sensitive_paths(env: Env) -> None:
    t = (await env.grant())["access_token"]
    xml = await env.client.get("/api/v1/100001/hrm/Costcenters",
                               headers={"Authorization": f"Bearer {t}"})
    assert xml.status_code == 406
    assert (await env.api("/api/v1/100001/hrm/Costcenters", t)).status_code == 200
    assert (await env.api("/api/v1/100001/hrm/Costunits", t)).status_code == 200
    assert (await env.api("/api/v1/100001/hrm/CostCenters", t)).status_code == 404


async def test_top_limits_the_total(env: Env) -> None:
    t = (await env.grant())["access_token"]
    r = await env.api("/api/v1/100001/bulk/CRM/Accounts", t, **{"$select": "ID", "$top": "5"})
    assert len(r.json()["d"]["results"]) == 5
    assert "__next" not in r.json()["d"]


async def test_every_listed_entity_is_served(env: Env) -> None:
    t = (await env.grant())["access_token"]
    for path, params in [
        ("financial/Journals", {}), ("financial/FinancialPeriods", {}),
        ("hrm/Costcenters", {}), ("hrm/Costunits", {}), ("budget/Budgets", {}),
        ("crm/Accounts", {"$filter": "IsSupplier eq true"}),
        ("financial/GLClassifications", {"$filter": "Abstract eq false"}),
        ("sync/CRM/Accounts", {"$select": "ID,Name,Timestamp"}),
        ("sync/Financial/GLClassifications", {"$select": "ID,Parent,Timestamp"}),
        ("bulk/Financial/GLClassifications", {"$select": "ID,Code"}),
        ("sync/Deleted", {"$select": "ID,EntityKey"}),
    ]:
        r = await env.api(f"/api/v1/100001/{path}", t, **params)
        assert r.status_code == 200, (path, r.text)
        assert "results" in r.json()["d"]


async def test_single_entity_by_key(env: Env) -> None:
    t = (await env.grant())["access_token"]
    first = (await env.api("/api/v1/100001/financial/Journals", t)).json()["d"]["results"][0]
    one = await env.api(f"/api/v1/100001/financial/Journals(guid'{first['ID']}')", t,
                        **{"$select": "ID,Code"})
    assert one.json() == {"d": {"ID": first["ID"], "Code": first["Code"]}}
    missing = await env.api(
        "/api/v1/100001/financial/Journals(guid'00000000-0000-4000-8000-000000000000')", t)
    assert missing.status_code == 404


def test_the_sandbox_imports_nothing_from_the_project() -> None:
    import re
    from pathlib import Path

    import exact_sandbox

    project = re.compile(r"^\s*(from|import)\s+(contracts|connector_runtime|auth|ingest|datasource)\b",
                         re.MULTILINE)
    for path in Path(exact_sandbox.__file__).parent.glob("*.py"):
        assert not project.search(path.read_text()), path


async def test_a_field_the_entity_lacks_is_exacts_400(env: Env) -> None:
    t = (await env.grant())["access_token"]
    r = await env.api("/api/v1/100001/budget/Budgets", t, **{"$select": "ID,CostCenter"})
    assert r.status_code == 400
    assert r.json()["error"]["message"]["value"] == (
        "Could not find a property named 'CostCenter' on type 'Exact.Web.Api.Models.Budget'.")
    ok = await env.api("/api/v1/100001/budget/Budgets", t, **{"$select": "ID,Costcenter"})
    assert ok.status_code == 200


async def test_odata_is_as_strict_as_exacts(env: Env) -> None:
    t = (await env.grant())["access_token"]
    sync = "/api/v1/100001/sync/Financial/TransactionLines"
    regular = "/api/v1/100001/financial/Journals"
    star = await env.api(sync, t, **{"$select": "*", "$filter": "Timestamp gt 1"})
    assert star.status_code == 400
    assert star.json()["error"]["message"]["value"] == SELECT_REQUIRED
    for bad in ("Timestamp GT 1", "Timestamp gt 1 AND Timestamp gt 2", "(Timestamp gt 1",
                "Timestamp gt 1)"):
        r = await env.api(sync, t, **{"$select": "ID", "$filter": bad})
        assert r.status_code == 400, bad
    wrong_type = await env.api(regular, t, **{"$filter": "ID eq 'text'"})
    assert wrong_type.status_code == 400
    assert (await env.api(regular, t, **{"$filter": "Type eq '10'"})).status_code == 400
    for option in ("$orderby", "$skip", "$expand", "$inlinecount"):
        r = await env.api(regular, t, **{option: "ID"})
        assert r.status_code == 400, option
    assert (await env.api(regular, t, **{"$filter": "(Type eq 10) and (Type ne 20)"})
            ).status_code == 200
    assert (await env.api("/api/v1/100001/financial/TransactionLines", t)).status_code == 404


async def test_int64_values_can_be_served_as_strings(env: Env) -> None:
    t = (await env.grant())["access_token"]
    sync = "/api/v1/100001/sync/Financial/GLAccounts"
    params = {"$select": "ID,Code,Timestamp", "$filter": "Timestamp gt 1", "$top": "1"}
    number = (await env.api(sync, t, **params)).json()["d"]["results"][0]
    assert isinstance(number["Timestamp"], int)
    await env.client.patch("/_sandbox/model", json={"int64_as_string": True})
    text = (await env.api(sync, t, **params)).json()["d"]["results"][0]
    assert text["Timestamp"] == str(number["Timestamp"])
    assert text["Code"] == number["Code"]


async def test_a_retired_field_and_a_refused_endpoint(env: Env) -> None:
    t = (await env.grant())["access_token"]
    await env.client.patch("/_sandbox/model", json={
        "retired_fields": {"hrm/Costcenters": ["Active"]},
        "refused_endpoints": {"budget/Budgets": 403}})
    gone = await env.api("/api/v1/100001/hrm/Costcenters", t, **{"$select": "ID,Active"})
    assert gone.status_code == 400
    assert "named 'Active'" in gone.json()["error"]["message"]["value"]
    rest = (await env.api("/api/v1/100001/hrm/Costcenters", t)).json()["d"]["results"]
    assert rest and "Active" not in rest[0] and "EndDate" in rest[0]
    assert (await env.api("/api/v1/100001/budget/Budgets", t)).status_code == 403


async def test_reporting_year_filters_answer_what_a_row_by_row_test_answers(env: Env) -> None:
    # ReportingBalance answers ReportingYear filters from its year order (as an index would):
    # paged to the end, each comparison gives exactly the rows the unfiltered list has
    t = (await env.grant())["access_token"]
    headers = {"Authorization": f"Bearer {t}", "Accept": "application/json"}

    async def listed(filter_: str | None) -> list[tuple[int, int]]:
        query = "$select=ID,ReportingYear" + (f"&$filter={filter_}" if filter_ else "")
        url: str | None = f"/api/v1/100001/financial/ReportingBalance?{query}"
        rows: list[tuple[int, int]] = []
        while url:
            d = (await env.client.get(url, headers=headers)).json()["d"]
            rows += [(r["ID"], r["ReportingYear"]) for r in d["results"]]
            url = d.get("__next")
        return rows

    everything = await listed(None)
    years = sorted({y for _i, y in everything})
    assert len(years) > 1
    tests = {"eq": int.__eq__, "ne": int.__ne__, "gt": int.__gt__, "ge": int.__ge__,
             "lt": int.__lt__, "le": int.__le__}
    for year in (years[0] - 1, years[0], years[1], years[-1], years[-1] + 1):
        for op, test in tests.items():
            expected = [(i, y) for i, y in everything if test(y, year)]
            assert await listed(f"ReportingYear {op} {year}") == expected, (op, year)
    both = await listed(f"ReportingYear ge {years[0]} and ReportingYear lt {years[-1]}")
    assert both == [(i, y) for i, y in everything if years[0] <= y < years[-1]]
