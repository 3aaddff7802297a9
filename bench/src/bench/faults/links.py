"""R6: attacks on the links and the OAuth flow, through HTTP only, as a browser would make them.

* a share link with its token tampered with;
* a share link used again after it connected a company;
* a share link past its lifetime;
* an OAuth callback with a forged ``state`` (a real code from Exact, a state auth never made);
* a real callback (code and state) replayed, from another browser;
* the ``redirect_uri`` swapped for another one on the way to Exact's sign-in;
* and the attacks of :mod:`bench.faults.attacks`: a forwarded link used by another company's
  administrator, unauthenticated and cross-tenant API calls, token fetches for a foreign grant,
  forged run requests, cross-site form posts and open-redirect attempts.

Every attempt must be refused, and nothing may change: no grant, no ``ExactAuthorized``,
no code exchanged at Exact, data sources as they were. ``refused_pct`` counts only the
attempts that reached our services; the swapped ``redirect_uri`` is refused by Exact itself
(shown apart as ``refused_by_exact``), which says nothing about us.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx

from bench.faults.attacks import Attempt, all_attacks
from bench.faults.result import ScenarioResult
from bench.faults.stack import R6_DIVISION, FaultStack
from bench.harness import ANNA, Harness
from connector_demo.authorize import complete_authorization
from connector_demo.browser import Browser
from connector_demo.system import CLIENT_ID
from contracts import DataSourceConnected, ExactAuthorized

NAME = "link and OAuth attacks"
LINK_TTL_S = 20  # AUTH_SHARE_LINK_TTL_SECONDS of the fault stack


async def run(h: Harness, stack: FaultStack) -> ScenarioResult:
    result = ScenarioResult(6, NAME)
    started = datetime.now(UTC)
    # a link left alone until it expires, and a link for the swapped redirect
    stale_ds, stale_link = await h.create("share")
    stale_made = asyncio.get_running_loop().time()
    swap_ds, swap_link = await h.create("share")
    used_ds, used_link = await h.create("share")
    before = await h.stats()
    attempts: list[Attempt] = []

    attempts += await _tampered(used_link)
    attempts += await _forged_state(h)
    attempts += await _swapped_redirect(swap_link)

    # the one legitimate use: Anna connects her company through the link
    await h.authorize(used_link, ANNA, R6_DIVISION)
    connected = await h.log.wait(
        lambda m: isinstance(m, DataSourceConnected) and m.datasource_id == used_ds, 90,
        "the legitimate connection")
    assert isinstance(connected, DataSourceConnected)
    legit_exchanges = 1
    callback = h.callbacks[-1]
    attempts += await _reused(used_link)
    attempts += await _replayed(callback)

    wait = LINK_TTL_S + 1 - (asyncio.get_running_loop().time() - stale_made)
    if wait > 0:
        await asyncio.sleep(wait)
    attempts += await _expired(stale_link)

    await asyncio.sleep(2)  # anything an attempt set off would have been announced by now
    after = await h.stats()
    exchanges = after["token_calls_by_grant_type"].get("authorization_code", 0) - \
        before["token_calls_by_grant_type"].get("authorization_code", 0)
    authorized = h.log.find(lambda m: isinstance(m, ExactAuthorized) and m.occurred_at > started)
    more, notes = await all_attacks(h, stack, used_ds, connected.payload.grant_id)
    attempts += more
    states = {ds: (await h.datasource(ds))["state"] for ds in (stale_ds, swap_ds, used_ds)}
    ours = [a for a in attempts if a.reached_us]
    refused = [a for a in ours if a.refused]
    at_exact = [a for a in attempts if not a.reached_us]
    result.figures.update({
        "attempts": len(ours),
        "refused_pct": round(100 * len(refused) / len(ours), 1) if ours else 0.0,
        "refused_by_exact": f"{sum(a.refused for a in at_exact)}/{len(at_exact)}",
        "codes_exchanged": f"{exchanges} (legitimate {legit_exchanges})",
        "authorized_events": f"{len(authorized)} (legitimate 1)",
        "attempts_detail": [a.__dict__ for a in attempts],
        "attack_notes": notes,
    })
    for attempt in attempts:
        result.expect(attempt.refused, f"{attempt.name} not refused ({attempt.status} {attempt.detail})")
    result.expect(exchanges == legit_exchanges, f"{exchanges} codes exchanged at Exact, 1 expected")
    result.expect(len(authorized) == 1 and authorized[0].datasource_id == used_ds,
                  f"ExactAuthorized events: {[str(m.datasource_id) for m in authorized]}")
    result.expect(states[used_ds] == "connected", f"the legitimate data source is {states[used_ds]}")
    for ds in (stale_ds, swap_ds):
        result.expect(states[ds] in ("awaiting_authorization", "authorization_failed"),
                      f"data source {ds} changed to {states[ds]}")
    return result


def _tamper(link: str) -> list[str]:
    parts = urlsplit(link)
    token = parts.path.rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    variants = [flipped, token[:-1], token + "x", token.replace(".", "..", 1), token[::-1]]
    return [urlunsplit(parts._replace(path=parts.path.rsplit("/", 1)[0] + "/" + v))
            for v in variants]


async def _landing_and_start(name: str, link: str, expect: tuple[int, ...]) -> list[Attempt]:
    """GET the landing page and POST its start; both must refuse (no way to Exact). An unusable
    link has no form, so the POST goes without a CSRF token: 403 is a refusal as well."""
    async with httpx.AsyncClient(timeout=30) as client:
        page = await client.get(link)
        start = await client.post(f"{link}/start", data={"region": "NL"}, follow_redirects=False)
    to_exact = "/api/oauth2/auth" in start.headers.get("location", "")
    return [Attempt(f"{name} (landing page)", page.status_code, page.status_code in expect),
            Attempt(f"{name} (start sign-in)", start.status_code,
                    start.status_code in (*expect, 403) and not to_exact,
                    start.headers.get("location", ""))]


async def _tampered(link: str) -> list[Attempt]:
    attempts: list[Attempt] = []
    for i, variant in enumerate(_tamper(link)):
        attempts += await _landing_and_start(f"tampered link #{i + 1}", variant, (400, 404))
    return attempts


async def _reused(link: str) -> list[Attempt]:
    attempts = await _landing_and_start("used link", link, (410,))
    browser = Browser()
    try:
        outcome = await complete_authorization(browser, link, ANNA.username, ANNA.password,
                                               division=R6_DIVISION)
    finally:
        await browser.close()
    attempts.append(Attempt("used link, whole sign-in again", outcome.page.status,
                            outcome.page.status >= 400, outcome.page.title))
    return attempts


async def _expired(link: str) -> list[Attempt]:
    return await _landing_and_start("expired link", link, (410,))


async def _forged_state(h: Harness) -> list[Attempt]:
    """A real sign-in at Exact for our app, carrying a state auth never issued."""
    query = urlencode({"client_id": CLIENT_ID, "redirect_uri": h.system.redirect_uri,
                       "response_type": "code", "state": "forged-" + "A" * 40})
    browser = Browser()
    try:
        outcome = await complete_authorization(
            browser, f"{h.system.url('sandbox')}/api/oauth2/auth?{query}", ANNA.username,
            ANNA.password, division=R6_DIVISION)
    finally:
        await browser.close()
    reached = outcome.page.url.startswith(h.system.url("auth"))
    return [Attempt("forged OAuth state", outcome.page.status,
                    reached and outcome.page.status == 400, outcome.page.title)]


async def _replayed(callback: tuple[str, httpx.Cookies]) -> list[Attempt]:
    url, cookies = callback
    attempts = []
    for who, jar in (("the same browser", cookies), ("another browser", None)):
        async with httpx.AsyncClient(timeout=30, cookies=jar) as client:
            response = await client.get(url, follow_redirects=False)
        attempts.append(Attempt(f"replayed OAuth callback ({who})", response.status_code,
                                response.status_code == 400, response.headers.get("location", "")))
    return attempts


async def _swapped_redirect(link: str) -> list[Attempt]:
    """Start a sign-in, then send the browser to Exact with another redirect_uri."""
    attempts = []
    async with httpx.AsyncClient(timeout=30) as client:
        page = await client.get(link)
        token = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
        start = await client.post(f"{link}/start", follow_redirects=False, data={
            "region": "NL", "csrf_token": token.group(1) if token else ""})
        location = start.headers.get("location", "")
        parts = urlsplit(location)
        query = parse_qs(parts.query)
        for name, uri in (("attacker host", "http://127.0.0.1:9/steal"),
                          ("another app's redirect", "http://127.0.0.1:9999/callback"),
                          ("other path on our host", query.get("redirect_uri", [""])[0] + "x")):
            swapped = {**{k: v[0] for k, v in query.items()}, "redirect_uri": uri}
            url = urlunsplit(parts._replace(query=urlencode(swapped)))
            response = await client.get(url, follow_redirects=False)
            attempts.append(Attempt(f"redirect_uri swapped ({name})", response.status_code,
                                    response.status_code == 400 and "location" not in response.headers,
                                    response.headers.get("location", ""), reached_us=False))
    if not location:
        attempts.append(Attempt("redirect_uri swap: no sign-in started", start.status_code, False))
    return attempts
