"""make bench-scale: P7 (many companies on 1, 2 and 3 ingest replicas) against its own system;
``bench/scale-results.json`` and, for a full run, the ``bench-scale:results`` block of
bench/README.md. Kept out of ``make bench``: a full run connects 3,000 companies."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from bench.perf.companies import FULL, QUICK, many_companies, sandbox_args
from bench.perf.report import machine, markdown, print_table
from bench.perf.stack import measured
from bench.provenance import stamp, stamp_after_run
from bench.readme import update_block
from connector_demo.system import LocalSystem

console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.scale_suite", description=__doc__)
    parser.add_argument("--scale", choices=("full", "quick"), default="full")
    parser.add_argument("--companies", type=int, default=None,
                        help="companies per replica count (default: 1,000 full, 30 quick)")
    parser.add_argument("--replicas", default=None, help="replica counts, e.g. 1,3")
    parser.add_argument("--max-concurrent-runs", type=int, default=None,
                        help="INGEST_MAX_CONCURRENT_RUNS of each replica (default: per round, "
                             "companies / (replicas - 1) rounded up, so the survivors of the "
                             "killed replica can hold its companies; companies on one replica)")
    parser.add_argument("--work-dir", type=Path, default=Path(".data/bench-scale"))
    parser.add_argument("--out", type=Path, default=Path("bench/scale-results.json"))
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    setup = FULL if args.scale == "full" else QUICK
    if args.companies:
        setup = dataclasses.replace(setup, companies=args.companies)
    if args.replicas:
        setup = dataclasses.replace(setup, replicas=tuple(int(r) for r in args.replicas.split(",")))
    if args.max_concurrent_runs:
        setup = dataclasses.replace(setup, max_concurrent_runs=args.max_concurrent_runs)
    shutil.rmtree(args.work_dir, ignore_errors=True)
    started, when = time.monotonic(), datetime.now(UTC)
    at_start = stamp("make bench-scale", when)
    console.rule(f"P7 ({setup.name}: {setup.companies} companies x replicas {setup.replicas})")
    system = LocalSystem(
        work_dir=args.work_dir.resolve(), sandbox_args=sandbox_args(setup), with_sink=False,
        session_timeout_ms=3000,
        extra_env={"INGEST_EXACT_MINUTELY_LIMIT": "60", "LOG_LEVEL": "WARNING"})

    figures = measured(system, lambda h: many_companies(h, setup))
    seconds = time.monotonic() - started
    print_table(figures, console)
    report = {
        "suite": "bench-scale", "scale": setup.name, "setup": dataclasses.asdict(setup),
        "started_at": when.isoformat(), "seconds": round(seconds, 1),
        "machine": machine(),
        "figures": [f.as_dict() for f in figures], "markdown": markdown(figures),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if args.scale == "full" and not (args.companies or args.replicas or args.max_concurrent_runs):
        update_block("bench-scale:results",
                     f"{stamp_after_run('make bench-scale', when, at_start)}\n\n"
                     f"{markdown(figures)}\n\n`make bench-scale` took {seconds / 60:.1f} minutes "
                     f"({when:%Y-%m-%d}).")
    console.print(f"bench-scale: {sum(f.met for f in figures)}/{len(figures)} goals met in "
                  f"{seconds:.0f}s; results {args.out}")
    sys.exit(0)


if __name__ == "__main__":
    main()
