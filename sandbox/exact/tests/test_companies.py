"""Many-companies mode: generated companies on demand, their administrators, bounded memory,
and a compressed daily window."""

from __future__ import annotations

from exact_sandbox.config import Limits, ManyCompanies
from exact_sandbox.testing import T0, MakeEnv

FIRST = 700_001


def _journals(code: int) -> str:
    return f"/api/v1/{code}/financial/Journals"


async def _first_page(env_factory: MakeEnv, code: int) -> list[dict[str, object]]:
    env = env_factory(companies=ManyCompanies(count=1000, rows=200, first_code=FIRST))
    token = (await env.grant(f"admin.{code}@companies.sandbox"))["access_token"]
    r = await env.api(f"/api/v1/{code}/bulk/Financial/TransactionLines", token,
                      **{"$select": "ID,AmountDC,GLAccountCode"})
    assert r.status_code == 200, r.text
    rows: list[dict[str, object]] = r.json()["d"]["results"]
    return rows


async def test_each_company_is_generated_the_same_way_every_time(make_env: MakeEnv) -> None:
    first = await _first_page(make_env, FIRST + 500)
    again = await _first_page(make_env, FIRST + 500)
    other = await _first_page(make_env, FIRST + 501)
    assert first and first == again
    assert {r["ID"] for r in first}.isdisjoint({r["ID"] for r in other})


async def test_ledger_sizes_vary_around_the_configured_rows(make_env: MakeEnv) -> None:
    env = make_env(companies=ManyCompanies(count=50, rows=200, first_code=FIRST))
    divisions = {d["code"]: d for d in (await env.client.get("/_sandbox/divisions")).json()}
    sizes = [divisions[c]["transaction_lines"] for c in range(FIRST, FIRST + 50)]
    assert all(100 <= s <= 300 for s in sizes)
    assert len(set(sizes)) > 10
    assert FIRST + 50 not in divisions
    expected = (await env.client.get(f"/_sandbox/expected/{FIRST + 7}")).json()
    assert expected["entities"]["TransactionLines"]["count"] == sizes[7]


async def test_a_company_administrator_reaches_only_their_company(make_env: MakeEnv) -> None:
    env = make_env(companies=ManyCompanies(count=10, rows=100, first_code=FIRST))
    directory = env.sandbox.directory
    admin = directory.authenticate(f"Admin.{FIRST + 3}@companies.sandbox", f"company-{FIRST + 3}")
    assert admin is not None and directory.is_admin(admin, FIRST + 3)
    assert directory.authenticate(f"admin.{FIRST + 3}@companies.sandbox", "wrong") is None
    assert directory.authenticate(f"admin.{FIRST + 10}@companies.sandbox",
                                  f"company-{FIRST + 10}") is None
    assert [u.username for u in directory.users_of_division(FIRST + 3)] == [admin.username]
    token = (await env.grant(admin.username))["access_token"]
    assert (await env.api(_journals(FIRST + 3), token)).status_code == 200
    assert (await env.api(_journals(FIRST + 4), token)).status_code in (401, 403)


async def test_only_the_most_recent_companies_stay_built(make_env: MakeEnv) -> None:
    env = make_env(companies=ManyCompanies(count=100, rows=50, first_code=FIRST, resident=3))
    changed = await env.client.post(f"/_sandbox/divisions/{FIRST}/changes",
                                    json={"entity": "TransactionLines", "insert": 2})
    assert changed.status_code == 200, changed.text
    for code in range(FIRST + 1, FIRST + 20):
        env.sandbox.data(code)
    info = (await env.client.get("/_sandbox/companies")).json()
    assert info["count"] == 100 and info["resident"] == 3 and info["resident_limit"] == 3
    # the changed company was evicted from the generated set but keeps its changes
    assert env.sandbox.data(FIRST).version == 1
    rebuilt = env.sandbox.data(FIRST + 1)
    assert rebuilt.ledger.n == env.sandbox.directory.divisions[FIRST + 1].transaction_lines


async def test_a_compressed_day_resets_the_daily_budget(make_env: MakeEnv) -> None:
    env = make_env(limits=Limits(minutely=100, daily=2, day_seconds=600),
                   companies=ManyCompanies(count=5, rows=50, first_code=FIRST))
    token = (await env.grant(f"admin.{FIRST}@companies.sandbox"))["access_token"]
    path = f"/api/v1/{FIRST}/financial/Journals"
    for _ in range(2):
        assert (await env.api(path, token)).status_code == 200
    refused = await env.api(path, token)
    assert refused.status_code == 429
    day_end = (int(T0 // 600) + 1) * 600
    assert refused.headers["X-RateLimit-Reset"] == str(day_end * 1000)
    env.sandbox.clock.set(day_end)
    token = (await env.grant(f"admin.{FIRST}@companies.sandbox"))["access_token"]
    assert (await env.api(path, token)).status_code == 200
