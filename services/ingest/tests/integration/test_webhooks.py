"""Exact's webhooks end to end: the sandbox delivers signed notifications of its changes to
ingest's listener, which publishes ExactChangeNotified; ingest coalesces them into one
targeted incremental run, and the sink reconciles with the sandbox without waiting for the
scheduled sync. Forged, unsigned, stale, replayed and unknown-division deliveries are refused
and publish nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

import contracts as c
from connector_runtime.devstack.testing import Infra, eventually, signed_claim
from connector_runtime.persistence.db import create_engine

from .conftest import Tail
from .test_incremental import sink_matches

pytestmark = pytest.mark.integration

SECRET = "sandbox-webhook-secret"


def delivery(division: int, *, secret: str = SECRET, age: timedelta = timedelta(0),
             key: uuid.UUID | None = None) -> bytes:
    created = (datetime.now(UTC) - age).astimezone(ZoneInfo("Europe/Amsterdam"))
    content = json.dumps({
        "Topic": "FinancialTransactions", "ClientId": str(uuid.uuid4()), "Division": division,
        "Action": "Update", "Key": str(key or uuid.uuid4()),
        "ExactOnlineEndpoint": f"https://start.exactonline.nl/api/v1/{division}/x",
        "EventCreatedOn": created.replace(tzinfo=None).isoformat(timespec="milliseconds")},
        separators=(",", ":")).encode()
    digest = hmac.new(secret.encode(), content, hashlib.sha256).hexdigest().upper()
    return b'{"Content":' + content + b',"HashCode":"' + digest.encode() + b'"}'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _subscribed(world: Any, app: Any, ds: uuid.UUID, topics: set[str]) -> bool:
    """Exact has exactly these topics for the division and the read API says they are active."""
    at_exact = (await world.sandbox.admin.webhooks())["subscriptions"]
    mine = {s["topic"] for s in at_exact if s["division"] == world.sandbox.division}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest",
                                 headers={"Authorization": "Bearer ingest-tests-operator-token"}) as client:
        view = (await client.get(f"/datasources/{ds}/webhooks")).json()
    active = {s["topic"] for s in view["subscriptions"] if s["state"] == "active"}
    return mine == active == topics and view["listener"] is True


async def next_due(infra: Infra, datasource_id: uuid.UUID) -> datetime:
    due = await next_due_or_none(infra, datasource_id)
    assert due is not None
    return due


async def _initial(world: Any, runs: Tail) -> uuid.UUID:
    request = await world.request_run()
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted)
                                   and x.payload.run_id == request.payload.run_id for x in m))
    ds: uuid.UUID = request.datasource_id
    return ds


async def test_a_burst_of_changes_reaches_the_sink_through_one_targeted_run(
        infra: Infra, make_sandbox: Any, make_world: Any, tails: Any,
        sink: AsyncEngine) -> None:
    runs, batches = tails
    world = make_world(make_sandbox(lines=2_000, clock_start=None, clock_speed=1.0))
    port = free_port()
    app = await world.start_app(incremental_interval_seconds=3600, incremental_jitter=0,
                                webhook_secret=SECRET, webhook_port=port,
                                webhook_callback_url=f"http://127.0.0.1:{port}/webhooks/exact")
    ds = await _initial(world, runs)
    await eventually(lambda: sink_matches(sink, ds, world.sandbox), timeout=30)
    exact, division = world.sandbox.admin, world.sandbox.division
    await eventually(lambda: _subscribed(world, app, ds, {"FinancialTransactions", "Accounts"}),
                     timeout=30)
    await exact.reset_stats()
    safety_net = await next_due(infra, ds)

    change = await exact.change(division, entity="TransactionLines", insert=150, update=10,
                                delete=2)
    hooks = (await exact.drain_webhooks())["stats"]
    notified = change["webhook_deliveries"]
    assert hooks["delivered"] == notified >= 150

    def targeted(msgs: list[c.Message]) -> bool:
        return any(isinstance(m, c.RunCompleted) and m.datasource_id == ds
                   and m.payload.kind == "incremental" for m in msgs)

    await runs.until(targeted, timeout=30)
    await eventually(lambda: sink_matches(sink, ds, world.sandbox), timeout=30)
    stats = await world.sandbox.stats()
    # the burst's notifications coalesce into a few targeted runs, each reading only the
    # notified entity (and sync/Deleted) - never the other sync endpoints; the trial-balance
    # check reads the changed years of ReportingBalance again (docs/trial-balance.md)
    calls = dict(stats["calls_by_endpoint"])
    calls.pop("financial/ReportingBalance", None)
    assert set(calls) == {"sync/Financial/TransactionLines", "sync/Deleted"}
    assert sum(calls.values()) <= notified // 10
    assert await next_due(infra, ds) == safety_net  # the scheduled sync stays where it was
    [first, *_] = [m for m in runs.messages if isinstance(m, c.RunCompleted)
                   and m.datasource_id == ds and m.payload.kind == "incremental"]
    await batches.until(lambda m: any(x.payload.run_id == first.payload.run_id for x in m))


async def test_forged_unsigned_stale_replayed_and_unknown_deliveries_are_refused(
        infra: Infra, make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, _batches = tails
    notes = await Tail(infra, c.CHANGE_NOTIFICATIONS).start()
    world = make_world(make_sandbox(lines=200))
    app = await world.start_app(incremental_interval_seconds=3600, webhook_secret=SECRET,
                                webhook_port=0, webhook_debounce_seconds=60)
    ds = await _initial(world, runs)
    division = world.sandbox.division
    url = f"http://127.0.0.1:{app.state.ingest.webhooks.port}/webhooks/exact"
    good = delivery(division)
    cases = {
        "bad_signature": delivery(division, secret="not-the-secret"),
        "unsigned": json.dumps({"Content": json.loads(good)["Content"]}).encode(),
        "stale": delivery(division, age=timedelta(hours=2)),
        "unknown_division": delivery(division + 1),
        "malformed": b"{}",
    }
    async with httpx.AsyncClient() as client:
        accepted = await client.post(url, content=good)
        assert accepted.status_code == 200 and accepted.json() == {"accepted": 1}
        replayed = await client.post(url, content=good)
        assert (replayed.status_code, replayed.json()["refused"]) == (409, "replayed")
        for reason, body in cases.items():
            r = await client.post(url, content=body)
            assert r.json()["refused"] in (reason, "unsigned"), (reason, r.text)
            assert r.status_code >= 400
    await notes.until(lambda m: len(m) >= 1)
    await notes.until(lambda m: False if len(m) > 1 else True, timeout=1)
    assert [m.datasource_id for m in notes.messages] == [ds]
    await notes.stop()


async def _subscribing(make_sandbox: Any, make_world: Any) -> tuple[Any, Any, int]:
    """A world whose ingest keeps subscriptions (checked every second); its listener's port."""
    world = make_world(make_sandbox(lines=200))
    port = free_port()
    app = await world.start_app(incremental_interval_seconds=3600, webhook_secret=SECRET,
                                webhook_port=port, webhook_subscription_check_seconds=1,
                                webhook_callback_url=f"http://127.0.0.1:{port}/webhooks/exact")
    return world, app, port


async def test_missing_subscriptions_are_made_again_and_a_new_grant_renews_them(
        infra: Infra, make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, _batches = tails
    world, app, _port = await _subscribing(make_sandbox, make_world)
    ds = await _initial(world, runs)
    topics = {"FinancialTransactions", "Accounts"}
    await eventually(lambda: _subscribed(world, app, ds, topics), timeout=30)
    hooks = world.sandbox.app.state.sandbox.webhooks
    lost = next(s for s in hooks.subscriptions.values() if s.topic == "Accounts")
    del hooks.subscriptions[lost.id]  # gone at Exact (e.g. removed in Exact's UI)
    await eventually(lambda: _subscribed(world, app, ds, topics), timeout=30)
    assert lost.id not in hooks.subscriptions

    before = set(hooks.subscriptions)
    grant_id = uuid.uuid4()
    world.auth.add(grant_id, await world.sandbox.grant(), world.sandbox.division)
    await world.publish(c.DATASOURCE_EVENTS, c.RecreateAccepted.create(
        datasource_id=ds, payload=c.RecreateAcceptedPayload(
            division=world.sandbox.division, grant_id=grant_id, previous_grant_id=None,
            grant_claim=signed_claim(ds, grant_id, world.sandbox.division))))

    async def renewed() -> bool:
        return bool(await _subscribed(world, app, ds, topics)
                    and not set(hooks.subscriptions) & before)

    await eventually(renewed, timeout=30)


async def test_a_disowned_data_source_is_unsubscribed_at_exact_and_no_longer_synced(
        infra: Infra, make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, _batches = tails
    world, app, port = await _subscribing(make_sandbox, make_world)
    request = await world.request_run()
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted)
                                   and x.payload.run_id == request.payload.run_id for x in m))
    ds, division = request.datasource_id, world.sandbox.division
    topics = {"FinancialTransactions", "Accounts"}
    await eventually(lambda: _subscribed(world, app, ds, topics), timeout=30)
    await world.sandbox.admin.reset_stats()

    disowned = c.DataSourceDisowned.create(datasource_id=ds, payload=c.DataSourceDisownedPayload(
        division=division, division_name="Sandbox", grant_id=request.payload.grant_id,
        disowned_by="owner@example.com", reason="not our company",
        state="authorization_failed"))
    await world.publish(c.DATASOURCE_EVENTS, disowned)
    await eventually(lambda: _subscribed(world, app, ds, set()), timeout=30)
    # the deletions were API calls of the company, made through its rate limiter
    calls = (await world.sandbox.stats())["calls_by_endpoint"]
    assert calls.get("webhooks/WebhookSubscriptions", 0) >= 2
    assert await next_due_or_none(infra, ds) is None  # no scheduled sync any more

    await world.publish(c.DATASOURCE_EVENTS, disowned)  # a redelivery changes nothing
    url = f"http://127.0.0.1:{port}/webhooks/exact"
    async with httpx.AsyncClient() as client:
        r = await client.post(url, content=delivery(division))
    assert (r.status_code, r.json()["refused"]) == (404, "unknown_division")
    await eventually(lambda: _subscribed(world, app, ds, set()), timeout=5)


async def next_due_or_none(infra: Infra, datasource_id: uuid.UUID) -> datetime | None:
    engine = create_engine(infra.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            due: datetime | None = await conn.scalar(sa.text(
                "SELECT next_due_at FROM ingest.sync_states WHERE datasource_id = :d"),
                {"d": datasource_id})
            return due
    finally:
        await engine.dispose()


async def test_when_the_disowned_grant_is_gone_first_the_rows_go_and_deliveries_are_refused(
        infra: Infra, make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, _batches = tails
    world, app, port = await _subscribing(make_sandbox, make_world)
    ds, division = await _initial(world, runs), world.sandbox.division
    topics = {"FinancialTransactions", "Accounts"}
    await eventually(lambda: _subscribed(world, app, ds, topics), timeout=30)
    hooks = world.sandbox.app.state.sandbox.webhooks
    at_exact = set(hooks.subscriptions)

    # a grant auth no longer knows: Exact cannot be asked to delete anything with it
    await world.publish(c.DATASOURCE_EVENTS, c.DataSourceDisowned.create(
        datasource_id=ds, payload=c.DataSourceDisownedPayload(
            division=division, division_name="Sandbox", grant_id=uuid.uuid4(),
            disowned_by="owner@example.com", reason="not our company",
            state="authorization_failed")))

    kept: list[Any] = []

    async def forgotten() -> bool:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://ingest", headers={
                                         "Authorization": "Bearer ingest-tests-operator-token"}
                                     ) as client:
            view = (await client.get(f"/datasources/{ds}/webhooks")).json()
        kept[:] = view["subscriptions"]
        return kept == []

    # a removal attempt that fails (auth or the database slow under load) is tried again
    # after 2 s, then 4 s, 8 s...: 30 s leave room for a few, and say why when not enough
    try:
        await eventually(forgotten, timeout=30)
    except AssertionError as exc:
        raise AssertionError(f"the disowned data source's subscriptions stay: {kept}") from exc
    assert set(hooks.subscriptions) == at_exact  # left at Exact, and refused at the listener
    async with httpx.AsyncClient() as client:
        r = await client.post(f"http://127.0.0.1:{port}/webhooks/exact",
                              content=delivery(division))
    assert (r.status_code, r.json()["refused"]) == (404, "unknown_division")
