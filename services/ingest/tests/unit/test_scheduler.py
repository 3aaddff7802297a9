"""The scheduler on fake leases: bounded concurrency, heartbeats, taken-over runs cancelled,
leases released on shutdown."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta

from connector_runtime.devstack.testing import eventually
from ingest.scheduler import RunScheduler


class FakeLeases:
    def __init__(self, runs: int) -> None:
        self.free = [uuid.uuid4() for _ in range(runs)]
        self.held: dict[uuid.UUID, str] = {}
        self.released: list[uuid.UUID] = []
        self.renewals = 0

    async def claim(self, owner: str, limit: int, lease: timedelta) -> list[uuid.UUID]:
        got, self.free = self.free[:limit], self.free[limit:]
        self.held.update(dict.fromkeys(got, owner))
        return got

    async def renew(self, owner: str, run_ids: Sequence[uuid.UUID], lease: timedelta
                    ) -> set[uuid.UUID]:
        self.renewals += 1
        return {r for r in run_ids if self.held.get(r) == owner}

    async def release(self, owner: str, run_ids: Sequence[uuid.UUID]) -> None:
        self.released.extend(run_ids)


async def test_runs_execute_up_to_the_concurrency_limit_then_the_next_ones() -> None:
    leases = FakeLeases(5)
    gate = asyncio.Event()
    started: list[uuid.UUID] = []

    async def execute(run_id: uuid.UUID, owner: str) -> None:
        started.append(run_id)
        await gate.wait()

    scheduler = RunScheduler(leases, execute, max_concurrent=2, lease_seconds=3, poll_interval=0.01)
    scheduler.start()
    await eventually(lambda: len(started) == 2)
    assert len(scheduler.running) == 2
    gate.set()
    await eventually(lambda: len(started) == 5)
    await scheduler.stop()


async def test_replicas_starting_together_share_a_backlog() -> None:
    leases = FakeLeases(40)
    gate = asyncio.Event()

    async def execute(run_id: uuid.UUID, owner: str) -> None:
        await gate.wait()

    replicas = [RunScheduler(leases, execute, owner=f"replica-{n}", max_concurrent=40,
                             lease_seconds=3, poll_interval=0.05) for n in range(3)]
    for replica in replicas:
        replica.start()
    await eventually(lambda: not leases.free)
    held = sorted(len(r.running) for r in replicas)
    assert sum(held) == 40 and held[0] >= 5  # a quarter of the limit per pass each
    gate.set()
    for replica in replicas:
        await replica.stop()


async def test_a_run_whose_lease_another_replica_took_is_cancelled() -> None:
    leases = FakeLeases(1)
    cancelled = asyncio.Event()

    async def execute(run_id: uuid.UUID, owner: str) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    scheduler = RunScheduler(leases, execute, lease_seconds=0.06, poll_interval=0.01)
    scheduler.start()
    await eventually(lambda: scheduler.running)
    [run_id] = scheduler.running
    leases.held[run_id] = "other-replica"
    await asyncio.wait_for(cancelled.wait(), 5)
    await scheduler.stop()
    assert leases.released == []


async def test_stopping_cancels_runs_and_gives_their_leases_back() -> None:
    leases = FakeLeases(2)

    async def execute(run_id: uuid.UUID, owner: str) -> None:
        await asyncio.sleep(60)

    scheduler = RunScheduler(leases, execute, lease_seconds=30, poll_interval=0.01)
    scheduler.start()
    await eventually(lambda: len(scheduler.running) == 2)
    await scheduler.stop()
    assert sorted(leases.released) == sorted(leases.held)


async def test_every_end_of_a_runs_execution_is_told_with_the_runs_still_executing() -> None:
    # returned, raised, its lease taken over: each ends the run's use of the company's permits
    leases = FakeLeases(3)
    returned, raised, taken = leases.free
    release = {run_id: asyncio.Event() for run_id in leases.free}
    told: list[tuple[uuid.UUID, frozenset[uuid.UUID]]] = []

    async def execute(run_id: uuid.UUID, owner: str) -> None:
        await release[run_id].wait()
        if run_id == raised:
            raise RuntimeError("the run failed")

    async def ended(run_id: uuid.UUID, executing: frozenset[uuid.UUID]) -> None:
        told.append((run_id, executing))

    scheduler = RunScheduler(leases, execute, max_concurrent=12, lease_seconds=0.06,
                             poll_interval=0.01, ended=ended)
    scheduler.start()
    await eventually(lambda: len(scheduler.running) == 3)
    release[returned].set()
    await eventually(lambda: len(told) == 1)
    release[raised].set()
    await eventually(lambda: len(told) == 2)
    leases.held[taken] = "other-replica"
    await eventually(lambda: len(told) == 3)
    await scheduler.stop()
    assert told == [(returned, frozenset({raised, taken})), (raised, frozenset({taken})),
                    (taken, frozenset())]


async def test_a_run_ending_while_its_lease_is_renewed_is_not_taken_for_taken_over() -> None:
    # the renewal finds no lease for a run that finished meanwhile (finishing clears the
    # owner); that run was not taken over, and what its task still does after it is not cut
    finish = asyncio.Event()
    told: list[uuid.UUID] = []

    class SlowRenewals(FakeLeases):
        async def renew(self, owner: str, run_ids: Sequence[uuid.UUID], lease: timedelta
                        ) -> set[uuid.UUID]:
            finish.set()  # the run finishes while this renewal waits for the database
            await asyncio.sleep(0.05)
            return await super().renew(owner, run_ids, lease)

    leases = SlowRenewals(1)

    async def execute(run_id: uuid.UUID, owner: str) -> None:
        await finish.wait()
        leases.held.pop(run_id)  # finished: the run has no owner any more

    async def ended(run_id: uuid.UUID, executing: frozenset[uuid.UUID]) -> None:
        await asyncio.sleep(0.2)  # giving the company's permits back
        told.append(run_id)

    scheduler = RunScheduler(leases, execute, lease_seconds=0.03, poll_interval=0.01,
                             ended=ended)
    scheduler.start()
    await eventually(lambda: told, timeout=5)
    await scheduler.stop()


async def test_a_run_interrupted_by_the_database_is_a_warning_a_bug_an_error() -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from structlog.testing import capture_logs

    leases = FakeLeases(2)
    failures = iter([PoolTimeout("QueuePool limit of size 2 overflow 0 reached"),
                     KeyError("bug")])

    async def execute(run_id: uuid.UUID, owner: str) -> None:
        raise next(failures)

    scheduler = RunScheduler(leases, execute, max_concurrent=1, lease_seconds=3, poll_interval=0.01)
    with capture_logs() as logs:
        scheduler.start()
        await eventually(lambda: sum(e["event"].startswith("run_task_") for e in logs) == 2)
        await scheduler.stop()
    found = [(e["event"], e["log_level"], e["error"]) for e in logs
             if e["event"].startswith("run_task_")]
    assert found == [("run_task_interrupted", "warning", "TimeoutError"),
                     ("run_task_failed", "error", "KeyError")]
