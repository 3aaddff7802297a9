"""R8: twenty concurrent requests for the access token of one grant whose token is due for a
refresh, spread over two auth processes: exactly one refresh reaches Exact, every request
is served the same new token, and Exact's token rules are never broken.

Time scale (see :mod:`bench.faults.stack`): tokens live 60 s (small suite: 40 s) and may be
refreshed in their last 30 s, so the grant's token is due 30 s (10 s) after it was issued;
the wait happens while nothing else uses Exact.
"""

from __future__ import annotations

import asyncio

from bench.faults.result import ScenarioResult
from bench.faults.stack import R8_DIVISION, REFRESH_WINDOW_S, FaultStack
from bench.harness import ANNA, Harness
from contracts import RunCompleted

NAME = "single-flight refresh"
REQUESTS = 20


async def run(h: Harness, stack: FaultStack) -> ScenarioResult:
    result = ScenarioResult(8, NAME)
    conn = await h.connect(ANNA, R8_DIVISION)
    end = await h.run_end(conn.run_id, 300)
    result.expect(isinstance(end, RunCompleted), "the grant's initial run did not complete")
    await asyncio.to_thread(_start_second_auth, stack)
    try:
        due = stack.scale.token_lifetime_s - REFRESH_WINDOW_S + 2
        first = await h.access_token(conn.grant_id)
        issued_token = first.json().get("access_token") if first.status_code == 200 else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + due
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        before = await h.stats()
        answers = await asyncio.gather(*(h.access_token(conn.grant_id, ("auth", "auth-2")[i % 2])
                                         for i in range(REQUESTS)))
        after = await h.stats()
    finally:
        stack.system.processes["auth-2"].stop()
    served = [a for a in answers if a.status_code == 200]
    tokens = {a.json()["access_token"] for a in served}
    refreshes = after["refresh_calls"] - before["refresh_calls"]
    violations = {k: v - before["rule_violations"].get(k, 0)
                  for k, v in after["rule_violations"].items()
                  if v - before["rule_violations"].get(k, 0)}
    works = False
    if len(tokens) == 1:
        me = await h.http.get(f"{h.system.url('sandbox')}/api/v1/current/Me", headers={
            "Authorization": f"Bearer {next(iter(tokens))}", "Accept": "application/json"})
        works = me.status_code == 200
    result.figures.update({"requests": REQUESTS, "auth_processes": 2, "served": len(served),
                           "refresh_calls": refreshes, "distinct_tokens": len(tokens),
                           "rule_violations": sum(violations.values())})
    result.expect(len(served) == REQUESTS,
                  f"{REQUESTS - len(served)} requests not served: "
                  f"{sorted({a.status_code for a in answers})}")
    result.expect(refreshes == 1, f"{refreshes} refresh calls at the sandbox, 1 expected")
    result.expect(len(tokens) == 1 and tokens != {issued_token},
                  "the requests were not all served the one new token")
    result.expect(works, "the new token does not work at Exact")
    result.expect(not violations, f"Exact's token rules broken: {violations}")
    return result


def _start_second_auth(stack: FaultStack) -> None:
    stack.system.start_replica("auth-2", "auth")
    stack.system.wait_ready("auth-2")
