"""R1: kill -9 the ingest process at random points of a run, and once the sink, datasource
and auth; restart each; the run completes and the sink reconciles exactly.

The kill points are random points of the run's progress: numbers of calls drawn at random
from the whole run (the sandbox counts the company's calls as they happen). Each kill waits
until the run reached its point and made at least one call since the restarted replica took
it over again (``RunStarted(resumed=True)``), so every kill interrupts real work - a page in
flight, batches half acknowledged, a checkpoint being written - anywhere from the first
master data to the last TransactionLines page. Each time it also measures how long the
company went without a call: a replica that takes a run over but stalls fails the scenario.
From the sandbox's access log it checks that no page was served twice beyond the one in
flight at each ingest kill (a resumed run must continue from its checkpoint).
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime

from bench.access import between, page_fetches, refetches
from bench.calls import minimum_calls
from bench.faults.checks import run_reconciles
from bench.faults.result import ScenarioResult
from bench.faults.stack import R1_DIVISION, FaultStack
from bench.harness import EVA, Harness
from contracts import Message, RunCompleted, RunFailed, RunStarted

NAME = "kill -9"
MAX_BACK_TO_WORK_S = 30.0
"""From a kill to the run's next call at Exact: restart, the 3 s lease, resuming."""
POLL_S = 0.02
"""How often the company's calls are counted. A resumed run front-loads its minute's budget
(a ReportingBalance page takes about 5 ms): at 50 ms, and with a second call awaited after
the first one of a takeover, each kill let the run run on some 30 calls past its point, and
on a fast machine it ended after 14 of its 20 kills."""
LATENCY_MS = 10
"""Each answer of the company's delayed by this much (Exact is not on loopback). Once a
ReportingBalance page took about 3 ms on loopback (a page's statement committed alone), a
replica that took the run over raced through the calls between two counts, and the run ended
after 16 of its 20 kills; at 10 ms a count sees a call or two go by."""


async def run(h: Harness, stack: FaultStack, seed: int = 11) -> ScenarioResult:
    await h.exact.set_faults(division=R1_DIVISION, latency_ms=LATENCY_MS)
    try:
        return await _run(h, stack, seed)
    finally:
        await h.exact.clear_faults(division=R1_DIVISION)


async def _run(h: Harness, stack: FaultStack, seed: int) -> ScenarioResult:
    result = ScenarioResult(1, NAME)
    scale = stack.scale
    rng = random.Random(seed)
    total = minimum_calls(await h.expected(R1_DIVISION))
    points = sorted(rng.sample(range(max(2, total // 50), total * 19 // 20), scale.ingest_kills))
    base = await _calls(h)
    mark = await h.access_mark()
    conn = await h.connect(EVA, R1_DIVISION)
    await h.log.wait(lambda m: isinstance(m, RunStarted) and m.payload.run_id == conn.run_id,
                     60, "RunStarted")
    others = dict(zip(rng.sample(range(scale.ingest_kills), 3), ("sink", "datasource", "auth"),
                      strict=True))
    killed: list[str] = []
    takeovers: list[float] = []
    back_to_work: list[float] = []
    floor = 0  # calls counted once the last kill was made
    for i, point in enumerate(points):
        while not _ended(h, conn.run_id):
            done = await _calls(h) - base
            # at its point, and a call made since the last kill (by the replica that took over)
            if done >= point and done > floor:
                break
            await asyncio.sleep(POLL_S)
        else:
            break
        at = datetime.now(UTC)
        started = time.monotonic()
        names = ["ingest", *([others[i]] if i in others else [])]
        for name in names:  # killed together, so the other kill costs the run no time
            await asyncio.to_thread(_kill_and_start, stack, name)
            if name == "ingest":  # read once it is dead: no call of the old replica after
                floor = await _calls(h) - base
        for name in names:
            await asyncio.to_thread(_wait_ready, stack, name)
        killed += names
        # the new replica takes the run over once the dead one's lease expired

        def taken_over(m: Message, at: datetime = at) -> bool:
            return isinstance(m, RunStarted | RunCompleted | RunFailed) and \
                m.payload.run_id == conn.run_id and m.occurred_at > at

        await h.log.wait(taken_over, 120, "the run taken over after a kill")
        takeovers.append(time.monotonic() - started)
        # and back at work: the company's next call at Exact
        while not _ended(h, conn.run_id) and time.monotonic() - started < 300:
            if await _calls(h) - base > floor:
                break
            await asyncio.sleep(POLL_S)
        back_to_work.append(time.monotonic() - started)
    result.figures.update({
        "ingest_kills": killed.count("ingest"),
        "other_kills": "+".join(k for k in killed if k != "ingest") or "none",
        "kill_points": f"calls {points[0]}..{points[-1]} of {total}",
        "takeover_s_max": round(max(takeovers, default=0.0), 1),
        "back_to_work_s_max": round(max(back_to_work, default=0.0), 1),
        "resumes": len([m for m in h.run_started(conn.run_id) if m.payload.resumed]),
    })
    result.expect(killed.count("ingest") == scale.ingest_kills,
                  f"the run ended after {killed.count('ingest')} of {scale.ingest_kills} kills")
    result.expect(len(killed) == scale.ingest_kills + 3, "not every other process was killed")
    result.expect(max(back_to_work, default=0.0) <= MAX_BACK_TO_WORK_S,
                  f"a restarted replica took {max(back_to_work):.0f} s to call Exact again "
                  f"(kill, restart, lease, first call; at most {MAX_BACK_TO_WORK_S:.0f} s)")
    await run_reconciles(h, conn, result, scale.run_timeout)
    # the run's calls: after the sign-in (whose own reads end before ExactAuthorized)
    run_calls = between(await h.calls(mark, R1_DIVISION), start=conn.authorized_at)
    again = refetches(run_calls, interruptions=killed.count("ingest"))
    result.figures.update({"pages_fetched": sum(page_fetches(run_calls).values()),
                           "pages_fetched_again": f"{again.extra} (allowed {again.allowed})"})
    result.expect(again.ok, again.failure())
    return result


async def _calls(h: Harness) -> int:
    """Calls the sandbox has answered for the company so far."""
    return int((await h.stats())["calls_by_division"].get(str(R1_DIVISION), 0))


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
