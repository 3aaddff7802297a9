"""P1 and P2 from one initial run under Exact's real minutely limit.

P1: the run's calls, every one the sandbox answered (its access log: 401s and 429s
included, which the connector may not count), against the fewest possible
(:func:`bench.calls.minimum_calls`). The sign-in's own calls are the ones the sandbox
answered while ingest was stopped, reported apart; none is assumed. Ingest's own count
(``RunCompleted.calls_used``) must equal the sandbox's, or the figure is an error.

P2: the run's wall time (``RunStarted`` to ``RunCompleted``) against the rate-limit bound,
calls / 60 a minute. The sandbox clock runs ``speed`` times faster (a minute passes in
60/speed real seconds); ingest has to learn that from the ``X-RateLimit-*`` headers alone,
and must not get a single 429. Ingest is started just after a whole minute, so the
sign-in's calls are in the window before and the run starts with a fresh window.
"""

from __future__ import annotations

import math
from collections import Counter

from bench.access import between
from bench.calls import minimum_calls
from bench.harness import EVA, Harness
from bench.perf.report import Figure
from bench.perf.stack import (
    MAIN_DIVISION,
    PerfScale,
    real_limits,
    start_ingest_in_a_new_window,
    stop_ingest,
)
from bench.processes import CpuMeter, system_pids
from contracts import RunCompleted

MINUTELY = 60


async def calls_and_rate(h: Harness, scale: PerfScale) -> list[Figure]:
    speed = scale.rate_clock_speed
    await real_limits(h, speed)
    await stop_ingest(h)
    before = await h.access_mark()
    conn = await h.connect(EVA, MAIN_DIVISION)
    # ingest is stopped: every call the sandbox answered since `before` was the sign-in's
    signed_in = await h.access_mark()
    await start_ingest_in_a_new_window(h)
    meter = CpuMeter(system_pids(h.system))
    end = await h.run_end(conn.run_id, 3600)
    cpu = meter.stop()
    if not isinstance(end, RunCompleted):
        error = f"run failed: {end.payload.reason_code} {end.payload.reason}"
        return [Figure("P1", "API calls ÷ minimum", None, ("=", 1.0), error=error),
                Figure("P2", "wall time ÷ rate-limit bound", None, ("<=", 1.05), error=error)]
    calls = await h.calls(before)
    signin = [c for c in calls if c.seq <= signed_in]
    # every call answered from ingest's start to the run's end, whatever the answer
    run = between([c for c in calls if c.seq > signed_in], end=end.occurred_at)
    run_calls = len(run)
    by_endpoint = dict(Counter(c.endpoint for c in run))
    by_status = {str(k): v for k, v in sorted(Counter(c.status for c in run).items())}
    minimum = minimum_calls(await h.expected(MAIN_DIVISION))
    rows = sum(t.rows for t in end.payload.totals)
    wall = end.payload.duration_seconds
    bound = run_calls / MINUTELY * 60 / speed
    windows = 60 / speed
    throttled = sum(1 for c in run if c.status == 429)
    counted = end.payload.calls_used
    p1 = Figure(
        "P1", "API calls of an initial run ÷ minimum", run_calls / minimum, ("=", 1.0),
        detail=f"{run_calls} calls answered by the sandbox for {rows:,} rows (answers "
               f"{', '.join(f'{k}: {v}' for k, v in by_status.items())}); minimum {minimum} "
               f"(⌈rows/1000⌉ sync, ⌈rows/60⌉ regular, ReportingBalance per year, +1 "
               f"division); ingest counted "
               f"{counted}; sign-in {len(signin)} more (answered while ingest was stopped)",
        cpu=cpu,
        data={"run_calls": run_calls, "minimum": minimum, "ingest_calls_used": counted,
              "signin_calls": len(signin),
              "signin_by_endpoint": dict(Counter(c.endpoint for c in signin)),
              "calls_by_endpoint": by_endpoint, "calls_by_status": by_status, "rows": rows})
    if counted != run_calls:
        p1.error = (f"ingest counted {counted} calls, the sandbox answered {run_calls}: "
                    f"one of the two counts is wrong; {p1.detail}")
    p2 = Figure(
        "P2", "wall time under the real minutely limit ÷ rate-limit bound", wall / bound,
        ("<=", 1.05),
        detail=f"{wall:.1f} s for {run_calls} calls at {MINUTELY}/min with the sandbox clock "
               f"x{speed:g} (bound {bound:.1f} s = {run_calls}/{MINUTELY} min of "
               f"{windows:g} s); 429s at the sandbox: {throttled}; fixed-window floor "
               f"{(math.ceil(run_calls / MINUTELY) - 1) * windows:.1f} s",
        cpu=cpu,
        data={"wall_seconds": wall, "bound_seconds": bound, "clock_speed": speed,
              "responses_429": throttled, "rows": rows})
    if throttled:
        p2.error = f"{throttled} answers 429 (goal: none); {p2.detail}"
    return [p1, p2]
