"""make bench: P1-P6 against one system, the table, ``bench/results.json``."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from bench.harness import Harness
from bench.perf.latency import latency
from bench.perf.memory import memory
from bench.perf.rate import calls_and_rate
from bench.perf.report import Figure, machine, markdown, print_table
from bench.perf.scaleout import scale_out
from bench.perf.stack import FULL, QUICK, PerfScale, measured, perf_system
from bench.perf.throughput import throughput
from bench.provenance import stamp, stamp_after_run
from bench.readme import update_block

Step = Callable[[Harness, PerfScale], Awaitable[list[Figure] | Figure]]
STEPS: list[tuple[str, tuple[str, ...], Step]] = [
    ("calls and rate bound", ("P1", "P2"), calls_and_rate),
    ("throughput", ("P3",), throughput),
    ("memory", ("P4",), memory),
    ("latency", ("P5",), latency),
    ("scale-out", ("P6",), scale_out),
]

console = Console()


async def run_benchmarks(h: Harness, scale: PerfScale, only: set[str] | None) -> list[Figure]:
    figures: list[Figure] = []
    for title, keys, step in STEPS:
        if only and not only & set(keys):
            continue
        console.rule(f"{'/'.join(keys)}: {title}")
        started = time.monotonic()
        try:
            found = await step(h, scale)
            got = found if isinstance(found, list) else [found]
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            got = [Figure(k, title, None, ("=", 0.0), error=f"{type(exc).__name__}: {exc}"[:400])
                   for k in keys]
        for figure in got:
            figure.data["seconds"] = round(time.monotonic() - started, 1)
            console.print(f"{figure.key} {figure.name}: {figure.value_text} (goal "
                          f"{figure.goal_text}) {'met' if figure.met else 'NOT met'} - "
                          f"{figure.error or figure.detail}")
        figures.extend(got)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=("full", "quick"), default="full")
    parser.add_argument("--only", default="", help="figures, e.g. P1,P5 (default: all)")
    parser.add_argument("--work-dir", type=Path, default=Path(".data/bench"))
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    scale = FULL if args.scale == "full" else QUICK
    only = {k.strip().upper() for k in args.only.split(",") if k.strip()} or None
    shutil.rmtree(args.work_dir, ignore_errors=True)
    started, when = time.monotonic(), datetime.now(UTC)
    at_start = stamp("make bench", when)
    console.rule(f"Benchmarks ({scale.name}): starting the system in {args.work_dir}")
    system = perf_system(args.work_dir.resolve(), scale)

    figures = measured(system, lambda h: run_benchmarks(h, scale, only))
    seconds = time.monotonic() - started
    print_table(figures, console)
    report = {
        "suite": "bench", "scale": scale.name, "started_at": when.isoformat(),
        "seconds": round(seconds, 1),
        "machine": machine(),
        "figures": [f.as_dict() for f in figures],
        "markdown": markdown(figures),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    met = sum(f.met for f in figures)
    if args.scale == "full" and not only:
        update_block("bench:results", f"{stamp_after_run('make bench', when, at_start)}\n\n"
                     f"{markdown(figures)}\n\n`make bench` took {seconds / 60:.1f} minutes "
                     f"({when:%Y-%m-%d}).")
    console.print(f"bench: {met}/{len(figures)} goals met in {seconds:.0f}s; results {args.out}")
    sys.exit(0)
