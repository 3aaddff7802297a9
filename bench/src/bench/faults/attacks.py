"""R6, second half: attacks on who may connect and who may call, as an attacker would try them.

* a share link for one company, forwarded to another company's administrator;
* a share link with no expected company, used by a stranger, then disowned ("not my
  company"): the stranger's grant must hand out nothing any more;
* the read APIs and auth's internal API without a token, with a wrong one, with a caller's
  token outside its scope or its tenant, and on the wrong listener;
* an access token asked for a grant by a caller that is not ingest;
* run requests and a recreate decision written to Kafka by someone who is not datasource
  (no grant claim, another data source's claim, a made-up one);
* form posts from another site (no CSRF token, a wrong one, a foreign Origin);
* open-redirect attempts on the OAuth callback, the sign-in start and the outcome page.

Every attempt reaches our services (HTTP to their listeners, messages on their topics); each
counts as refused only when nothing it asked for happened.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from bench.faults.stack import R6_DIVISION, R6_STRANGER_DIVISION, FaultStack
from bench.harness import DIRK, Harness
from bench.topics import read_all
from connector_cli.kafka_io import publish
from contracts import (
    ALL_ENTITIES,
    DATASOURCE_COMMANDS,
    DATASOURCE_EVENTS,
    INGEST_REQUESTS,
    AuthorizationFailed,
    CreateDataSource,
    CreateDataSourcePayload,
    DataSourceConnected,
    DataSourceDisowned,
    DisownConnection,
    DisownConnectionPayload,
    ExactAuthorized,
    ExpectedCompany,
    InitialRunRequested,
    InitialRunRequestedPayload,
    Message,
    RecreateAccepted,
    RecreateAcceptedPayload,
    RunStarted,
    dead_letter_topic,
)


@dataclass
class Attempt:
    name: str
    status: int
    refused: bool
    detail: str = ""
    reached_us: bool = True
    """False when Exact (the sandbox) refused the attempt before it could reach our services:
    such a refusal proves nothing about them and is not counted in ``refused_pct``."""


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    return found.group(1) if found else ""


async def forwarded_link(h: Harness) -> list[Attempt]:
    """The portal named Anna's company; Dirk (another company's admin) opens the link."""
    command = CreateDataSource.create(datasource_id=uuid.uuid4(), payload=CreateDataSourcePayload(
        new_company_domain_name=f"Bench {uuid.uuid4().hex[:8]}", authorization_mode="share",
        requested_by="bench@connector.test", expected_company=ExpectedCompany(division=R6_DIVISION)))
    link = await h.send(command)
    outcome = await h.authorize(link, DIRK, R6_STRANGER_DIVISION)
    failed = await h.log.wait(lambda m: m.datasource_id == command.datasource_id
                              and isinstance(m, AuthorizationFailed), 60, "the refusal")
    assert isinstance(failed, AuthorizationFailed)
    authorized = h.log.find(lambda m: m.datasource_id == command.datasource_id
                            and isinstance(m, ExactAuthorized))
    clear = "may only connect the Exact Online company" in outcome.text
    return [Attempt("forwarded link, another company's administrator", outcome.page.status,
                    failed.payload.reason_code == "unexpected_company" and not authorized and clear,
                    failed.payload.reason_code)]


async def disowned_stranger(h: Harness) -> tuple[list[Attempt], uuid.UUID]:
    """No expected company (policy notify): the stranger connects, the customer disowns."""
    connection = await h.connect(DIRK, R6_STRANGER_DIVISION, mode="share")
    disown = DisownConnection.create(datasource_id=connection.datasource_id,
                                     payload=DisownConnectionPayload(requested_by="customer"))
    await publish(h.system.bootstrap, DATASOURCE_COMMANDS, disown)
    await h.log.wait(lambda m: m.datasource_id == connection.datasource_id
                     and isinstance(m, DataSourceDisowned), 60, "DataSourceDisowned")
    answer: httpx.Response | None = None
    for _ in range(30):  # auth applies the decision from its own consumer
        answer = await h.access_token(connection.grant_id)
        if answer.status_code == 410:
            break
        await asyncio.sleep(0.5)
    assert answer is not None
    return [Attempt("token for the grant of a disowned stranger", answer.status_code,
                    answer.status_code == 410)], connection.grant_id


async def api_calls(h: Harness, stack: FaultStack, victim: uuid.UUID, grant: uuid.UUID
                    ) -> list[Attempt]:
    system = stack.system
    datasource, ingest = system.url("datasource"), system.url("ingest")
    auth, auth_internal = system.url("auth"), system.internal_url("auth")
    reads = [f"{datasource}/company-domains", f"{datasource}/datasources",
             f"{datasource}/datasources/{victim}", f"{ingest}/runs/{uuid.uuid4()}"]
    token_url = f"{auth_internal}/internal/grants/{grant}/access-token"
    calls: list[tuple[str, str, dict[str, str], Callable[[httpx.Response], bool]]] = []
    for url in reads:
        calls.append((f"no token: GET {url.split('/', 3)[3]}", url, {}, _status(401)))
        calls.append((f"wrong token: GET {url.split('/', 3)[3]}", url,
                      {"Authorization": "Bearer guessed"}, _status(401)))
    tenant = {"Authorization": f"Bearer {stack.tenant_token}"}
    calls += [
        ("other tenant: GET the victim's data source", f"{datasource}/datasources/{victim}",
         tenant, _status(404)),
        ("other tenant: list data sources", f"{datasource}/datasources", tenant,
         lambda r: r.status_code == 200 and str(victim) not in r.text),
        ("other tenant: list company domains", f"{datasource}/company-domains", tenant,
         lambda r: r.status_code == 200 and r.json() == []),
        ("token fetch, no credentials", token_url, {}, _status(401)),
        ("token fetch, a guessed bearer", token_url, {"Authorization": "Bearer guessed"},
         _status(401)),
        ("token fetch as the portal (scope links)", token_url, system.bearer("portal"),
         _status(403)),
        ("token fetch as an operator of the read API", token_url, system.bearer("operator"),
         _status(401)),
        ("internal API on the public listener", f"{auth}/internal/grants/{grant}/access-token",
         system.bearer("ingest"), _status(404)),
        ("metrics on the public listener", f"{auth}/metrics", {}, _status(404)),
        ("API docs on the public listener", f"{auth}/openapi.json", {}, _status(404)),
        ("link fetch as ingest (scope access_tokens)",
         f"{auth_internal}/internal/authorizations/{uuid.uuid4()}/link", system.bearer("ingest"),
         _status(403)),
    ]
    attempts = []
    async with httpx.AsyncClient(timeout=30) as client:
        for name, url, headers, refused in calls:
            response = await client.get(url, headers=headers)
            attempts.append(Attempt(name, response.status_code, refused(response)))
    return attempts


def _status(code: int) -> Callable[[httpx.Response], bool]:
    return lambda r: r.status_code == code


async def forged_messages(h: Harness, victim: uuid.UUID, grant: uuid.UUID) -> list[Attempt]:
    """Run requests and a recreate decision not written by datasource."""
    real = h.log.find(lambda m: m.datasource_id == victim and isinstance(m, InitialRunRequested))
    stolen = real[0].payload.grant_claim if real and isinstance(real[0], InitialRunRequested) \
        else None
    attacker = uuid.uuid4()

    def run(claim: str | None) -> InitialRunRequested:
        return InitialRunRequested.create(datasource_id=attacker, payload=InitialRunRequestedPayload(
            run_id=uuid.uuid4(), division=R6_DIVISION, grant_id=grant, entities=ALL_ENTITIES,
            grant_claim=claim))

    forged: list[tuple[str, str, Message]] = [
        ("forged InitialRunRequested, no claim", INGEST_REQUESTS, run(None)),
        ("forged InitialRunRequested, the victim's claim", INGEST_REQUESTS, run(stolen)),
        ("forged InitialRunRequested, a made-up claim", INGEST_REQUESTS, run("k1.AAAA")),
        ("forged RecreateAccepted onto another grant", DATASOURCE_EVENTS, RecreateAccepted.create(
            datasource_id=victim, payload=RecreateAcceptedPayload(
                division=R6_DIVISION, grant_id=uuid.uuid4(), previous_grant_id=grant))),
    ]
    for _name, topic, message in forged:
        await publish(h.system.bootstrap, topic, message)
    dead = await _dead_letters(h, {str(m.message_id) for _n, _t, m in forged}, timeout=60)
    await asyncio.sleep(2)  # a run would have started by now
    runs = {m.payload.run_id for _n, t, m in forged if isinstance(m, InitialRunRequested)}
    started = h.log.find(lambda m: isinstance(m, RunStarted) and m.payload.run_id in runs)
    victim_token = await h.access_token(grant)  # the forged recreate retired nothing
    attempts = []
    for name, _topic, message in forged:
        ran = any(isinstance(message, InitialRunRequested) and isinstance(s, RunStarted)
                  and s.payload.run_id == message.payload.run_id for s in started)
        kept = not isinstance(message, RecreateAccepted) or victim_token.status_code == 200
        attempts.append(Attempt(name, victim_token.status_code if not kept else 0,
                                str(message.message_id) in dead and not ran and kept,
                                dead.get(str(message.message_id), "not dead-lettered")))
    return attempts


async def _dead_letters(h: Harness, ids: set[str], timeout: float) -> dict[str, str]:
    """Reason per forged message id, once ingest dead-lettered it (either topic's DLQ)."""
    topics = [dead_letter_topic(INGEST_REQUESTS), dead_letter_topic(DATASOURCE_EVENTS)]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found: dict[str, str] = {}
        for record in await read_all(h.system.bootstrap, topics):
            match = re.search(rb'"message_id":"([0-9a-f-]{36})"', record.value or b"")
            headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
            if match and match.group(1).decode() in ids and "ingest" in headers.get(
                    "dlq_consumer_group", ""):
                found[match.group(1).decode()] = headers.get("dlq_reason", "")[:120]
        if len(found) >= len(ids) or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(1.0)


async def csrf_posts(h: Harness) -> list[Attempt]:
    _ds, link = await h.create("share")
    attempts = []
    async with httpx.AsyncClient(timeout=30) as victim:
        page = await victim.get(link)
        token = _hidden(page.text, "csrf_token")
        tries = [("CSRF: start without the form's token", {"region": "NL"}, {}),
                 ("CSRF: start with a made-up token", {"region": "NL", "csrf_token": "0" * 64}, {}),
                 ("CSRF: start with the token, from another site", {"region": "NL",
                  "csrf_token": token}, {"Origin": "https://evil.example"})]
        for name, data, headers in tries:
            response = await victim.post(f"{link}/start", data=data, headers=headers)
            attempts.append(Attempt(name, response.status_code, response.status_code == 403
                                    and "location" not in response.headers))
    return attempts


async def open_redirects(h: Harness, stack: FaultStack) -> list[Attempt]:
    auth, evil = stack.system.url("auth"), "https://evil.example/steal"
    _ds, link = await h.create("share")
    attempts = []
    async with httpx.AsyncClient(timeout=30) as client:
        for name, url in (
            ("open redirect: OAuth callback with next=", f"{auth}/oauth/callback?state=x&code=y&"
                                                         f"next={evil}&redirect_uri={evil}"),
            ("open redirect: outcome page with next=",
             f"{auth}/authorizations/{uuid.uuid4()}?next={evil}"),
            ("open redirect: //host path", f"{auth}//evil.example/steal"),
        ):
            response = await client.get(url)
            attempts.append(Attempt(name, response.status_code,
                                    "evil.example" not in response.headers.get("location", "")))
        page = await client.get(link)
        response = await client.post(f"{link}/start", data={
            "region": "NL", "csrf_token": _hidden(page.text, "csrf_token"),
            "redirect_uri": evil, "next": evil})
        location = response.headers.get("location", "")
        attempts.append(Attempt("open redirect: sign-in start with redirect_uri=",
                                response.status_code,
                                location.startswith(stack.system.url("sandbox"))
                                and "evil.example" not in location, location[:80]))
    return attempts


async def all_attacks(h: Harness, stack: FaultStack, victim: uuid.UUID, grant: uuid.UUID
                      ) -> tuple[list[Attempt], dict[str, object]]:
    started = datetime.now(UTC)
    attempts = await forwarded_link(h)
    disowned, stranger_grant = await disowned_stranger(h)
    attempts += disowned
    steps: list[Callable[[], Awaitable[list[Attempt]]]] = [
        lambda: api_calls(h, stack, victim, grant), lambda: forged_messages(h, victim, grant),
        lambda: csrf_posts(h), lambda: open_redirects(h, stack)]
    for step in steps:
        attempts += await step()
    connected = h.log.find(lambda m: isinstance(m, DataSourceConnected) and m.occurred_at > started)
    return attempts, {"stranger_grant": str(stranger_grant), "connections": len(connected)}

