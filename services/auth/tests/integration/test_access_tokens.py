"""The internal access-token endpoint against the sandbox: rotation, the 570 s rule,
single-flight refresh across two app instances, rejected tokens, revoked grants, outages.

Size: one test module per source module (the token endpoint); each scenario needs its own
sandbox set-up, so the module is long but each test is short.
"""

import asyncio
import hashlib
import uuid
from datetime import datetime, timedelta

import httpx
import pytest

import contracts as c
from auth.app import create_app
from connector_runtime.devstack.testing import eventually
from exact_sandbox.client import SandboxAdmin

pytestmark = pytest.mark.integration

JSON = {"Accept": "application/json"}


@pytest.fixture
def advance(clock, sandbox):
    """Move time forward for auth and the sandbox alike."""

    def move(seconds: float) -> None:
        clock.offset += timedelta(seconds=seconds)
        sandbox.clock.advance(seconds)

    return move


async def _token(flow, grant_id: uuid.UUID, client: httpx.AsyncClient | None = None
                 ) -> httpx.Response:
    if client is not None:
        return await client.get(f"/internal/grants/{grant_id}/access-token")
    async with flow.internal() as internal:
        return await internal.get(f"/internal/grants/{grant_id}/access-token")


async def _me(flow, access_token: str) -> int:
    async with httpx.AsyncClient(base_url=flow.sandbox.url) as exact:
        response = await exact.get("/api/v1/current/Me",
                                   headers={"Authorization": f"Bearer {access_token}", **JSON})
    return response.status_code


async def test_the_token_of_a_new_grant_is_served_as_is(flow, clock) -> None:
    _message, authorized = await flow.connect()
    before = await flow.sandbox.stats()

    response = await _token(flow, authorized.payload.grant_id)

    assert response.status_code == 200
    body = response.json()
    assert body["division"] == 100001
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=590) < expires - clock() <= timedelta(seconds=600)
    assert response.headers["cache-control"] == "no-store"
    assert await _me(flow, body["access_token"]) == 200
    assert (await flow.sandbox.stats())["refresh_calls"] == before["refresh_calls"]


async def test_tokens_rotate_and_the_new_refresh_token_is_kept(flow, advance) -> None:
    _message, authorized = await flow.connect()
    grant_id = authorized.payload.grant_id
    first = (await _token(flow, grant_id)).json()["access_token"]
    before = await flow.sandbox.stats()

    tokens = []
    for _ in range(2):
        advance(575)
        response = await _token(flow, grant_id)
        assert response.status_code == 200, response.text
        tokens.append(response.json()["access_token"])
        assert (await _token(flow, grant_id)).json()["access_token"] == tokens[-1]

    after = await flow.sandbox.stats()
    assert len({first, *tokens}) == 3
    assert after["refresh_calls"] - before["refresh_calls"] == 2
    assert "old_refresh_token_reuse" not in after["rule_violations"]
    assert "refresh_too_early" not in after["rule_violations"]
    assert await _me(flow, tokens[-1]) == 200
    await flow.remember_tokens(grant_id)


async def test_concurrent_requests_on_two_replicas_refresh_exactly_once(flow, advance, infra
                                                                       ) -> None:
    _message, authorized = await flow.connect()
    grant_id = authorized.payload.grant_id
    second = create_app(flow.app.settings, clock=flow.app.app.state.deps.clock)
    async with second.router.lifespan_context(second):
        clients = [flow.internal()]
        other = httpx.AsyncClient(transport=httpx.ASGITransport(app=second),
                                  base_url="http://auth.test")
        other.headers["Authorization"] = flow.internal().headers["Authorization"]
        clients.append(other)
        advance(575)  # 25 s left: due for a refresh, and the 570 s rule allows it
        async with SandboxAdmin(flow.sandbox.url) as exact:
            await exact.reset_stats()
        responses = await asyncio.gather(*(
            _token(flow, grant_id, clients[i % 2]) for i in range(20)))
        for client in clients:
            await client.aclose()

    stats = await flow.sandbox.stats()
    assert [r.status_code for r in responses] == [200] * 20
    assert len({r.json()["access_token"] for r in responses}) == 1
    assert stats["refresh_calls"] == 1
    assert stats["rule_violations"] == {}
    assert await _me(flow, responses[0].json()["access_token"]) == 200
    await flow.remember_tokens(grant_id)


async def test_a_rejected_token_is_replaced_once_the_570_s_rule_allows(flow, advance) -> None:
    """Auth asks Exact once at once (a withdrawn grant would answer invalid_grant); Exact says
    too early, and that answer is kept: nobody asks again before the rule allows."""
    _message, authorized = await flow.connect()
    grant_id = authorized.payload.grant_id
    token = (await _token(flow, grant_id)).json()["access_token"]
    digest = hashlib.sha256(token.encode()).hexdigest()
    async with flow.internal() as internal:
        stale = await internal.post(f"/internal/grants/{grant_id}/access-token/rejected",
                                    json={"access_token_sha256": "0" * 64})
        assert stale.status_code == 202 and stale.json() == {"current": False}
        assert (await _token(flow, grant_id)).json()["access_token"] == token
        told = await internal.post(f"/internal/grants/{grant_id}/access-token/rejected",
                                   json={"access_token_sha256": digest})
        assert told.status_code == 202 and told.json() == {"current": True}

        before = await flow.sandbox.stats()
        wait = await _token(flow, grant_id)
        assert wait.status_code == 503
        assert wait.json()["error"] == "refresh_not_yet_allowed"
        assert 560 <= int(wait.headers["retry-after"]) <= 570
        again = await _token(flow, grant_id)
        assert again.status_code == 503 and int(again.headers["retry-after"]) <= 570
        probed = await flow.sandbox.stats()
        assert probed["refresh_calls"] - before["refresh_calls"] == 1  # one question, not two
        advance(int(wait.headers["retry-after"]))
        fresh = await _token(flow, grant_id)
    assert fresh.status_code == 200
    assert fresh.json()["access_token"] != token
    after = await flow.sandbox.stats()
    assert after["rule_violations"].get("refresh_too_early", 0) == \
        before["rule_violations"].get("refresh_too_early", 0) + 1  # the single question
    await flow.remember_tokens(grant_id)


async def test_short_lived_tokens_are_refreshed_on_time_with_no_setting(flow, advance,
                                                                        clock) -> None:
    """Exact issues 60 s tokens: auth refreshes each in its last 30 s (the 570 s rule at that
    lifetime), serves every request, never asks too early; AUTH_MIN_REFRESH_INTERVAL_SECONDS
    is not set."""
    assert flow.app.settings.min_refresh_interval_seconds is None
    async with SandboxAdmin(flow.sandbox.url) as exact:
        await exact.limits(access_token_lifetime_s=60)
        try:
            _message, authorized = await flow.connect()
            grant_id = authorized.payload.grant_id
            before = await flow.sandbox.stats()
            served = []
            for _ in range(4):
                first = await _token(flow, grant_id)
                assert first.status_code == 200, first.text
                served.append(first.json()["access_token"])
                expires = datetime.fromisoformat(first.json()["expires_at"].replace("Z", "+00:00"))
                assert expires - clock() <= timedelta(seconds=60)
                advance(25)  # 35 s left: still the same token, no refresh asked
                same = await _token(flow, grant_id)
                assert same.json()["access_token"] == served[-1]
                advance(6)  # 29 s left: Exact allows a new one, the next request gets it
            last = await _token(flow, grant_id)
            assert last.status_code == 200
        finally:
            await exact.limits(access_token_lifetime_s=600)
    after = await flow.sandbox.stats()
    assert len(set(served)) == 4 and last.json()["access_token"] not in served
    assert after["refresh_calls"] - before["refresh_calls"] == 4
    assert after["rule_violations"] == before["rule_violations"]
    assert await _me(flow, last.json()["access_token"]) == 200
    await flow.remember_tokens(grant_id)


async def test_a_withdrawn_grant_is_revoked_and_reported(flow, advance) -> None:
    message, authorized = await flow.connect("bram.admin@demo.nl")
    grant_id = authorized.payload.grant_id
    async with SandboxAdmin(flow.sandbox.url) as exact:
        assert await exact.withdraw(username="bram.admin@demo.nl")
    advance(575)

    gone = await _token(flow, grant_id)
    assert gone.status_code == 410
    assert gone.json()["error"] == "grant_revoked"
    assert "withdrawn" in gone.json()["reason"]
    revoked = await flow.event(message.datasource_id, c.GrantRevoked)
    assert (revoked.payload.grant_id, revoked.payload.division) == (grant_id, 100001)
    before = await flow.sandbox.stats()
    assert (await _token(flow, grant_id)).status_code == 410
    assert (await flow.sandbox.stats())["refresh_calls"] == before["refresh_calls"]


async def test_a_refused_token_of_a_withdrawn_grant_is_revoked_at_once(flow) -> None:
    """No waiting for the 570 s rule: the first request after the refusal asks Exact, which
    answers invalid_grant, and the data source hears GrantRevoked."""
    message, authorized = await flow.connect("bram.admin@demo.nl")
    grant_id = authorized.payload.grant_id
    token = (await _token(flow, grant_id)).json()["access_token"]
    async with SandboxAdmin(flow.sandbox.url) as exact:
        await exact.withdraw(username="bram.admin@demo.nl")
    assert await _me(flow, token) == 401
    async with flow.internal() as internal:
        await internal.post(f"/internal/grants/{grant_id}/access-token/rejected",
                            json={"access_token_sha256": hashlib.sha256(token.encode()).hexdigest()})
    gone = await _token(flow, grant_id)
    assert gone.status_code == 410 and gone.json()["error"] == "grant_revoked"
    revoked = await flow.event(message.datasource_id, c.GrantRevoked)
    assert revoked.payload.grant_id == grant_id


async def test_an_unavailable_token_endpoint_answers_503_and_keeps_the_grant(flow, advance) -> None:
    _message, authorized = await flow.connect()
    grant_id = authorized.payload.grant_id
    advance(575)
    async with SandboxAdmin(flow.sandbox.url) as exact:
        await exact.set_faults(error_5xx_rate=1.0, error_5xx_status=503,
                              include_token_endpoint=True, endpoints=["oauth2/token"])
        try:
            down = await _token(flow, grant_id)
        finally:
            await exact.clear_faults()
    assert down.status_code == 503
    assert down.headers["retry-after"] == "5"
    up = await _token(flow, grant_id)
    assert up.status_code == 200
    await flow.remember_tokens(grant_id)


async def test_an_unknown_grant_is_404(flow) -> None:
    response = await _token(flow, uuid.uuid4())
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_grant"


async def test_rotating_the_encryption_key_keeps_every_grant_usable(flow) -> None:
    import sqlalchemy as sa
    from cryptography.fernet import Fernet

    from auth.adapters.crypto import TokenCipher
    from auth.adapters.tables import grants
    from auth.rotate_keys import rotate_all

    _message, authorized = await flow.connect()
    engine = flow.app.app.state.host.engine
    old_key = flow.app.settings.token_encryption_key.get_secret_value()
    new_key = Fernet.generate_key().decode()
    query = sa.select(grants.c.refresh_token_enc).where(
        grants.c.grant_id == authorized.payload.grant_id)
    try:
        assert await rotate_all(engine, TokenCipher(f"{new_key},{old_key}")) >= 1
        async with engine.connect() as conn:
            stored = (await conn.execute(query)).scalar_one()
        assert TokenCipher(new_key).decrypt(stored)
    finally:  # the database is shared with the running app, which knows the old key only
        await rotate_all(engine, TokenCipher(f"{old_key},{new_key}"))
    async with flow.internal() as internal:
        response = await internal.get(f"/internal/grants/{authorized.payload.grant_id}/access-token")
    assert response.status_code == 200


async def test_an_idle_grant_is_refreshed_before_its_refresh_token_expires(flow, advance) -> None:
    """Refresh tokens live 120 s here (Exact: 30 days unused) and access tokens 40 s. Nobody
    asks for a token, yet the keep-alive refreshes the grant in the last 60 s of its refresh
    token, so the grant still works long after the first refresh token expired."""
    settings = flow.app.settings.model_copy(update={
        "refresh_token_lifetime_seconds": 120, "keepalive_before_seconds": 60,
        "keepalive_interval_seconds": 0.2})
    async with SandboxAdmin(flow.sandbox.url) as exact:
        await exact.limits(refresh_token_lifetime_s=120, access_token_lifetime_s=40)
        try:
            _message, authorized = await flow.connect()
            grant_id = authorized.payload.grant_id
            before = await flow.sandbox.stats()
            deps = flow.app.app.state.deps
            issued = await _refresh_issued(deps, grant_id)
            keeper = create_app(settings, clock=deps.clock)
            async with keeper.router.lifespan_context(keeper):
                advance(70)  # idle for 70 s: 50 s of its refresh token left

                async def refreshed() -> bool:
                    return await _refresh_issued(deps, grant_id) > issued

                await eventually(refreshed, timeout=20)
            advance(70)  # 140 s: the first refresh token expired 20 s ago
            served = await _token(flow, grant_id)
        finally:
            await exact.limits(refresh_token_lifetime_s=30 * 86400,
                                 access_token_lifetime_s=600)
    assert served.status_code == 200, served.text
    assert await _me(flow, served.json()["access_token"]) == 200
    after = await flow.sandbox.stats()
    assert after["rule_violations"] == before["rule_violations"]
    await flow.remember_tokens(grant_id)


async def _refresh_issued(deps, grant_id: uuid.UUID) -> datetime:
    async with deps.uow() as uow:
        grant = await uow.grants.get(grant_id)
    return grant.current_tokens().refresh_issued_at
