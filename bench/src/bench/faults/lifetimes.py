"""R12: whatever lifetime Exact gives its tokens, a long run refreshes on time.

No auth setting is changed: auth reads each token's ``expires_in``. Exact answers the
company's calls slowly for the scenario (steady latency, so calls are spread evenly over
the run instead of bunched by the rate limit) so that the run lasts a few token
lifetimes; it must cross every refresh without breaking Exact's rules (no refresh before
its last 30 s, no old refresh token), without a 401, and without standing still: the
longest time the company made no call stays within a few seconds of the latency. With
60 s tokens (40 s at small scale); with Exact's own 600 s tokens too at full scale (a run
of about 12 minutes).
"""

from __future__ import annotations

import asyncio
import math

from bench.calls import minimum_calls
from bench.faults.checks import run_reconciles
from bench.faults.result import ScenarioResult
from bench.faults.stack import R12_DIVISIONS, FaultStack
from bench.faults.watch import CallWatch, delta, set_limits
from bench.harness import EVA, Harness

NAME = "token lifetimes"
def lifetimes_across(lifetime: int, small: bool) -> float:
    """How many token lifetimes the run lasts (Exact's 600 s ones: just over one)."""
    return 1.2 if lifetime >= 300 else 2.0 if small else 3.0
MAX_SILENCE_S = 5.0
"""Beyond the latency: a run that waited for a token would stand still 10 s or more."""
MAX_LATENCY_MS = 3500
"""Below ingest's 5 s call timeout of the fault stack."""


async def run(h: Harness, stack: FaultStack) -> ScenarioResult:
    result = ScenarioResult(12, NAME)
    lifetimes = [stack.scale.token_lifetime_s] + ([600] if stack.scale.long_tokens else [])
    for lifetime, division in zip(lifetimes, R12_DIVISIONS, strict=False):
        await _long_run(h, stack, result, division, lifetime)
    return result


async def _long_run(h: Harness, stack: FaultStack, result: ScenarioResult, division: int,
                    lifetime: int) -> None:
    calls = minimum_calls(await h.expected(division))
    across = lifetimes_across(lifetime, not stack.scale.long_tokens)
    latency_ms = min(MAX_LATENCY_MS, math.ceil(across * lifetime * 1000 / calls))
    old = await set_limits(h, access_token_lifetime_s=lifetime)
    before = await h.stats()
    try:
        conn = await h.connect(EVA, division)
        await h.exact.patch_faults(latency_ms=latency_ms, divisions=[division])
        watch = CallWatch(h, division, conn.run_id)
        timeout = max(stack.scale.run_timeout, 3 * across * lifetime)
        watcher = asyncio.create_task(watch.run(timeout))
        ok = await run_reconciles(h, conn, result, timeout)
        await watcher
    finally:
        await h.exact.clear_faults()
        await set_limits(h, **old)
    after = await h.stats()
    end = await h.run_end(conn.run_id, 10)
    duration = float(getattr(end.payload, "duration_seconds", 0.0))
    refreshes = after["refresh_calls"] - before["refresh_calls"]
    violations = delta(after["rule_violations"], before["rule_violations"])
    unauthorized = after["status_counts"].get("401", 0) - before["status_counts"].get("401", 0)
    due = int(duration // lifetime)  # a token lasts its lifetime at most
    tag = f"{lifetime}s"
    result.figures.update({
        f"{tag}_run_s": round(duration, 1), f"{tag}_latency_ms": latency_ms,
        f"{tag}_refreshes": refreshes,
        f"{tag}_refreshes_due": due, f"{tag}_rule_violations": sum(violations.values()),
        f"{tag}_401s": unauthorized, f"{tag}_longest_silence_s": round(watch.longest_silence, 1),
        f"{tag}_reconciled": ok,
    })
    result.expect(not violations, f"{tag} tokens: Exact's token rules broken: {violations}")
    result.expect(unauthorized == 0, f"{tag} tokens: {unauthorized} calls answered 401")
    result.expect(refreshes >= due, f"{tag} tokens: {refreshes} refreshes in a {duration:.0f} s "
                                    f"run, {due} due")
    result.expect(watch.longest_silence <= latency_ms / 1000 + MAX_SILENCE_S,
                  f"{tag} tokens: the company made no call for {watch.longest_silence:.0f} s")
