"""The Exact adapter on httpx.MockTransport: what each token-endpoint answer means, paging,
and errors turned into ours."""

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from auth.adapters.exact import ExactClient
from auth.domain.errors import ExactRefused, ExactRejected, ExactTooEarly, ExactUnavailable

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASE = "https://start.exactonline.nl"
Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> ExactClient:
    return ExactClient(client_id="cid", client_secret="csecret",
                       redirect_uri="https://auth.example/oauth/callback",
                       base_urls={"NL": BASE}, clock=lambda: NOW,
                       transport=httpx.MockTransport(handler))


def token_endpoint(status: int, body: object, headers: dict[str, str] | None = None,
                   seen: list[dict[str, list[str]]] | None = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/oauth2/token"
        if seen is not None:
            seen.append(parse_qs(request.content.decode()))
        return httpx.Response(status, json=body, headers=headers)

    return handle


def test_the_authorization_url_carries_client_redirect_and_state() -> None:
    url = client(token_endpoint(200, {})).authorization_url("NL", "the-state")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{BASE}/api/oauth2/auth"
    assert query == {"response_type": ["code"], "client_id": ["cid"],
                     "redirect_uri": ["https://auth.example/oauth/callback"],
                     "state": ["the-state"]}


async def test_a_code_exchange_posts_the_form_and_reads_expires_in_as_a_string() -> None:
    seen: list[dict[str, list[str]]] = []
    exact = client(token_endpoint(200, {"access_token": "A", "token_type": "bearer",
                                        "expires_in": "600", "refresh_token": "R"}, seen=seen))
    tokens = await exact.exchange_code("NL", "the-code")
    assert (tokens.access_token, tokens.refresh_token) == ("A", "R")
    assert tokens.access_expires_at == NOW + timedelta(seconds=600)
    assert seen[0] == {"grant_type": ["authorization_code"], "code": ["the-code"],
                       "redirect_uri": ["https://auth.example/oauth/callback"],
                       "client_id": ["cid"], "client_secret": ["csecret"]}


async def test_a_refresh_sends_the_refresh_token_and_returns_the_rotated_pair() -> None:
    seen: list[dict[str, list[str]]] = []
    exact = client(token_endpoint(200, {"access_token": "A2", "expires_in": "600",
                                        "refresh_token": "R2"}, seen=seen))
    tokens = await exact.refresh("NL", "R1")
    assert (tokens.access_token, tokens.refresh_token) == ("A2", "R2")
    assert seen[0]["grant_type"] == ["refresh_token"] and seen[0]["refresh_token"] == ["R1"]


@pytest.mark.parametrize(("status", "body", "headers", "error"), [
    (400, {"error": "access_denied",
           "error_description": "Rate limit exceeded: access_token not expired"},
     {"Reason": "TooEarlyToRefreshTokens"}, ExactTooEarly),
    (401, {"error": "unauthorized_client", "error_description": "Old refresh token used."}, {},
     ExactRefused),
    (400, {"error": "invalid_request", "error_description":
           "The refresh token expired at 2026-01-01 and it is now 2026-03-02."}, {}, ExactRefused),
    (400, {"error": "invalid_grant", "error_description": "withdrawn"}, {}, ExactRefused),
    (401, {"error": "invalid_client"}, {}, ExactUnavailable),  # our secret, not the grant
    (429, {"error": "access_denied", "error_description": "daily limit"}, {}, ExactUnavailable),
    (503, {"error": "server_error"}, {}, ExactUnavailable),
])
async def test_token_endpoint_answers_become_our_errors(status: int, body: object,
                                                        headers: dict[str, str],
                                                        error: type) -> None:
    with pytest.raises(error) as raised:
        await client(token_endpoint(status, body, headers)).refresh("NL", "R1-secret")
    assert "R1-secret" not in str(raised.value)


async def test_a_timeout_is_unavailable() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ExactUnavailable):
        await client(hang).refresh("NL", "R1")


async def test_a_refused_code_is_rejected() -> None:
    with pytest.raises(ExactRejected):
        await client(token_endpoint(400, {"error": "invalid_grant"})).exchange_code("NL", "c")


def api(routes: dict[str, object], status: dict[str, int] | None = None,
        seen: list[httpx.Request] | None = None) -> ExactClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        assert request.headers["authorization"] == "Bearer AT"
        assert request.headers["accept"] == "application/json"
        key = request.url.path + ("?" + request.url.query.decode() if "skiptoken" in
                                  request.url.query.decode() else "")
        code = (status or {}).get(request.url.path, 200)
        return httpx.Response(code, content=json.dumps(routes.get(key, {"error": {}})).encode(),
                              headers={"Reason": "NoDivisionAccess"} if code == 403 else {})

    return client(handle)


async def test_divisions_follow_next_links_and_skip_an_inaccessible_division() -> None:
    page2 = f"{BASE}/api/v1/7/system/Divisions?$skiptoken=2"
    exact = api({
        "/api/v1/7/system/Divisions": {"d": {"results": [{"Code": 2, "Description": "B"}],
                                              "__next": page2}},
        "/api/v1/7/system/Divisions?$skiptoken=2": {"d": {"results": [
            {"Code": 1, "Description": "A"}]}},
    }, status={"/api/v1/5/system/Divisions": 403})
    divisions = await exact.divisions("NL", "AT", [5, 7])
    assert [(d.code, d.name) for d in divisions] == [(1, "A"), (2, "B")]


async def test_divisions_through_only_inaccessible_divisions_raise_403() -> None:
    exact = api({}, status={"/api/v1/5/system/Divisions": 403})
    with pytest.raises(ExactRejected) as raised:
        await exact.divisions("NL", "AT", [5])
    assert (raised.value.status, raised.value.reason) == (403, "NoDivisionAccess")


async def test_roles_are_read_for_the_user_in_the_division() -> None:
    user = uuid.uuid4()
    seen: list[httpx.Request] = []
    exact = api({"/api/v1/9/users/UserRolesPerDivision": {"d": {"results": [
        {"UserID": str(user), "Role": 1, "Division": 9},
        {"UserID": str(uuid.uuid4()), "Role": 5, "Division": 9},
        {"UserID": str(user), "Role": 20, "Division": 8}]}}}, seen=seen)
    assert await exact.role_ids("NL", "AT", 9, user) == {1}
    assert seen[0].url.params["$filter"] == f"UserID eq guid'{user}'"


async def test_a_role_that_has_ended_does_not_count() -> None:
    user = uuid.uuid4()
    exact = api({"/api/v1/9/users/UserRolesPerDivision": {"d": {"results": [
        {"UserID": str(user), "Role": 1, "Division": 9, "EndDate": "/Date(946684800000)/"},
        {"UserID": str(user), "Role": 20, "Division": 9, "EndDate": "/Date(32503680000000)/"},
        {"UserID": str(user), "Role": 30, "Division": 9, "EndDate": None}]}}})
    assert await exact.role_ids("NL", "AT", 9, user) == {20, 30}


@pytest.mark.parametrize(("body", "expected"), [
    ({"d": {"UserHasRights": True}}, True),
    ({"d": {"UserHasRights": False}}, False),
    ({"d": {"results": [{"UserHasRights": True}]}}, True),
])
async def test_user_has_rights_is_read_in_either_shape(body: object, expected: bool) -> None:
    seen: list[httpx.Request] = []
    exact = api({"/api/v1/9/users/UserHasRights": body}, seen=seen)
    assert await exact.has_rights("NL", "AT", 9, "financial/Journals") is expected
    assert seen[0].url.params["endpoint"] == "'financial/Journals'"
    assert seen[0].url.params["action"] == "'GET'"


async def test_api_outages_and_refusals_are_told_apart() -> None:
    with pytest.raises(ExactUnavailable):
        await api({}, status={"/api/v1/current/Me": 500}).current_user("NL", "AT")
    with pytest.raises(ExactUnavailable):
        await api({}, status={"/api/v1/current/Me": 429}).current_user("NL", "AT")
    with pytest.raises(ExactRejected):
        await api({}, status={"/api/v1/current/Me": 401}).current_user("NL", "AT")


async def test_a_next_link_to_another_host_never_gets_the_token() -> None:
    seen: list[httpx.Request] = []
    exact = api({"/api/v1/7/system/Divisions": {"d": {
        "results": [{"Code": 2, "Description": "B"}],
        "__next": "https://attacker.example/api/v1/7/system/Divisions?$skiptoken=2"}}}, seen=seen)
    with pytest.raises(ExactUnavailable, match="another host"):
        await exact.divisions("NL", "AT", [7])
    assert {r.url.host for r in seen} == {httpx.URL(BASE).host}
