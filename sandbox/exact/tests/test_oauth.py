"""The OAuth dance against a real uvicorn-served sandbox, driven by a real HTTP client."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from exact_sandbox.testing import CLIENT_ID, CLIENT_SECRET, JSON, REDIRECT_URI, Live


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


async def _sign_in(client: httpx.AsyncClient, username: str, password: str,
                   state: str = "st-123", redirect_uri: str = REDIRECT_URI) -> httpx.Response:
    page = await client.get("/api/oauth2/auth", params={
        "client_id": CLIENT_ID, "redirect_uri": redirect_uri, "response_type": "code",
        "state": state, "force_login": "1"})
    assert page.status_code == 200
    assert '<form method="post"' in page.text
    return await client.post("/api/oauth2/auth/signin", data={
        "request_id": _hidden(page.text, "request_id"), "username": username,
        "password": password})


async def _dance(live: Live, username: str, password: str, decision: str = "approve",
                 divisions: list[str] | None = None) -> dict[str, list[str]]:
    async with httpx.AsyncClient(base_url=live.url) as client:
        signed = await _sign_in(client, username, password)
        assert signed.status_code == 303, signed.text
        consent = await client.get(signed.headers["location"])
        assert consent.status_code == 200
        codes = re.findall(r'name="division" value="(\d+)"', consent.text)
        form: dict[str, object] = {"request_id": _hidden(consent.text, "request_id"),
                                   "decision": decision,
                                   "division": divisions if divisions is not None else codes}
        done = await client.post("/api/oauth2/auth/consent", data=form)
        assert done.status_code == 302
        location = done.headers["location"]
        assert location.startswith(REDIRECT_URI + "?")
        return parse_qs(urlsplit(location).query)


async def test_full_dance_gives_code_state_and_tokens_that_work(live: Live) -> None:
    query = await _dance(live, "anna.admin@demo.nl", "demo-anna")
    assert query["state"] == ["st-123"]
    async with httpx.AsyncClient(base_url=live.url) as client:
        token = await client.post("/api/oauth2/token", data={
            "grant_type": "authorization_code", "code": query["code"][0],
            "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET})
        assert token.status_code == 200, token.text
        body = token.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == "600"
        assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
        me = await client.get("/api/v1/current/Me", headers={
            "Authorization": f"Bearer {body['access_token']}", **JSON})
        assert me.status_code == 200
        assert me.json()["d"]["results"][0]["UserName"] == "anna.admin@demo.nl"
        again = await client.post("/api/oauth2/token", data={
            "grant_type": "authorization_code", "code": query["code"][0],
            "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET})
        assert again.status_code == 400
        assert again.json()["error"] == "invalid_grant"


async def test_consent_lists_every_division_of_a_multi_division_admin(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        signed = await _sign_in(client, "dirk.multi@demo.nl", "demo-dirk")
        consent = await client.get(signed.headers["location"])
        for code in ("200001", "200002", "200003"):
            assert f'value="{code}"' in consent.text
        assert "Van Dijk Retail B.V." in consent.text


async def test_partial_consent_grants_only_the_chosen_division(live: Live) -> None:
    query = await _dance(live, "dirk.multi@demo.nl", "demo-dirk", divisions=["200001"])
    async with httpx.AsyncClient(base_url=live.url) as client:
        token = (await client.post("/api/oauth2/token", auth=(CLIENT_ID, CLIENT_SECRET), data={
            "grant_type": "authorization_code", "code": query["code"][0],
            "redirect_uri": REDIRECT_URI})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}", **JSON}
        me = (await client.get("/api/v1/current/Me", headers=headers)).json()
        assert me["d"]["results"][0]["CurrentDivision"] == 200002  # not granted: pitfall
        divs = (await client.get("/api/v1/200001/system/Divisions", headers=headers)).json()
        assert [d["Code"] for d in divs["d"]["results"]] == [200001]
        refused = await client.get("/api/v1/200002/financial/Journals", headers=headers)
        assert refused.status_code == 403
        assert refused.headers["Reason"] == "NoDivisionAccess"


async def test_decline_redirects_with_access_denied_and_state(live: Live) -> None:
    query = await _dance(live, "anna.admin@demo.nl", "demo-anna", decision="decline")
    assert query == {"error": ["access_denied"], "state": ["st-123"]}


async def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        page = await client.get("/api/oauth2/auth", params={
            "client_id": CLIENT_ID, "redirect_uri": "http://127.0.0.1:8001/oauth/callback/x",
            "response_type": "code", "state": "s"})
        assert page.status_code == 400
        assert "location" not in page.headers
        assert "redirect_uri" in page.text
        unknown = await client.get("/api/oauth2/auth", params={
            "client_id": "nope", "redirect_uri": REDIRECT_URI, "response_type": "code"})
        assert unknown.status_code == 400


@pytest.mark.parametrize("username,password", [
    ("lucas@demo.be", "demo-be"), ("lena@demo.de", "demo-de"), ("oliver@demo.co.uk", "demo-uk"),
    ("emma@demo.com", "demo-us"), ("sofia@demo.es", "demo-es"), ("louis@demo.fr", "demo-fr"),
    ("nobody@demo.nl", "whatever"), ("anna.admin@demo.nl", "wrong"),
])
async def test_other_instance_user_fails_sign_in_like_an_unknown_user(
        live: Live, username: str, password: str) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        response = await _sign_in(client, username, password)
        assert response.status_code == 200
        assert "De gebruikersnaam of het wachtwoord is onjuist." in response.text
        assert "set-cookie" not in response.headers


async def test_signed_in_browser_skips_sign_in_unless_forced(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        await _sign_in(client, "anna.admin@demo.nl", "demo-anna")
        again = await client.get("/api/oauth2/auth", params={
            "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code",
            "state": "x", "force_login": "0"})
        assert again.status_code == 303
        assert "/api/oauth2/auth/consent" in again.headers["location"]


async def test_token_endpoint_refuses_wrong_secret_and_wrong_redirect(live: Live) -> None:
    query = await _dance(live, "bram.admin@demo.nl", "demo-bram")
    async with httpx.AsyncClient(base_url=live.url) as client:
        bad_secret = await client.post("/api/oauth2/token", data={
            "grant_type": "authorization_code", "code": query["code"][0],
            "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID, "client_secret": "x"})
        assert bad_secret.status_code == 401
        assert bad_secret.json()["error"] == "invalid_client"
        bad_redirect = await client.post("/api/oauth2/token", data={
            "grant_type": "authorization_code", "code": query["code"][0],
            "redirect_uri": "http://localhost:8001/oauth/callback", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET})
        assert bad_redirect.status_code == 400
        assert bad_redirect.json()["error"] == "invalid_grant"


async def test_code_expires_after_three_minutes(live: Live) -> None:
    query = await _dance(live, "anna.admin@demo.nl", "demo-anna")
    live.sandbox.clock.advance(181)
    async with httpx.AsyncClient(base_url=live.url) as client:
        late = await client.post("/api/oauth2/token", data={
            "grant_type": "authorization_code", "code": query["code"][0],
            "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET})
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"
