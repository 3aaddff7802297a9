"""R10: sign-in through Exact's transient faults.

The sandbox answers 10% of the sign-in's calls - the code exchange, ``current/Me``,
``system/Divisions``, roles and rights - with a fault: 4% 5xx, 2% no answer (held until
auth gives up), 2% dropped connections, 2% broken JSON (the token endpoint only ever
answers 5xx). Each sign-in starts from an ``AuthorizationRequested`` (no data source, so no
import runs), goes through auth's pages and Exact's sign-in and consent pages in a
scripted browser, and counts as a success when the person sees "Connected" without
pressing "sign in again" and auth emits ``ExactAuthorized``. Goal: >= 99%. The sign-ins
go to Eva's companies in turn (a company allows a limited number of calls a minute).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

import httpx

from bench.events import WaitTimeout
from bench.faults.result import ScenarioResult
from bench.faults.stack import R10_DIVISIONS, FaultStack
from bench.faults.watch import delta
from bench.harness import EVA, Harness
from connector_cli.kafka_io import publish
from connector_demo.authorize import complete_authorization
from connector_demo.browser import Browser
from contracts import (
    AUTH_REQUESTS,
    AuthorizationFailed,
    AuthorizationLinkIssued,
    AuthorizationRequested,
    AuthorizationRequestedPayload,
    ExactAuthorized,
)

NAME = "sign-in under transient faults"
FAULTS: dict[str, Any] = {"error_5xx_rate": 0.04, "timeout_rate": 0.02, "drop_rate": 0.02,
          "malformed_json_rate": 0.02, "hang_seconds": 30.0, "include_token_endpoint": True,
          "seed": 10}
AT_ONCE = 10
GOAL = 0.99


async def run(h: Harness, stack: FaultStack) -> ScenarioResult:
    result = ScenarioResult(10, NAME)
    before = await h.stats()
    await h.exact.set_faults(**FAULTS)
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(division: int) -> tuple[bool, float, str]:
        async with gate:
            return await _sign_in(h, division)

    try:
        outcomes = await asyncio.gather(*(one(R10_DIVISIONS[i % len(R10_DIVISIONS)])
                                          for i in range(stack.scale.signins)))
    finally:
        await h.exact.clear_faults()
    after = await h.stats()
    injected = delta(after["faults_injected"], before["faults_injected"])
    ok = [o for o in outcomes if o[0]]
    seconds = [o[1] for o in outcomes]
    rate = len(ok) / len(outcomes)
    result.figures.update({
        "signins": len(outcomes), "succeeded": len(ok), "success_pct": round(100 * rate, 1),
        "median_s": round(statistics.median(seconds), 1), "max_s": round(max(seconds), 1),
        **{f"injected_{k}": v for k, v in sorted(injected.items())},
    })
    failures = sorted({o[2] for o in outcomes if not o[0]})
    result.expect(rate >= GOAL, f"{len(ok)}/{len(outcomes)} sign-ins succeeded "
                                f"(goal {GOAL:.0%}): {failures[:3]}")
    result.expect(sum(injected.values()) > 0, "no fault was injected")
    return result


async def _sign_in(h: Harness, division: int) -> tuple[bool, float, str]:
    authorization_id = uuid.uuid4()
    message = AuthorizationRequested.create(
        datasource_id=uuid.uuid4(), payload=AuthorizationRequestedPayload(
            authorization_id=authorization_id, purpose="create", mode="share",
            company_domain_id=uuid.uuid4(), company_domain_name="Bench sign-in",
            requested_by="bench@connector.test"))
    await publish(h.system.bootstrap, AUTH_REQUESTS, message)
    issued = await h.log.wait(lambda m: isinstance(m, AuthorizationLinkIssued)
                              and m.payload.authorization_id == authorization_id, 60, "link")
    assert isinstance(issued, AuthorizationLinkIssued)
    link = await h.link_for(issued)
    browser = Browser(timeout=180)
    restarts: list[str] = []

    async def note(request: httpx.Request) -> None:
        if request.url.path.endswith("/restart"):
            restarts.append(request.url.path)

    browser.client.event_hooks["request"].append(note)
    started = time.monotonic()
    try:
        outcome = await complete_authorization(browser, link, EVA.username, EVA.password,
                                               division=division, max_steps=5)
    except httpx.HTTPError as exc:
        return False, time.monotonic() - started, f"browser: {type(exc).__name__}"
    finally:
        await browser.close()
    seconds = time.monotonic() - started
    try:
        ended = await h.log.wait(lambda m: isinstance(m, ExactAuthorized | AuthorizationFailed)
                                 and m.payload.authorization_id == authorization_id, 30,
                                 "the authorization's outcome")
    except WaitTimeout:
        return False, seconds, "no ExactAuthorized or AuthorizationFailed"
    if restarts:
        return False, seconds, "the person had to sign in again"
    if not isinstance(ended, ExactAuthorized) or "Connected" not in outcome.page.title:
        return False, seconds, f"{outcome.page.title}: {outcome.text[:160]}"
    return True, seconds, ""
