"""R4: the grant is withdrawn in the middle of a run ("the approving person lost access").

The data source must go to ``needs_reauthorization`` with a reason and the run pause;
a recreate with the same company through the browser brings a new grant, the paused run
resumes from its checkpoint and the sink reconciles exactly. "No page fetched twice beyond
the ones in flight" is counted from the sandbox's access log: every page the run was served
(the sign-ins' own reads left out), each at most once, but for the pages in flight when the
grant went (ingest's pipeline depth, ``bench.access.PAGES_IN_FLIGHT``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from bench.access import between, page_fetches, refetches
from bench.calls import minimum_calls
from bench.faults.checks import run_reconciles
from bench.faults.result import ScenarioResult
from bench.faults.stack import R4_DIVISION, FaultStack
from bench.harness import DIRK, Harness
from contracts import (
    DataSourceNeedsReauthorization,
    ExactAuthorized,
    RecreateAccepted,
    RunFailed,
    RunProgress,
    RunStarted,
)

NAME = "grant revoked mid-run"
LATENCY_MS = 100
"""Each answer of the division's delayed (Exact is not on loopback): without it, a pipelined
run of the small suite's company is a few seconds of burst within one minute's limit, over
before a withdrawal made while it is being watched can reach it."""


async def run(h: Harness, stack: FaultStack) -> ScenarioResult:
    await h.exact.set_faults(division=R4_DIVISION, latency_ms=LATENCY_MS)
    try:
        return await _run(h, stack)
    finally:
        await h.exact.clear_faults(division=R4_DIVISION)


async def _run(h: Harness, stack: FaultStack) -> ScenarioResult:
    result = ScenarioResult(4, NAME)
    mark = await h.access_mark()
    conn = await h.connect(DIRK, R4_DIVISION)
    ds, run_id = conn.datasource_id, conn.run_id

    # A third of the way through the run's calls, whatever the entities' order (progress
    # comes every 2 s: a later mark could arrive after the run's last call).
    third = minimum_calls(await h.expected(R4_DIVISION)) // 3

    def mid_run(m: object) -> bool:
        return (isinstance(m, RunProgress) and m.payload.run_id == run_id
                and m.payload.calls_used >= third)

    await h.log.wait(mid_run, 300, "progress into the run")
    before = await h.stats()
    withdrawn = await h.exact.withdraw(username=DIRK.username)
    at = datetime.now(UTC)
    needs = await h.log.wait(lambda m: isinstance(m, DataSourceNeedsReauthorization)
                             and m.datasource_id == ds, 180, "DataSourceNeedsReauthorization")
    paused = await h.log.wait(lambda m: isinstance(m, RunFailed) and m.payload.run_id == run_id,
                              180, "the run paused")
    detail = await h.datasource(ds)
    reason = detail.get("last_failure_reason") or ""
    noticed = (needs.occurred_at - at).total_seconds()
    result.expect(detail["state"] == "needs_reauthorization",
                  f"data source state {detail['state']!r}, not needs_reauthorization")
    result.expect(bool(reason), "no reason shown for needs_reauthorization")
    assert isinstance(paused, RunFailed)
    result.expect(paused.payload.reason_code == "grant_revoked" and paused.payload.retryable,
                  f"the run did not pause for the grant: {paused.payload.reason_code}")

    signin = datetime.now(UTC)
    decision = await h.recreate(ds, DIRK, R4_DIVISION)
    reauthorized = await h.log.wait(lambda m: isinstance(m, ExactAuthorized)
                                    and m.datasource_id == ds and m.occurred_at > signin,
                                    60, "ExactAuthorized of the recreate")
    result.expect(isinstance(decision, RecreateAccepted),
                  f"recreate with the same company: {type(decision).__name__}")
    resumed = await h.log.wait(lambda m: isinstance(m, RunStarted) and m.payload.run_id == run_id
                               and m.occurred_at > decision.occurred_at, 120, "the run resumed")
    result.expect(isinstance(resumed, RunStarted) and resumed.payload.resumed,
                  "the run started over instead of resuming")
    ok = await run_reconciles(h, conn, result, stack.scale.run_timeout)
    after = await h.stats()
    minimum = minimum_calls(await h.expected(R4_DIVISION))
    calls_after = after["calls_by_division"].get(str(R4_DIVISION), 0) - \
        before["calls_by_division"].get(str(R4_DIVISION), 0)
    # the run's calls: after the first sign-in, without the recreate's sign-in (the run was
    # paused then); the sign-ins' reads end before their ExactAuthorized
    run_calls = between(await h.calls(mark, R4_DIVISION), start=conn.authorized_at,
                        exclude=[(signin, reauthorized.occurred_at)])
    fetched = page_fetches(run_calls)
    again = refetches(run_calls, interruptions=1)
    result.figures.update({
        "grants_withdrawn": len(withdrawn),
        "noticed_after_s": round(noticed, 1),
        "state": detail["state"],
        "calls_after_withdrawal": calls_after,
        "calls_full_run": minimum,
        "pages_fetched": sum(fetched.values()),
        "pages_fetched_again": f"{again.extra} (allowed {again.allowed})",
    })
    result.expect(again.ok, again.failure())
    if ok:
        result.expect(sum(fetched.values()) - again.extra == minimum,
                      f"the run was served {sum(fetched.values()) - again.extra} distinct pages, "
                      f"the division has {minimum}")
    return result
