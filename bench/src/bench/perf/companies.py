"""P7: many companies on 1, 2 and 3 ingest replicas under Exact's limits, one replica killed.

The sandbox serves generated companies (``--companies``), each with its own administrator
and Exact's real limits: 60 calls a minute and 5,000 a day per company, the day compressed to
``day_seconds`` so a day of budget passes in minutes (the minute stays real, so the pace of
calls is Exact's). For each replica count a fresh set of companies is connected through the
browser flow while ingest is stopped; then the replicas start together and import every
company at once. With two or more replicas one of them is killed (SIGKILL) once a third of
the runs have ended. Each replica drives at most ``INGEST_MAX_CONCURRENT_RUNS`` runs; unless
``--max-concurrent-runs`` sets it, each round sets it so the survivors can hold every company:
companies ÷ (replicas - 1), rounded up (all companies on one replica).

Figures per replica count, all from the sandbox's access log and the run events:

* **aggregate calls a minute ÷ the sum of the companies' minutely limits**, from the first
  ``RunStarted`` to the last ``RunCompleted`` (while any company has work); each company has
  a few minutes of work (``rows``), so a figure near 1.0 means every company was kept at its
  limit (fixed minute windows let a short stretch go a little above 1.0);
* calls per company-second of each run's own span (``RunStarted`` to ``RunCompleted``);
* 429 answers (must be 0) and daily budgets exceeded (none can be: the sandbox refuses);
* after the kill: for every company that was being called when the replica died, the gap to
  its next call (a company of the dead replica resumes after the lease, 10 s);
* every run reconciled: each entity's rows and id hash in ``RunCompleted`` equal the
  sandbox's own figures;
* CPU seconds per process (each ingest replica, broker, PostgreSQL, sandbox, the others) and
  each ingest replica's resident memory at the end.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psutil

from bench.access import Call
from bench.harness import Admin, Connection, Harness
from bench.perf.report import Figure
from bench.processes import CpuMeter, system_pids
from contracts import Message, RunCompleted, RunFailed, RunStarted

FIRST_CODE = 700_001
MINUTELY = 60
REPLICA_NAMES = ("ingest", "ingest-2", "ingest-3")


@dataclass(frozen=True)
class ScaleSetup:
    name: str
    companies: int
    """Companies imported at once, for each replica count."""
    rows: int = 8_000
    """About this many TransactionLines per company (4,000 to 12,000): some 130 calls, two
    minutes of work at 60 a minute (ReportingBalance's 60-row pages are most of it)."""
    replicas: tuple[int, ...] = (1, 2, 3)
    day_seconds: int = 600
    max_concurrent_runs: int | None = None
    """``INGEST_MAX_CONCURRENT_RUNS`` of every replica; None: :meth:`runs_per_replica`."""
    run_timeout: float = 1_800.0

    @property
    def total_companies(self) -> int:
        return self.companies * len(self.replicas)

    def runs_per_replica(self, replicas: int) -> int:
        """Runs (companies) one replica drives at once in the round on ``replicas``: unless
        set, enough that the survivors of the killed replica hold every company, so none
        waits for a slot (a full replica made a dead one's companies wait 44.6 s)."""
        if self.max_concurrent_runs is not None:
            return self.max_concurrent_runs
        return self.companies if replicas == 1 else math.ceil(self.companies / (replicas - 1))


FULL = ScaleSetup("full", companies=1_000)
QUICK = ScaleSetup("quick", companies=30, rows=3_000)


def sandbox_args(setup: ScaleSetup) -> list[str]:
    return ["--companies", str(setup.total_companies), "--company-rows", str(setup.rows),
            "--company-first-code", str(FIRST_CODE),
            "--resident-companies", str(setup.total_companies),
            "--minutely-limit", str(MINUTELY), "--daily-limit", "5000",
            "--day-seconds", str(setup.day_seconds), "--token-daily-limit", "1000000"]


def admin_of(code: int) -> Admin:
    return Admin(f"admin.{code}@companies.sandbox", f"company-{code}")


async def _connect_all(h: Harness, codes: list[int], parallel: int = 8) -> list[Connection]:
    gate = asyncio.Semaphore(parallel)

    async def one(code: int) -> Connection:
        async with gate:
            return await h.connect(admin_of(code), code, timeout=300)

    return list(await asyncio.gather(*(one(c) for c in codes)))


def _stop_replicas(h: Harness) -> None:
    for name in REPLICA_NAMES:
        process = h.system.processes.get(name)
        if process is not None and process.alive():
            process.stop()


def _start_replicas(h: Harness, count: int) -> None:
    for name in REPLICA_NAMES[:count]:
        if name == "ingest":
            h.system.start_service("ingest")
        else:
            h.system.start_replica(name, "ingest")
    for name in REPLICA_NAMES[:count]:
        h.system.wait_ready(name, timeout=180)


def _ended(h: Harness, runs: set[Any]) -> list[Message]:
    return h.log.find(lambda m: isinstance(m, RunCompleted | RunFailed)
                      and m.payload.run_id in runs)


async def _kill_when_a_third_ended(h: Harness, runs: set[Any], victim: str) -> float:
    """Kill ``victim`` once a third of ``runs`` ended; the wall time of the kill."""
    await h.log.wait_until(lambda: len(_ended(h, runs)) >= len(runs) // 3, 1_800,
                           "a third of the runs ended")
    h.system.processes[victim].kill()
    return time.time()


def _resume_gaps(calls: list[Call], killed_at: float, ended_at: dict[int, float]) -> list[float]:
    """For each company called in the 3 s before the kill and not done then: seconds from the
    kill to its next call."""
    by_division: dict[int, list[float]] = defaultdict(list)
    for call in calls:
        if call.division is not None:
            by_division[call.division].append(call.at)
    gaps = []
    for division, times in by_division.items():
        if ended_at.get(division, float("inf")) <= killed_at:
            continue
        if not any(killed_at - 3 <= t <= killed_at for t in times):
            continue
        # back at work: its next call, or its run's end when no call was left to make
        after = [t for t in times if t > killed_at] + [ended_at.get(division, float("inf"))]
        gaps.append(min(after) - killed_at)
    return gaps


async def _reconciled(h: Harness, ends: list[Message]) -> tuple[int, list[str]]:
    """Runs whose every entity matches the sandbox's figures (rows and id hash)."""
    good, bad = 0, []
    for end in ends:
        if not isinstance(end, RunCompleted):
            bad.append(f"{end.payload.run_id}: {type(end).__name__}")
            continue
        division = _division_of(h, end.payload.run_id)
        expected = (await h.expected(division))["entities"]
        # every entity the sandbox keeps figures of (it has none for the Divisions row)
        wrong = [str(t.entity) for t in end.payload.totals if str(t.entity) in expected
                 and (t.rows, t.id_hash) != (expected[str(t.entity)]["count"],
                                             expected[str(t.entity)]["id_hash"])]
        missing = {e for e in expected if e != "Deleted"} - {str(t.entity)
                                                            for t in end.payload.totals}
        wrong += sorted(missing)
        if wrong:
            bad.append(f"{division}: {','.join(wrong)}")
        else:
            good += 1
    return good, bad


def _division_of(h: Harness, run_id: Any) -> int:
    [started] = h.run_started(run_id)[:1]
    return int(started.payload.division)


async def one_round(h: Harness, setup: ScaleSetup, replicas: int, codes: list[int]
                    ) -> Figure:
    await asyncio.to_thread(_stop_replicas, h)
    connections = await _connect_all(h, codes)
    runs = {c.run_id for c in connections}
    before = await h.stats()
    mark = await h.access_mark()
    slots = setup.runs_per_replica(replicas)
    h.system.extra_env["INGEST_MAX_CONCURRENT_RUNS"] = str(slots)  # every replica's environment
    await asyncio.to_thread(_start_replicas, h, replicas)
    meter = CpuMeter(system_pids(h.system))
    kill = (asyncio.create_task(_kill_when_a_third_ended(h, runs, REPLICA_NAMES[replicas - 1]))
            if replicas > 1 else None)
    await h.log.wait_until(lambda: len(_ended(h, runs)) >= len(runs), setup.run_timeout,
                           f"the end of {len(runs)} runs")
    cpu = meter.stop()
    killed_at = await kill if kill is not None else None
    memory = {name: psutil.Process(h.system.processes[name].proc.pid).memory_info().rss
              for name in REPLICA_NAMES[:replicas] if h.system.processes[name].alive()}
    after = await h.stats()
    ends = _ended(h, runs)
    started = {m.payload.run_id: m.occurred_at for m in reversed(h.log.find(
        lambda m: isinstance(m, RunStarted) and m.payload.run_id in runs))}
    division_of = {c.run_id: c.division for c in connections}
    busy = sum((e.occurred_at - started[e.payload.run_id]).total_seconds() for e in ends
               if e.payload.run_id in started)
    first = min(started.values())
    last = max(e.occurred_at for e in ends)
    window = (last - first).total_seconds()
    calls = [c for c in await h.calls(mark) if c.division in set(codes)
             and first.timestamp() <= c.at <= last.timestamp() + 1]
    answered = [c for c in calls if c.status != 429]
    per_company_second = len(answered) / busy if busy else 0.0
    per_minute = len(answered) / window * 60 if window else 0.0
    ended_at = {division_of[e.payload.run_id]: e.occurred_at.timestamp() for e in ends}
    gaps = _resume_gaps(calls, killed_at, ended_at) if killed_at is not None else []
    good, bad = await _reconciled(h, ends)
    too_many = after["responses_429"] - before["responses_429"]
    problems = []
    if too_many:
        problems.append(f"{too_many} answers 429")
    if bad:
        problems.append(f"{len(bad)} runs not reconciled: {'; '.join(bad[:3])}")
    if gaps and max(gaps) >= 15:
        problems.append(f"a company resumed {max(gaps):.1f} s after the kill (goal < 15 s)")
    n = len(codes)
    detail = (f"{n} companies, {replicas} replica(s) of {slots} runs: {len(answered):,} calls in "
              f"{window:.0f} s "
              f"= {per_minute:,.0f}/min = {per_minute / (n * MINUTELY):.2f} of the sum of minutely limits "
              f"({n * MINUTELY:,}/min); 429: {too_many}; reconciled {good}/{n}"
              + (f"; after the kill the last company resumed in {max(gaps):.1f} s "
                 f"({len(gaps)} in flight)" if gaps else "")
              + f"; ingest CPU {sum(cpu.cpu.get(r, 0) for r in REPLICA_NAMES):.0f} s, broker "
                f"{cpu.cpu.get('kafka', 0):.0f} s, PostgreSQL {cpu.cpu.get('postgres', 0):.0f} s, "
                f"sandbox {cpu.cpu.get('sandbox', 0):.0f} s; system {100 * cpu.of_machine():.0f}% "
                "of the machine")
    return Figure(
        f"P7/{replicas}", f"{n} companies on {replicas} replica(s): calls a minute ÷ the sum of "
        "their minutely limits", per_minute / (n * MINUTELY), (">=", 0.9), detail=detail, cpu=cpu,
        data={"companies": n, "replicas": replicas, "runs_per_replica": slots,
              "calls": len(answered), "window_s": window,
              "busy_company_seconds": busy, "calls_per_busy_company_second": per_company_second,
              "calls_per_minute": per_minute,
              "per_minute_over_limits": per_minute / (n * MINUTELY),
              "responses_429": too_many, "reconciled": good, "not_reconciled": bad[:20],
              "resume_gaps_s": sorted(round(g, 2) for g in gaps)[-10:],
              "killed_at": datetime.fromtimestamp(killed_at, UTC).isoformat()
              if killed_at else None,
              "rss_bytes": memory, "cpu_seconds": cpu.as_dict()},
        error="; ".join(problems) or None)


async def many_companies(h: Harness, setup: ScaleSetup) -> list[Figure]:
    figures = []
    for i, replicas in enumerate(setup.replicas):
        codes = [FIRST_CODE + i * setup.companies + k for k in range(setup.companies)]
        figures.append(await one_round(h, setup, replicas, codes))
    return figures
