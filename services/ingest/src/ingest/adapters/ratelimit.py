"""The per-company call budget, shared by every run and replica through PostgreSQL.

One row per division in ``rate_budgets`` holds the :class:`~ingest.domain.budget.Budget`
state. :meth:`PostgresRateLimiter.acquire` locks the row, lets the domain decide, writes
the new state and commits - so replicas see each other's calls in flight, the last
``X-RateLimit-*`` values and the learned view of Exact's clock. Waits happen outside the
transaction, in slices, so a change by another replica is noticed.

A 200 answer in a known window is taken in by the company's next transaction (which decides
the next call on it, exactly as if it had been written at once); anything else goes in at
once. While the window has room (:meth:`Budget.block`) one transaction hands out a block of
permits for the company's calls (to any endpoint without recent 4xx answers); its unused
permits are given back with the next transaction (when the window nears its end or an answer
is not a 200). So a run's calls cost one transaction per block, and one per call near the
window's end, instead of two per call. When the last run of a company executing in this
replica ends - completed, failed, waiting, cancelled or its lease lost - the scheduler tells
:meth:`~PostgresRateLimiter.when_runs_end`, and :meth:`~PostgresRateLimiter.flush` gives back
the block's unused permits and takes in the held answers, as it does for every company when
the replica stops; the webhook keeper's calls, outside any run, are flushed so after each of
its passes (:meth:`~PostgresRateLimiter.when_calls_end`). Until then they count as calls in
flight, which only makes other callers of the company more careful; a replica that dies
leaves them to go stale (``stale_after_seconds``), and a new window starts with none in flight.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.adapters.tables import rate_budgets
from ingest.domain.budget import Budget, BudgetView, Go, RateHeaders, Spent, Wait
from ingest.domain.errors import BudgetSpent
from ingest.ports import Permit

log = structlog.get_logger("ratelimit")

_Answer = tuple[int, int, str, int | None, RateHeaders | None]
"""What :meth:`Budget.observe` takes: sent, received, endpoint, status, headers."""


_Unused = tuple[int | None, int]
"""Permits of a block given back: the window they were counted in, how many."""

Divisions = Callable[[Sequence[uuid.UUID]], Awaitable[dict[uuid.UUID, int]]]
"""Run ids to their companies (divisions)."""


def wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Block:
    """Permits of one block not used yet."""

    left: int
    barred: frozenset[str]
    """Endpoints whose calls are decided alone (recent 4xx answers)."""
    reserve: float
    """The share of the day its taker leaves: a caller that must leave more decides alone."""
    window_reset_ms: int | None
    ends_ms: int
    """Local time after which they are given back instead of used."""


class PostgresRateLimiter:
    def __init__(self, engine: AsyncEngine, *, default_limit: int = 60, error_budget: int = 8,
                 stale_after_seconds: float = 180.0, max_wait_slice: float = 5.0,
                 floor: float = 0.0,
                 clock_ms: Callable[[], int] = wall_ms,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 block: int = 8) -> None:
        self._engine = engine
        self._block = block
        self._blocks: dict[int, _Block] = {}
        """Division -> the block its calls use now."""
        self._answers: dict[int, list[_Answer]] = {}
        """Division -> answers to block permits, taken in by the next transaction."""
        self._unused: dict[int, list[_Unused]] = {}
        """Division -> block permits given back, taken in by the next transaction."""
        self._views: dict[int, BudgetView] = {}
        self._default_limit = default_limit
        self._error_budget = error_budget
        self._stale_ms = int(stale_after_seconds * 1000)
        self._floor = floor  # share of the day no caller spends
        self._slice = max_wait_slice
        self._clock_ms = clock_ms
        self._sleep = sleep

    async def acquire(self, division: int, endpoint: str, reserve: float = 0.0) -> Permit:
        reserve = max(reserve, self._floor)
        block = self._blocks.get(division)
        if block is not None:
            if block.left and endpoint not in block.barred and reserve <= block.reserve and \
                    self._clock_ms() < block.ends_ms:
                block.left -= 1
                return Permit(division, endpoint, self._clock_ms())
            self._give_back(division)
        while True:
            now = self._clock_ms()

            def decide(budget: Budget, now: int = now) -> Any:
                decision = budget.decide(now, endpoint, default_limit=self._default_limit,
                                         error_budget=self._error_budget,
                                         stale_after_ms=self._stale_ms, reserve=reserve)
                extra = budget.block(now, endpoint, self._block, reserve) \
                    if isinstance(decision, Go) else 0
                block = _Block(extra, budget.erring(now), reserve, budget.window_reset_ms,
                               budget.block_ends_ms(now)) if extra else None
                return decision, block, budget.view(now, self._default_limit)

            decision, block, view = await self._update(division, decide)
            self._views[division] = view
            if isinstance(decision, Go):
                if block is not None:
                    # a concurrent caller of the company (another run) may have set
                    # a block meanwhile: its unused permits are given back, not lost
                    self._give_back(division)
                    self._blocks[division] = block
                return Permit(division, endpoint, now)
            if isinstance(decision, Spent):
                raise BudgetSpent(decision.reason, kind=decision.kind,
                                  wait_seconds=decision.seconds)
            if isinstance(decision, Wait):
                if decision.seconds >= 1:
                    log.info("rate_limit_wait", division=division, endpoint=endpoint,
                             seconds=round(decision.seconds, 2), reason=decision.reason)
                await self._sleep(min(decision.seconds, self._slice))

    async def complete(self, permit: Permit, status: int | None,
                       headers: RateHeaders | None) -> BudgetView:
        now = self._clock_ms()
        answer = (permit.sent_ms, now, permit.endpoint, status, headers)
        known = self._views.get(permit.division)
        if status == 200 and known is not None and known.minutely_remaining is not None:
            self._answers.setdefault(permit.division, []).append(answer)
            return known
        # anything but a 200 goes in at once, and the rest of the block is given back: the
        # next call is decided on what Exact just said; so does the answer that first tells
        # the window, which other callers of the company wait for
        self._give_back(permit.division)
        self._answers.setdefault(permit.division, []).append(answer)

        def observe(budget: Budget) -> BudgetView:
            return budget.view(now, self._default_limit)

        view: BudgetView = await self._update(permit.division, observe)
        self._views[permit.division] = view
        return view

    async def flush(self, division: int | None = None) -> None:
        """Give back the unused block permits of ``division`` (None: every division) and take
        in its answers still held (its runs ended, the replica stopping): otherwise the
        company's budget counts them as calls in flight until they go stale, and every other
        caller of the company waits on them."""
        divisions = set(self._blocks) | set(self._answers) | set(self._unused) \
            if division is None else {division}
        for each in divisions:
            self._give_back(each)
            if self._answers.get(each) or self._unused.get(each):
                await self._update(each, lambda budget: None)

    def when_runs_end(self, divisions: Divisions) -> Callable[[uuid.UUID, frozenset[uuid.UUID]],
                                    Coroutine[Any, Any, None]]:
        """What the scheduler tells when a run's execution ended (``ended``): the run's
        company is flushed unless another of its runs still executes in this replica (one
        replica may drive several runs of a company; they share its block). ``divisions``
        maps run ids to their companies."""

        async def ended(run_id: uuid.UUID, executing: frozenset[uuid.UUID]) -> None:
            await self._flush_idle(divisions, executing, run_id=run_id)

        return ended

    def when_calls_end(self, divisions: Divisions,
                       executing: Callable[[], frozenset[uuid.UUID]]
                       ) -> Callable[[frozenset[int]], Coroutine[Any, Any, None]]:
        """What a caller outside any run (the webhook keeper) tells after a pass of calls:
        each company it called is flushed unless one of its runs executes in this replica
        (``executing``: that run's end flushes it), as no run's end would."""

        async def ended(companies: frozenset[int]) -> None:
            await self._flush_idle(divisions, executing(), companies=companies)

        return ended

    async def _flush_idle(self, divisions: Divisions,
                          executing: frozenset[uuid.UUID], *, run_id: uuid.UUID | None = None,
                          companies: frozenset[int] = frozenset()) -> None:
        """Flush ``companies`` and ``run_id``'s company, those with no run in ``executing``."""
        try:
            asked = [*executing] if run_id is None else [run_id, *executing]
            found = await divisions(asked) if asked else {}
            idle = set(companies)
            if run_id is not None and (division := found.pop(run_id, None)) is not None:
                idle.add(division)
            for company in idle - set(found.values()):
                await self.flush(company)
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            # held permits then go stale on their own, or go with the company's next call
            log.warning("rate_budget_flush_failed",
                        run_id=str(run_id) if run_id is not None else None,
                        divisions=sorted(companies), error=type(exc).__name__)

    def _give_back(self, division: int) -> None:
        block = self._blocks.pop(division, None)
        if block is not None and block.left:
            self._unused.setdefault(division, []).append((block.window_reset_ms, block.left))

    async def view(self, division: int) -> BudgetView:
        async with self._engine.connect() as conn:
            state = await conn.scalar(sa.select(rate_budgets.c.state)
                                      .where(rate_budgets.c.division == division))
        return Budget.from_dict(state).view(self._clock_ms(), self._default_limit)

    async def _update(self, division: int, change: Callable[[Budget], Any]) -> Any:
        answers = self._answers.pop(division, [])
        unused = self._unused.pop(division, [])
        try:
            return await self._write(division, answers, unused, change)
        except BaseException:  # not taken in: they go with the next transaction
            self._answers[division] = answers + self._answers.get(division, [])
            self._unused[division] = unused + self._unused.get(division, [])
            raise

    async def _write(self, division: int, answers: list[_Answer], unused: list[_Unused],
                     change: Callable[[Budget], Any]) -> Any:
        t = rate_budgets
        async with self._engine.begin() as conn:
            state = await conn.scalar(sa.select(t.c.state).where(t.c.division == division)
                                      .with_for_update())
            if state is None:
                await conn.execute(insert(t).values(division=division).on_conflict_do_nothing())
                state = await conn.scalar(sa.select(t.c.state).where(t.c.division == division)
                                          .with_for_update())
            budget = Budget.from_dict(state)
            for window_reset_ms, count in unused:
                budget.give_back(window_reset_ms, count)
            for answer in answers:
                budget.observe(*answer)
            result = change(budget)
            await conn.execute(t.update().where(t.c.division == division)
                               .values(state=budget.to_dict(), updated_at=sa.func.now()))
        return result
