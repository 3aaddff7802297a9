"""current/Me, the division endpoints and the rights check agree with the seeded users."""

from __future__ import annotations

from exact_sandbox.testing import Env


async def test_me_describes_the_signed_in_user(env: Env) -> None:
    tokens = await env.grant("dirk.multi@demo.nl")
    me = (await env.api("/api/v1/current/Me", tokens["access_token"])).json()["d"]["results"][0]
    assert me["UserName"] == "dirk.multi@demo.nl"
    assert me["CurrentDivision"] == 200002
    assert me["FullName"] == "Dirk van Dijk"
    selected = (await env.api("/api/v1/current/Me", tokens["access_token"],
                              **{"$select": "UserID,CurrentDivision"})).json()
    assert set(selected["d"]["results"][0]) == {"UserID", "CurrentDivision"}


async def test_division_endpoints_list_only_granted_divisions(env: Env) -> None:
    tokens = await env.grant("dirk.multi@demo.nl", divisions=[200001, 200003])
    t = tokens["access_token"]
    system = (await env.api("/api/v1/200001/system/Divisions", t)).json()["d"]["results"]
    assert [d["Code"] for d in system] == [200001, 200003]
    assert system[0]["IsMainDivision"] is True
    all_divs = (await env.api("/api/v1/200001/system/AllDivisions", t)).json()["d"]["results"]
    assert [d["Code"] for d in all_divs] == [200001, 200003]
    hrm = (await env.api("/api/v1/200003/hrm/Divisions", t)).json()["d"]["results"]
    assert {"HID", "Main"} <= set(hrm[0])
    assert "Hid" not in hrm[0]


async def test_admin_has_the_administrator_role_and_all_rights(env: Env) -> None:
    tokens = await env.grant("anna.admin@demo.nl")
    me = (await env.api("/api/v1/current/Me", tokens["access_token"])).json()["d"]["results"][0]
    roles = (await env.api("/api/v1/100001/users/UserRolesPerDivision", tokens["access_token"],
                           **{"$filter": f"UserID eq guid'{me['UserID']}'"})).json()
    assert [(r["Role"], r["RoleLevel"], r["Division"]) for r in roles["d"]["results"]] == [
        (1, 3, 100001)]
    rights = await env.api("/api/v1/100001/users/UserHasRights", tokens["access_token"],
                           endpoint="'financial/GLAccounts'", action="'GET'")
    assert rights.json() == {"d": {"UserHasRights": True}}


async def test_non_admin_user_has_access_but_no_administrator_role(env: Env) -> None:
    tokens = await env.grant("carla.user@demo.nl")
    t = tokens["access_token"]
    me = (await env.api("/api/v1/current/Me", t)).json()["d"]["results"][0]
    roles = (await env.api("/api/v1/100001/users/UserRolesPerDivision", t,
                           **{"$filter": f"UserID eq guid'{me['UserID']}'"})).json()
    assert [r["Role"] for r in roles["d"]["results"]] == [20]
    assert 1 not in [r["Role"] for r in roles["d"]["results"]]
    read = await env.api("/api/v1/100001/users/UserHasRights", t,
                         endpoint="'financial/GLAccounts'", action="'GET'")
    assert read.json()["d"]["UserHasRights"] is True
    write = await env.api("/api/v1/100001/users/UserHasRights", t,
                          endpoint="'financial/GLAccounts'", action="'POST'")
    assert write.json()["d"]["UserHasRights"] is False


async def test_other_instance_users_cannot_get_a_grant(env: Env) -> None:
    r = await env.client.post("/_sandbox/grants", json={"username": "lucas@demo.be"})
    assert r.status_code == 404


async def test_rights_follow_the_role_and_the_endpoint(env: Env) -> None:
    """A financial user may read the ledger but not CRM accounts; literals must be quoted."""
    t = (await env.grant("carla.user@demo.nl"))["access_token"]

    async def rights(endpoint: str, action: str = "'GET'") -> object:
        r = await env.api("/api/v1/100001/users/UserHasRights", t, endpoint=endpoint,
                          action=action)
        return r.json()["d"]["UserHasRights"] if r.status_code == 200 else r.status_code

    assert await rights("'financial/ReportingBalance'") is True
    assert await rights("'sync/CRM/Accounts'") is False
    assert await rights("'no/Such'") is False
    assert await rights("financial/GLAccounts") == 400


async def test_roles_carry_exacts_description_and_dates(env: Env) -> None:
    t = (await env.grant("anna.admin@demo.nl"))["access_token"]
    rows = (await env.api("/api/v1/100001/users/UserRolesPerDivision", t)).json()["d"]["results"]
    assert rows and {"Description", "StartDate", "EndDate"} <= set(rows[0])
    assert "RoleDescription" not in rows[0]
