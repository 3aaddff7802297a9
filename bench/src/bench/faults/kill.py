"""R1: kill -9 the ingest process at random points of a run, and once the sink, datasource
and auth; restart each; the run completes and the sink reconciles exactly.

Each ingest kill lands at a random moment after the restarted replica has taken the run
over again (it said so with ``RunStarted(resumed=True)``), so every kill interrupts real
work: a page in flight, batches half acknowledged, a checkpoint being written.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime

from bench.faults.checks import run_reconciles
from bench.faults.result import ScenarioResult
from bench.faults.stack import R1_DIVISION, FaultStack
from bench.harness import EVA, Harness
from contracts import Message, RunCompleted, RunFailed, RunStarted

NAME = "kill -9"


async def run(h: Harness, stack: FaultStack, seed: int = 11) -> ScenarioResult:
    result = ScenarioResult(1, NAME)
    scale = stack.scale
    rng = random.Random(seed)
    conn = await h.connect(EVA, R1_DIVISION)
    await h.log.wait(lambda m: isinstance(m, RunStarted) and m.payload.run_id == conn.run_id,
                     60, "RunStarted")
    others = dict(zip(rng.sample(range(scale.ingest_kills), 3), ("sink", "datasource", "auth"),
                      strict=True))
    killed: list[str] = []
    takeovers: list[float] = []
    for i in range(scale.ingest_kills):
        await asyncio.sleep(rng.uniform(0.1, scale.kill_gap_s))
        if _ended(h, conn.run_id):
            break
        at = datetime.now(UTC)
        started = time.monotonic()
        names = ["ingest", *([others[i]] if i in others else [])]
        for name in names:  # killed together, so the other kill costs the run no time
            await asyncio.to_thread(_kill_and_start, stack, name)
        for name in names:
            await asyncio.to_thread(_wait_ready, stack, name)
        killed += names
        # the new replica takes the run over once the dead one's lease expired

        def taken_over(m: Message, at: datetime = at) -> bool:
            return isinstance(m, RunStarted | RunCompleted | RunFailed) and \
                m.payload.run_id == conn.run_id and m.occurred_at > at

        await h.log.wait(taken_over, 120, "the run taken over after a kill")
        takeovers.append(time.monotonic() - started)
    result.figures.update({
        "ingest_kills": killed.count("ingest"),
        "other_kills": "+".join(k for k in killed if k != "ingest") or "none",
        "takeover_s_max": round(max(takeovers, default=0.0), 1),
        "resumes": len([m for m in h.run_started(conn.run_id) if m.payload.resumed]),
    })
    result.expect(killed.count("ingest") == scale.ingest_kills,
                  f"the run ended after {killed.count('ingest')} of {scale.ingest_kills} kills")
    result.expect(len(killed) == scale.ingest_kills + 3, "not every other process was killed")
    await run_reconciles(h, conn, result, scale.run_timeout)
    return result


def _ended(h: Harness, run_id: object) -> bool:
    return bool(h.log.find(lambda m: isinstance(m, RunCompleted | RunFailed)
                           and m.payload.run_id == run_id))


def _kill_and_start(stack: FaultStack, name: str) -> None:
    stack.system.processes[name].kill()
    if name == "sink":
        stack.system.start_sink()
    else:
        stack.system.start_service(name)


def _wait_ready(stack: FaultStack, name: str) -> None:
    if name != "sink":  # the sink has no HTTP port; it resumes from its committed offsets
        stack.system.wait_ready(name)
