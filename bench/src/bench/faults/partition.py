"""R2: cut every connection to the broker several times (through the proxy) during a run.

Nobody is restarted: the services, the sink and the relays must reconnect by themselves.
Afterwards the run completes and reconciles, a new data source connects and imports, and
every outbox row of every service is marked sent and is on its topic.
"""

from __future__ import annotations

import asyncio
import re

from bench.faults.checks import run_reconciles
from bench.faults.result import ScenarioResult
from bench.faults.stack import R2_DIVISION, R5_DIVISION, FaultStack
from bench.harness import EVA, Harness
from bench.topics import outbox_rows, read_all
from contracts import RunCompleted, RunStarted

NAME = "broker partition"
_MESSAGE_ID = re.compile(rb'"message_id":"([0-9a-f-]{36})"')


async def run(h: Harness, stack: FaultStack) -> ScenarioResult:
    result = ScenarioResult(2, NAME)
    scale = stack.scale
    conn = await h.connect(EVA, R2_DIVISION)
    await h.log.wait(lambda m: isinstance(m, RunStarted) and m.payload.run_id == conn.run_id,
                     60, "RunStarted")
    for _ in range(scale.partition_cuts):
        await asyncio.sleep(scale.cut_seconds * 0.6)
        stack.proxy.cut(scale.cut_seconds)
        await asyncio.sleep(scale.cut_seconds)
    result.figures.update({"cuts": stack.proxy.cuts, "cut_s": scale.cut_seconds})
    await run_reconciles(h, conn, result, scale.run_timeout)

    # recovered on their own: a new data source connects and its run completes
    fresh = await h.connect(EVA, R5_DIVISION)
    end = await h.run_end(fresh.run_id, 300)
    result.expect(isinstance(end, RunCompleted), "a new data source did not import after the cuts")

    unsent, missing, total = await _outbox_delivered(h)
    result.figures.update({"outbox_rows": total, "outbox_unsent": unsent,
                           "outbox_missing_on_topic": missing})
    result.expect(unsent == 0, f"{unsent} outbox rows were never sent")
    result.expect(missing == 0, f"{missing} outbox rows marked sent are not on their topic")
    return result


async def _outbox_delivered(h: Harness, timeout: float = 60.0) -> tuple[int, int, int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows = await outbox_rows(h.system.database_url)
        unsent = sum(not r.sent for r in rows)
        if unsent == 0 or loop.time() > deadline:
            break
        await asyncio.sleep(1.0)
    topics = sorted({r.topic for r in rows})
    on_topics = {m.group(1).decode() for rec in await read_all(h.system.bootstrap, topics)
                 if (m := _MESSAGE_ID.search((rec.value or b"")[:200]))}
    missing = sum(1 for r in rows if r.sent and r.message_id not in on_topics)
    return unsent, missing, len(rows)
