"""The check every fault scenario ends with: the run completed and the sink's copy equals
the sandbox's figures exactly."""

from __future__ import annotations

from bench.faults.result import ScenarioResult
from bench.harness import Connection, Harness
from bench.reconcile import reconcile
from contracts import RunCompleted


async def run_reconciles(h: Harness, conn: Connection, result: ScenarioResult,
                         timeout: float) -> bool:
    """Wait for the run's end, then reconcile; figures and failures go into ``result``."""
    end = await h.run_end(conn.run_id, timeout)
    if not result.expect(isinstance(end, RunCompleted),
                         f"run ended with {type(end).__name__}: {getattr(end.payload, 'reason', '')}"):
        return False
    expected = await h.expected(conn.division)
    rec = await reconcile(h.system.database_url, conn.datasource_id, expected)
    tally = h.log.batches.get(conn.datasource_id)
    result.figures.update({
        "rows": f"{rec.rows}/{rec.expected_rows}",
        "figures_matched": f"{rec.checks - len(rec.mismatches)}/{rec.checks}",
        "duplicate_batches": tally.duplicates if tally else 0,
    })
    result.expect(rec.ok, f"reconciliation: {rec.summary()}")
    return rec.ok
