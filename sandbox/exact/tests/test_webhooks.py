"""WebhookSubscriptions (counted API calls) and signed deliveries of admin changes."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exact_sandbox.testing import JSON, Env, MakeEnv, serve_in_thread

SECRET = "sandbox-webhook-secret"
_BODY = re.compile(rb'^\{"Content":(.*),"HashCode":"(.*)"\}$')


class Inbox:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def receive(self, request: Request) -> Response:
        self.bodies.append(await request.body())
        return Response(status_code=200)

    def contents(self) -> list[dict[str, object]]:
        return [json.loads(b)["Content"] for b in self.bodies]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, str]]:
    box = Inbox()
    app = Starlette(routes=[Route("/hook", box.receive, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield box, f"{url}/hook"


def _signed(body: bytes, secret: str = SECRET) -> bool:
    m = _BODY.match(body)
    assert m is not None, body
    digest = hmac.new(secret.encode(), m.group(1), hashlib.sha256).hexdigest().upper()
    return hmac.compare_digest(digest.encode(), m.group(2))


async def _subscribe(env: Env, token: str, url: str, topic: str = "FinancialTransactions",
                     division: int = 100001) -> tuple[int, dict[str, object]]:
    r = await env.client.post(f"/api/v1/{division}/webhooks/WebhookSubscriptions",
                              json={"CallbackURL": url, "Topic": topic},
                              headers={"Authorization": f"Bearer {token}", **JSON})
    return r.status_code, r.json()


async def _change(env: Env, **body: object) -> dict[str, object]:
    r = await env.client.post("/_sandbox/divisions/100001/changes", json=body)
    assert r.status_code == 200, r.text
    await env.client.post("/_sandbox/webhooks/drain")
    data: dict[str, object] = r.json()
    return data


async def test_subscriptions_have_exacts_shape_and_count_as_calls(make_env: MakeEnv) -> None:
    env = make_env(webhook_http_loopback=True)
    t = (await env.grant())["access_token"]
    status, created = await _subscribe(env, t, "https://hooks.example.com/exact")
    assert status == 201
    sub = created["d"]
    assert isinstance(sub, dict)
    assert {"ID", "CallbackURL", "ClientID", "Division", "Topic", "UserID",
            "IsInstant"} <= set(sub)
    assert (await _subscribe(env, t, "https://hooks.example.com/exact"))[0] == 500
    listed = await env.api("/api/v1/100001/webhooks/WebhookSubscriptions", t)
    assert [s["ID"] for s in listed.json()["d"]["results"]] == [sub["ID"]]
    gone = await env.client.delete(
        f"/api/v1/100001/webhooks/WebhookSubscriptions(guid'{sub['ID']}')",
        headers={"Authorization": f"Bearer {t}", **JSON})
    assert gone.status_code == 204
    again = await env.api("/api/v1/100001/webhooks/WebhookSubscriptions", t)
    assert again.json()["d"]["results"] == []
    assert env.sandbox.stats.calls_by_endpoint["webhooks/WebhookSubscriptions"] == 5


async def test_callbacks_must_be_https_and_topics_known(make_env: MakeEnv) -> None:
    strict = make_env()
    t = (await strict.grant())["access_token"]
    assert (await _subscribe(strict, t, "http://127.0.0.1:9/hook"))[0] == 400
    assert (await _subscribe(strict, t, "https://x.example.com", topic="GLAccounts"))[0] == 400
    loose = make_env(webhook_http_loopback=True)
    t2 = (await loose.grant())["access_token"]
    assert (await _subscribe(loose, t2, "http://10.0.0.1/hook"))[0] == 400
    assert (await _subscribe(loose, t2, "http://127.0.0.1:9/hook"))[0] == 201


async def test_each_changed_transaction_is_delivered_signed(
        make_env: MakeEnv, inbox: tuple[Inbox, str]) -> None:
    box, url = inbox
    env = make_env(webhook_http_loopback=True)
    t = (await env.grant())["access_token"]
    await _subscribe(env, t, url)
    change = await _change(env, entity="TransactionLines", insert=2, delete=1)
    assert change["webhook_deliveries"] == len(box.bodies) == 3
    assert all(_signed(b) for b in box.bodies)
    contents = box.contents()
    assert {c["Action"] for c in contents} == {"Update", "Delete"}
    first = contents[0]
    assert first["Topic"] == "FinancialTransactions" and first["Division"] == 100001
    assert str(first["ExactOnlineEndpoint"]).endswith(
        f"/api/v1/100001/financialtransaction/Transactions(guid'{first['Key']}')")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", str(first["EventCreatedOn"]))
    await _change(env, entity="GLAccounts", update=1)  # no known topic: nothing delivered
    assert len(box.bodies) == 3


async def test_delivery_faults(make_env: MakeEnv, inbox: tuple[Inbox, str]) -> None:
    box, url = inbox
    env = make_env(webhook_http_loopback=True)
    t = (await env.grant())["access_token"]
    await _subscribe(env, t, url)
    faults = {"lose_rate": 1.0}
    assert (await env.client.patch("/_sandbox/webhooks", json={"faults": faults})).is_success
    await _change(env, entity="TransactionLines", update=1)
    assert box.bodies == []
    await env.client.patch("/_sandbox/webhooks",
                           json={"faults": {"duplicate_rate": 1.0, "bad_signature_rate": 1.0}})
    await _change(env, entity="TransactionLines", update=1)
    assert len(box.bodies) == 2 and box.bodies[0] == box.bodies[1]
    assert not _signed(box.bodies[0])
    stats = (await env.client.get("/_sandbox/webhooks")).json()["stats"]
    assert stats["lost"] == 1 and stats["duplicated"] == 1 and stats["delivered"] == 2
    bad = await env.client.patch("/_sandbox/webhooks", json={"faults": {"nope": 1}})
    assert bad.status_code == 400
