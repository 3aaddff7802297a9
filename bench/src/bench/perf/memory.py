"""P4: ingest's peak memory for a 1,000,000-line company against a 10,000-line one.

Each run happens in a freshly started ingest process, so its peak resident set (sampled
every 50 ms, and the kernel's high-water mark) belongs to that run alone.
"""

from __future__ import annotations

import asyncio

from bench.harness import EVA, Harness
from bench.perf.report import Figure
from bench.perf.stack import PerfScale, lift_limits
from bench.processes import CpuMeter, CpuShare, PeakRss, system_pids
from contracts import RunCompleted, RunFailed

MB = 1024 * 1024


async def _peak(h: Harness, division: int) -> tuple[int, RunCompleted | RunFailed, CpuShare]:
    await asyncio.to_thread(h.system.restart_service, "ingest")
    sampler = PeakRss(h.system.processes["ingest"].proc.pid).start()
    meter = CpuMeter(system_pids(h.system))
    try:
        conn = await h.connect(EVA, division)
        end = await h.run_end(conn.run_id, 3600)
    finally:
        peak = sampler.stop()
    return peak, end, meter.stop()


async def memory(h: Harness, scale: PerfScale) -> Figure:
    await lift_limits(h)
    small_division, large_division = scale.memory_divisions
    small, small_end, _ = await _peak(h, small_division)
    large, large_end, cpu = await _peak(h, large_division)
    ends = (small_end, large_end)
    if not all(isinstance(e, RunCompleted) for e in ends):
        return Figure("P4", "ingest peak RSS ratio", None, ("<=", 1.2),
                      error="a run failed: " + ", ".join(type(e).__name__ for e in ends))
    rows = [sum(t.rows for t in e.payload.totals) for e in ends if isinstance(e, RunCompleted)]
    seconds = [e.payload.duration_seconds for e in ends if isinstance(e, RunCompleted)]
    return Figure(
        "P4", f"ingest peak RSS at {scale.memory_large_rows:,} ÷ {scale.memory_small_rows:,} lines",
        large / small, ("<=", 1.2),
        detail=f"{large / MB:.0f} MB for {rows[1]:,} rows ({rows[1] / seconds[1]:,.0f} rows/s) vs "
               f"{small / MB:.0f} MB for {rows[0]:,} rows",
        cpu=cpu,
        data={"peak_rss_bytes": {"small": small, "large": large}, "rows": rows,
              "seconds": seconds})
