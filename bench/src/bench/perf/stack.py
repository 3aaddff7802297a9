"""The system the benchmarks run against, and the size of each benchmark.

The whole connector as separate processes on the embedded stack (like ``make demo``), with
the sandbox's limits lifted by default; a benchmark that needs Exact's real limits sets
them (and the sandbox clock) itself. No sink: the benchmarks measure the connector, from
Exact to the ledger topic; what a downstream consumer does with the batches is not ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Harness
from bench.perf.report import Figure
from connector_demo.system import LocalSystem

MAIN_DIVISION = 300001  # Eva's Grootboek Data B.V.: P1, P2, P3


@dataclass(frozen=True)
class PerfScale:
    name: str
    main_rows: int = 100_000
    """TransactionLines of the division of P1-P3."""
    rate_clock_speed: float = 1.0
    """Sandbox clock speed in P2: a minutely window passes in 60/speed real seconds. Real
    time by default: with a faster clock ingest first has to learn the clock's speed from
    the headers, and the figure would measure that learning rather than the pacing."""
    memory_small_rows: int = 10_000
    memory_large_rows: int = 1_000_000
    latency_sources: int = 20
    latency_rows: int = 1_000
    scale_sources: int = 20
    scale_rows: int = 10_000
    scale_clock_speed: float = 1.0

    @property
    def memory_divisions(self) -> tuple[int, int]:
        return 940001, 940002

    @property
    def latency_divisions(self) -> list[int]:
        return [950001 + i for i in range(self.latency_sources)]

    @property
    def scale_alone_division(self) -> int:
        return 960000

    @property
    def scale_divisions(self) -> list[int]:
        return [960001 + i for i in range(self.scale_sources)]


FULL = PerfScale("full")
QUICK = PerfScale("quick", main_rows=20_000, rate_clock_speed=10.0, memory_small_rows=2_000,
                  memory_large_rows=50_000, latency_sources=5, scale_sources=5, scale_rows=2_000,
                  scale_clock_speed=4.0)
"""A smoke run of the whole suite in a few minutes (figures not comparable with FULL)."""


def sandbox_args(scale: PerfScale) -> list[str]:
    small, large = scale.memory_divisions
    sizes = {small: scale.memory_small_rows, large: scale.memory_large_rows,
             scale.scale_alone_division: scale.scale_rows,
             **dict.fromkeys(scale.latency_divisions, scale.latency_rows),
             **dict.fromkeys(scale.scale_divisions, scale.scale_rows)}
    args = ["--minutely-limit", "1000000", "--daily-limit", "100000000",
            "--token-daily-limit", "1000000",
            "--division-size", f"{MAIN_DIVISION}={scale.main_rows}"]
    for division, rows in sizes.items():
        args += ["--extra-division", f"{division}={rows}"]
    return args


def perf_system(work_dir: Path, scale: PerfScale) -> LocalSystem:
    return LocalSystem(
        work_dir=work_dir, sandbox_args=sandbox_args(scale), with_sink=False,
        session_timeout_ms=3000,
        extra_env={"INGEST_MAX_CONCURRENT_RUNS": str(max(24, scale.scale_sources + 4)),
                   "INGEST_EXACT_MINUTELY_LIMIT": "60", "LOG_LEVEL": "INFO"})


async def lift_limits(h: Harness) -> None:
    """Real-time clock, limits out of the way, fresh windows.

    When the limit was lower, the rest of the current minute is waited out: Exact never
    raises a limit within a window, so a client rightly keeps the lowest count it was told
    for the window, and the benchmark would measure that instead of the connector.
    """
    raised = (await h.exact.limits())["minutely"] < 1_000_000
    await h.exact.clock(speed=1.0)
    await h.exact.limits(minutely=1_000_000, daily=100_000_000, access_token_lifetime_s=600,
                         refresh_window_s=30, code_lifetime_s=180)
    await h.exact.reset_limits()
    if raised:
        await next_window(h)


async def next_window(h: Harness) -> None:
    """Until just after the sandbox's next whole minute."""
    clock = await h.exact.clock()
    speed = float(clock["speed"]) or 1.0
    await asyncio.sleep((60_000 - int(clock["now_ms"]) % 60_000) / speed / 1000 + 0.05)


async def real_limits(h: Harness, speed: float) -> None:
    """Exact's minutely limit (60) with the sandbox clock ``speed`` times faster.

    Token and code lifetimes stretch with the clock, so they last the same real time as
    at speed 1: auth keeps Exact's real-time rules (it cannot see the sandbox clock).
    """
    await h.exact.clock(speed=speed)
    await h.exact.limits(minutely=60, daily=100_000_000, access_token_lifetime_s=int(600 * speed),
                         refresh_window_s=int(30 * speed), code_lifetime_s=int(180 * speed))
    await h.exact.reset_limits()


async def stop_ingest(h: Harness) -> None:
    await asyncio.to_thread(h.system.processes["ingest"].stop)


async def start_ingest_in_a_new_window(h: Harness) -> None:
    """Start ingest just after the sandbox's next whole minute, so the sign-in's calls are
    in an earlier window and every run starts at the same point of a fresh window."""
    await next_window(h)
    await asyncio.to_thread(_start_ingest, h.system)


def _start_ingest(system: LocalSystem) -> None:
    system.start_service("ingest")
    system.wait_ready("ingest")


def measured(system: LocalSystem, measure: Callable[[Harness], Awaitable[list[Figure]]]
             ) -> list[Figure]:
    """Start ``system``, take ``measure``'s figures through a harness, stop everything."""

    async def go() -> list[Figure]:
        async with Harness(system) as h:
            return await measure(h)

    try:
        system.start()
        return asyncio.run(go())
    finally:
        system.stop()
