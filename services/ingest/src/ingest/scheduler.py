"""Which runs this replica executes: claimed through leases, renewed by a heartbeat.

Each replica loops: record the scheduled runs that are due (``plan``: incremental syncs),
claim unowned runs (or runs whose lease expired: their replica died)
up to its concurrency limit with ``FOR UPDATE SKIP LOCKED`` - at most a quarter of that limit
per pass, so replicas that start together share a backlog instead of the first one taking
all it can hold - start each as an asyncio task,
and renew the leases of its tasks every third of the lease time. A lease that could not be
renewed belongs to another replica now: its task is cancelled. On shutdown the tasks are
cancelled and their leases released, so another replica resumes them at once. However a
run's execution ends (returned, raised, cancelled), its task tells ``ended`` before it ends:
ingest gives back the company's unused rate permits then.

Each run task gets its own copy of the log context: the executor binds the run's ids in it
for the task's whole life, and the scheduler's own lines about a run are logged in it, so
they carry ``run_id``, ``datasource_id`` and ``correlation_id`` too.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import socket
import uuid
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any, Protocol

import structlog

from connector_runtime.messaging.broker import is_transient

log = structlog.get_logger("scheduler")

Execute = Callable[[uuid.UUID, str], Coroutine[Any, Any, None]]
Ended = Callable[[uuid.UUID, frozenset[uuid.UUID]], Coroutine[Any, Any, None]]
"""Told, in the run's task, that a run's execution ended: its id and the runs this replica
still executes."""


class Leases(Protocol):
    async def claim(self, owner: str, limit: int, lease: timedelta) -> list[uuid.UUID]: ...

    async def renew(self, owner: str, run_ids: Sequence[uuid.UUID], lease: timedelta
                    ) -> set[uuid.UUID]: ...

    async def release(self, owner: str, run_ids: Sequence[uuid.UUID]) -> None: ...


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RunScheduler:
    def __init__(self, leases: Leases, execute: Execute, *, owner: str | None = None,
                 max_concurrent: int = 4, lease_seconds: float = 30.0,
                 poll_interval: float = 1.0,
                 plan: Callable[[], Coroutine[Any, Any, object]] | None = None,
                 ended: Ended | None = None) -> None:
        self.owner = owner or replica_id()
        self._leases = leases
        self._execute = execute
        self._max = max_concurrent
        self._batch = max(1, max_concurrent // 4)
        self._lease = timedelta(seconds=lease_seconds)
        self._heartbeat_every = lease_seconds / 3
        self._poll = poll_interval
        self._plan = plan
        self._ended = ended
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._executing: set[uuid.UUID] = set()
        """Runs whose execution has not ended; a task ending is in ``_tasks`` a little longer."""
        self._contexts: dict[uuid.UUID, contextvars.Context] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def running(self) -> set[uuid.UUID]:
        return set(self._tasks)

    @property
    def executing(self) -> frozenset[uuid.UUID]:
        """Runs whose execution has not ended (a task ending is in ``running`` a little longer)."""
        return frozenset(self._executing)

    def wake(self) -> None:
        """Look for claimable runs now (a run was recorded or one finished)."""
        self._wake.set()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name=f"run-scheduler-{self.owner}")

    async def stop(self, *, release: bool = True) -> None:
        """Cancel the loop and every run task; ``release`` gives their leases back.

        ``release=False`` leaves the leases to expire, as when a replica dies.
        """
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        tasks = dict(self._tasks)
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        if release and tasks:
            try:
                await self._leases.release(self.owner, list(tasks))
            except Exception as exc:  # the leases then simply expire
                log.warning("run_leases_not_released", error=type(exc).__name__)
        log.info("run_scheduler_stopped", owner=self.owner, cancelled=len(tasks))

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_heartbeat = loop.time() + self._heartbeat_every
        backoff = self._poll
        while True:
            try:
                if self._plan is not None:
                    await self._plan()  # scheduled runs (incremental syncs) that are due
                await self._claim()
                if loop.time() >= next_heartbeat:
                    await self._heartbeat()
                    next_heartbeat = loop.time() + self._heartbeat_every
                backoff = self._poll
            except Exception as exc:  # database unreachable: keep the tasks, retry
                log.warning("run_scheduler_failed", error=type(exc).__name__, retry_in=backoff)
                backoff = min(backoff * 2, 10.0)
            try:
                async with asyncio.timeout(min(backoff, max(0.01, next_heartbeat - loop.time()))):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def _claim(self) -> None:
        free = min(self._max - len(self._tasks), self._batch)
        if free <= 0:
            return
        for run_id in await self._leases.claim(self.owner, free, self._lease):
            if run_id in self._tasks:
                continue
            context = contextvars.copy_context()
            self._executing.add(run_id)
            task = asyncio.create_task(self._run(run_id), name=f"run-{run_id}", context=context)
            self._tasks[run_id] = task
            self._contexts[run_id] = context
            task.add_done_callback(functools.partial(self._done, run_id), context=context)

    async def _run(self, run_id: uuid.UUID) -> None:
        try:
            await self._execute(run_id, self.owner)
        finally:
            # taken out before any wait, so of two runs ending together the later one sees
            # the company free of runs
            self._executing.discard(run_id)
            if self._ended is not None:
                await self._ended(run_id, frozenset(self._executing))

    async def _heartbeat(self) -> None:
        ids = list(self._executing)  # an ended run's lease is not needed (nor renewed)
        if not ids:
            return
        kept = await self._leases.renew(self.owner, ids, self._lease)
        # a run that ended while the renewal was under way gave its lease up itself (finished
        # runs have no owner): it was not taken over, and its task, telling ``ended``, must
        # not be cancelled for it
        for run_id in (set(ids) - kept) & self._executing:
            task = self._tasks.get(run_id)
            if task is not None and not task.done():
                self._contexts[run_id].run(log.warning, "run_lease_taken_over", run_id=str(run_id))
                task.cancel()

    def _done(self, run_id: uuid.UUID, task: asyncio.Task[None]) -> None:
        if self._tasks.get(run_id) is task:
            del self._tasks[run_id]
            self._contexts.pop(run_id, None)
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            if is_transient(exc):  # the database or broker: the run resumes, nothing is lost
                log.warning("run_task_interrupted", run_id=str(run_id), error=type(exc).__name__,
                            detail=str(exc)[:300], resumes="from its checkpoint when its "
                            "lease expires")
            else:
                log.error("run_task_failed", run_id=str(run_id), error=type(exc).__name__,
                          detail=str(exc)[:300])
        self._wake.set()
