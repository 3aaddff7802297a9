"""make faults: the fault suite R1-R12 on the embedded stack; writes bench/faults.json.

Starts everything itself (Kafka behind a cuttable proxy, PostgreSQL, the sandbox, the
three services, the sink), runs every scenario, prints one line per scenario and stops
everything it started. Exit status 1 when a scenario fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.faults.stack import FULL, SMALL, start_stack
from bench.faults.suite import SCENARIOS, run_suite
from bench.provenance import stamp, stamp_after_run
from bench.readme import update_block


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=("full", "small"), default="full")
    parser.add_argument("--only", default="", help="scenario numbers, e.g. 1,3 (default: all)")
    parser.add_argument("--work-dir", type=Path, default=Path(".data/faults"),
                        help="logs and data of the run (emptied first)")
    parser.add_argument("--out", type=Path, default=Path("bench/faults.json"))
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # cut connections are the point
    scale = FULL if args.scale == "full" else SMALL
    numbers = [int(n.strip().lstrip("Rr")) for n in args.only.split(",") if n.strip()] or None
    shutil.rmtree(args.work_dir, ignore_errors=True)
    started, when = time.monotonic(), datetime.now(UTC)
    at_start = stamp("make faults", when)
    print(f"fault suite ({scale.name}): starting the system in {args.work_dir} ...", flush=True)
    stack = start_stack(args.work_dir.resolve(), scale)
    try:
        results = asyncio.run(run_suite(stack, numbers, echo=lambda line: print(line, flush=True)))
    finally:
        stack.stop()
    seconds = time.monotonic() - started
    ok = all(r.ok for r in results) and len(results) == len(numbers or SCENARIOS)
    report = {"suite": "faults", "scale": scale.name, "started_at": when.isoformat(),
              "seconds": round(seconds, 1), "ok": ok, "scenarios": [r.as_dict() for r in results]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    for result in results:
        for failure in result.failures:
            print(f"  R{result.number}: {failure}")
    if scale is FULL and numbers is None:
        lines = "\n".join(r.line() for r in results)
        update_block("faults:results", f"{stamp_after_run('make faults', when, at_start)}\n\n"
                     f"```\n{lines}\n```\n\n`make faults` took {seconds / 60:.1f} minutes "
                     f"({when:%Y-%m-%d}): {'PASS' if ok else 'FAIL'}.")
    print(f"faults: {'PASS' if ok else 'FAIL'} {sum(r.ok for r in results)}/{len(results)} "
          f"scenarios in {seconds:.0f}s; report {args.out}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
