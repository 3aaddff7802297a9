"""P5: from authorization completed (auth's ``ExactAuthorized``) to the data source's first
``LedgerBatch`` on the topic (its record timestamp), for data sources connected one after
the other through the browser flow; the median."""

from __future__ import annotations

import statistics
import uuid

from bench.harness import EVA, Harness
from bench.perf.report import Figure
from bench.perf.stack import PerfScale, lift_limits
from bench.processes import CpuMeter, system_pids
from contracts import RunCompleted


async def latency(h: Harness, scale: PerfScale) -> Figure:
    await lift_limits(h)
    latencies: list[float] = []
    failed = 0
    meter = CpuMeter(system_pids(h.system))
    for division in scale.latency_divisions:
        conn = await h.connect(EVA, division)
        ds = conn.datasource_id

        def batch_seen(ds: uuid.UUID = ds) -> bool:
            return ds in h.log.batches

        await h.log.wait_until(batch_seen, 120, "a first batch")
        first_ms = h.log.batches[ds].first_timestamp_ms or 0
        latencies.append(first_ms / 1000 - conn.authorized_at.timestamp())
        end = await h.run_end(conn.run_id, 600)  # one at a time: latency, not load
        failed += not isinstance(end, RunCompleted)
    cpu = meter.stop()
    median = statistics.median(latencies)
    ordered = sorted(latencies)
    return Figure(
        "P5", "authorization completed → first LedgerBatch (median)", median, ("<", 2.0),
        unit=" s",
        detail=f"{len(latencies)} data sources: min {ordered[0]:.2f} s, "
               f"p90 {ordered[int(0.9 * (len(ordered) - 1))]:.2f} s, max {ordered[-1]:.2f} s",
        cpu=cpu, data={"latencies_s": latencies, "failed_runs": failed},
        error=f"{failed} runs failed" if failed else None)
