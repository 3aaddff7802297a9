"""R4: the grant is withdrawn in the middle of a run ("the approving person lost access").

The data source must go to ``needs_reauthorization`` with a reason and the run pause;
a recreate with the same company through the browser brings a new grant, the paused run
resumes from its checkpoint and the sink reconciles exactly. "No page fetched twice beyond
the ones in flight" is counted from the sandbox's access log: every page the run was served
(the sign-ins' own reads left out), each at most once, but for the pages in flight when the
grant went (ingest's pipeline depth, ``bench.access.PAGES_IN_FLIGHT``).

How fast the withdrawal is noticed depends on where the run's token is in its life. Exact's
401 does not say whether the grant is gone or the answer is one of its passing 401 bursts, and
auth may not ask for a new token before Exact allows it (the 570 s rule, scaled here to the
last 30 s of a 60 s token). So ingest asks a 401's page again with the same token after 2 s and
4 s before it reports the token refused; auth then refreshes at once and Exact's
``invalid_grant`` revokes the grant: about 6 s. Only when the token is in its last 30 s, or
ingest's copy is due for renewal during those waits, does auth ask Exact sooner (under 6 s,
down to a fraction of a second). ``same_token_retries`` and ``same_token_wait_s`` (from
ingest's log) show which happened; the goal is R11's: noticed within a minute.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
GOAL_S = 60.0
"""Withdrawal to ``DataSourceNeedsReauthorization`` (R11's goal, with Exact's 600 s tokens)."""
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
    asked = datetime.now(UTC)
    withdrawn = await h.exact.withdraw(username=DIRK.username)
    at = datetime.now(UTC)
    needs = await h.log.wait(lambda m: isinstance(m, DataSourceNeedsReauthorization)
                             and m.datasource_id == ds, 180, "DataSourceNeedsReauthorization")
    paused = await h.log.wait(lambda m: isinstance(m, RunFailed) and m.payload.run_id == run_id,
                              180, "the run paused")
    detail = await h.datasource(ds)
    reason = detail.get("last_failure_reason") or ""
    noticed = (needs.occurred_at - at).total_seconds()
    waits = same_token_waits(_log_lines(stack.system.work_dir), R4_DIVISION,
                             asked, needs.occurred_at)
    result.expect(noticed < GOAL_S, f"needs re-authorization {noticed:.0f} s after the "
                  f"withdrawal (goal < {GOAL_S:.0f} s)")
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
        "same_token_retries": waits.retries,
        "same_token_wait_s": round(waits.seconds, 1),
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


@dataclass(frozen=True)
class SameTokenWaits:
    retries: int
    seconds: float


def same_token_waits(lines: Iterable[str], division: int, start: datetime, end: datetime
                     ) -> SameTokenWaits:
    """The 401s ingest asked again with the same token for ``division`` between ``start``
    and ``end``, and the seconds it waited before them (from its JSON log lines)."""
    retries, seconds = 0, 0.0
    for line in lines:
        if "exact_unauthorized_retry_same_token" not in line:
            continue
        try:
            record = json.loads(line)
            at = datetime.fromisoformat(str(record["timestamp"]).replace("Z", "+00:00"))
            ours = record.get("event") == "exact_unauthorized_retry_same_token" \
                and record.get("division") == division
            wait = float(record.get("retry_in", 0.0))
        except (ValueError, KeyError, TypeError):
            continue
        if ours and start <= at <= end:
            retries += 1
            seconds += wait
    return SameTokenWaits(retries, seconds)


def _log_lines(work_dir: Path) -> list[str]:
    lines: list[str] = []
    for log in sorted(work_dir.glob("ingest*.log")):
        lines.extend(log.read_text(errors="replace").splitlines())
    return lines
