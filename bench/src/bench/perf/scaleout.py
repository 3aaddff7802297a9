"""P6: twenty data sources (twenty companies) importing at once, against one alone.

Both under Exact's real per-company limit (60 calls a minute, on the sandbox clock of the
scale). Ingest is stopped while the data sources are connected through the browser flow,
then started just after a whole minute, so every run begins together and at the same
point of a fresh window as the single one; throughput is all rows over the time from the
first ``RunStarted`` to the last ``RunCompleted``. Ingest runs up to
``INGEST_MAX_CONCURRENT_RUNS`` runs at once (raised to 24 for this).
"""

from __future__ import annotations

import asyncio

from bench.harness import EVA, Connection, Harness
from bench.perf.report import Figure
from bench.perf.stack import PerfScale, real_limits, start_ingest_in_a_new_window, stop_ingest
from bench.processes import CpuMeter, CpuShare, system_pids
from contracts import RunCompleted, RunStarted


async def _together(h: Harness, divisions: list[int]) -> tuple[float, int, int, CpuShare]:
    """rows/s of the runs of ``divisions`` started together; (rows/s, rows, failed, cpu)."""
    await stop_ingest(h)
    connections: list[Connection] = [await h.connect(EVA, d) for d in divisions]
    await start_ingest_in_a_new_window(h)
    meter = CpuMeter(system_pids(h.system))
    ends = await asyncio.gather(*(h.run_end(c.run_id, 3600) for c in connections))
    cpu = meter.stop()
    runs = {c.run_id for c in connections}
    started = [m.occurred_at for m in h.log.find(lambda m: isinstance(m, RunStarted)
                                                 and m.payload.run_id in runs)]
    done = [e for e in ends if isinstance(e, RunCompleted)]
    rows = sum(t.rows for e in done for t in e.payload.totals)
    seconds = (max(e.occurred_at for e in ends) - min(started)).total_seconds()
    return rows / seconds, rows, len(ends) - len(done), cpu


async def scale_out(h: Harness, scale: PerfScale) -> Figure:
    await real_limits(h, scale.scale_clock_speed)
    alone, alone_rows, failed_alone, _ = await _together(h, [scale.scale_alone_division])
    many, many_rows, failed, cpu = await _together(h, scale.scale_divisions)
    n = len(scale.scale_divisions)
    failures = failed + failed_alone
    return Figure(
        "P6", f"{n} data sources at once ÷ one alone (rows/s)", many / alone, (">=", 15.0),
        detail=f"{many:,.0f} rows/s for {n} companies ({many_rows:,} rows) vs {alone:,.0f} rows/s "
               f"alone ({alone_rows:,} rows); 60 calls/min per company, sandbox clock "
               f"x{scale.scale_clock_speed:g}",
        cpu=cpu,
        data={"rows_per_s": {"alone": alone, "together": many}, "sources": n,
              "rows": {"alone": alone_rows, "together": many_rows}},
        error=f"{failures} runs failed" if failures else None)
