"""P1 and P2 from one initial run under Exact's real minutely limit.

P1: the run's calls, counted by the sandbox, against the fewest possible
(:func:`bench.calls.minimum_calls`). The sign-in's own calls (auth reads ``current/Me``,
``system/Divisions`` and the user's rights once) are counted apart and reported.

P2: the run's wall time (``RunStarted`` to ``RunCompleted``) against the rate-limit bound,
calls / 60 a minute. The sandbox clock runs ``speed`` times faster (a minute passes in
60/speed real seconds); ingest has to learn that from the ``X-RateLimit-*`` headers alone,
and must not get a single 429. Ingest is started just after a whole minute, so the
sign-in's calls are in the window before and the run starts with a fresh window.
"""

from __future__ import annotations

import math

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
SIGNIN_PREFIXES = ("current/", "users/")


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


async def calls_and_rate(h: Harness, scale: PerfScale) -> list[Figure]:
    speed = scale.rate_clock_speed
    await real_limits(h, speed)
    await stop_ingest(h)
    before = await h.stats()
    conn = await h.connect(EVA, MAIN_DIVISION)
    await start_ingest_in_a_new_window(h)
    meter = CpuMeter(system_pids(h.system))
    end = await h.run_end(conn.run_id, 3600)
    cpu = meter.stop()
    after = await h.stats()
    if not isinstance(end, RunCompleted):
        error = f"run failed: {end.payload.reason_code} {end.payload.reason}"
        return [Figure("P1", "API calls ÷ minimum", None, ("=", 1.0), error=error),
                Figure("P2", "wall time ÷ rate-limit bound", None, ("<=", 1.05), error=error)]
    by_endpoint = _delta(after["calls_by_endpoint"], before["calls_by_endpoint"])
    signin = sum(v for k, v in by_endpoint.items() if k.startswith(SIGNIN_PREFIXES)) + 1
    total = sum(by_endpoint.values())
    run_calls = total - signin  # auth's sign-in reads system/Divisions once too
    minimum = minimum_calls(await h.expected(MAIN_DIVISION))
    rows = sum(t.rows for t in end.payload.totals)
    wall = end.payload.duration_seconds
    bound = run_calls / MINUTELY * 60 / speed
    windows = 60 / speed
    throttled = after["responses_429"] - before["responses_429"]
    p1 = Figure(
        "P1", "API calls of an initial run ÷ minimum", run_calls / minimum, ("=", 1.0),
        detail=f"{run_calls} calls at the sandbox for {rows:,} rows; minimum {minimum} "
               f"(⌈rows/1000⌉ sync, ⌈rows/60⌉ regular, +1 division); ingest counted "
               f"{end.payload.calls_used}; sign-in {signin} more",
        cpu=cpu,
        data={"run_calls": run_calls, "minimum": minimum, "ingest_calls_used": end.payload.calls_used,
              "signin_calls": signin, "calls_by_endpoint": by_endpoint, "rows": rows})
    p2 = Figure(
        "P2", "wall time under the real minutely limit ÷ rate-limit bound", wall / bound,
        ("<=", 1.05),
        detail=f"{wall:.1f} s for {run_calls} calls at {MINUTELY}/min with the sandbox clock "
               f"x{speed:g} (bound {bound:.1f} s = {run_calls}/{MINUTELY} min of "
               f"{windows:g} s); 429s: {throttled}; fixed-window floor "
               f"{(math.ceil(run_calls / MINUTELY) - 1) * windows:.1f} s",
        cpu=cpu,
        data={"wall_seconds": wall, "bound_seconds": bound, "clock_speed": speed,
              "responses_429": throttled, "rows": rows})
    if throttled:
        p2.error = f"{throttled} answers 429 (goal: none); {p2.detail}"
    return [p1, p2]
