"""Running the scenarios in order against one fault stack."""

from __future__ import annotations

import time
import traceback
from collections.abc import Awaitable, Callable

from bench.faults import (
    everyday,
    exact_faults,
    hostile,
    kill,
    leaks,
    lifetimes,
    links,
    partition,
    refresh,
    revoke,
    revoke_fast,
    signin,
)
from bench.faults.result import ScenarioResult
from bench.faults.stack import FaultStack
from bench.harness import Harness

Scenario = Callable[[Harness, FaultStack], Awaitable[ScenarioResult]]

SCENARIOS: dict[int, tuple[str, Scenario]] = {
    1: (kill.NAME, kill.run),
    2: (partition.NAME, partition.run),
    3: (exact_faults.NAME, exact_faults.run),
    4: (revoke.NAME, revoke.run),
    5: (hostile.NAME, hostile.run),
    6: (links.NAME, links.run),
    8: (refresh.NAME, refresh.run),
    9: (everyday.NAME, everyday.run),
    10: (signin.NAME, signin.run),
    11: (revoke_fast.NAME, revoke_fast.run),
    12: (lifetimes.NAME, lifetimes.run),
    7: (leaks.NAME, leaks.run),  # last: it looks through everything the others left
}


async def run_scenario(h: Harness, stack: FaultStack, number: int) -> ScenarioResult:
    name, scenario = SCENARIOS[number]
    started = time.monotonic()
    try:
        result = await scenario(h, stack)
    except Exception as exc:  # a scenario that cannot finish is a FAIL with the reason
        where = traceback.extract_tb(exc.__traceback__)[-1]
        result = ScenarioResult(number, name, failures=[
            f"{type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})"[:500]])
    result.seconds = time.monotonic() - started
    return result


async def run_suite(stack: FaultStack, numbers: list[int] | None = None,
                    echo: Callable[[str], None] = print) -> list[ScenarioResult]:
    results = []
    async with Harness(stack.system) as h:
        for number in SCENARIOS:
            if numbers is not None and number not in numbers:
                continue
            result = await run_scenario(h, stack, number)
            echo(result.line())
            results.append(result)
    return sorted(results, key=lambda r: r.number)
