"""The per-company call budget, shared by every run and replica through PostgreSQL.

One row per division in ``rate_budgets`` holds the :class:`~ingest.domain.budget.Budget`
state. :meth:`PostgresRateLimiter.acquire` locks the row, lets the domain decide, writes
the new state and commits - so replicas see each other's calls in flight, the last
``X-RateLimit-*`` values and the learned view of Exact's clock. Waits happen outside the
transaction, in slices, so a change by another replica is noticed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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


def wall_ms() -> int:
    return int(time.time() * 1000)


class PostgresRateLimiter:
    def __init__(self, engine: AsyncEngine, *, default_limit: int = 60, error_budget: int = 8,
                 stale_after_seconds: float = 180.0, max_wait_slice: float = 5.0,
                 floor: float = 0.0,
                 clock_ms: Callable[[], int] = wall_ms,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 block: int = 8) -> None:
        self._engine = engine
        self._block = block
        self._spare: dict[tuple[int, str], int] = {}
        """(division, endpoint) -> permits of a block not used yet."""
        self._answers: dict[int, list[_Answer]] = {}
        """Division -> answers to block permits, taken in by the next transaction."""
        self._views: dict[int, BudgetView] = {}
        self._default_limit = default_limit
        self._error_budget = error_budget
        self._stale_ms = int(stale_after_seconds * 1000)
        self._floor = floor  # share of the day no caller spends
        self._slice = max_wait_slice
        self._clock_ms = clock_ms
        self._sleep = sleep

    async def acquire(self, division: int, endpoint: str, reserve: float = 0.0) -> Permit:
        key = (division, endpoint)
        if self._spare.get(key):
            self._spare[key] -= 1
            return Permit(division, endpoint, self._clock_ms(), in_block=True)
        reserve = max(reserve, self._floor)
        while True:
            now = self._clock_ms()

            def decide(budget: Budget, now: int = now) -> Any:
                decision = budget.decide(now, endpoint, default_limit=self._default_limit,
                                         error_budget=self._error_budget,
                                         stale_after_ms=self._stale_ms, reserve=reserve)
                extra = budget.block(endpoint, self._block, reserve) \
                    if isinstance(decision, Go) else 0
                return decision, extra, budget.view(now, self._default_limit)

            decision, extra, view = await self._update(division, decide)
            self._views[division] = view
            if isinstance(decision, Go):
                self._spare[key] = self._spare.get(key, 0) + extra
                return Permit(division, endpoint, now, in_block=extra > 0 or bool(
                    self._spare[key]))
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
        if permit.in_block and status == 200 and known is not None:
            self._answers.setdefault(permit.division, []).append(answer)
            return known
        # anything but a 200 goes in at once, and the rest of the block is given back:
        # the next call is decided on what Exact just said
        unused = sum(self._spare.pop(k) for k in [k for k in self._spare
                                                   if k[0] == permit.division])
        self._answers.setdefault(permit.division, []).append(answer)

        def observe(budget: Budget) -> BudgetView:
            budget.in_flight = max(0, budget.in_flight - unused)
            return budget.view(now, self._default_limit)

        view: BudgetView = await self._update(permit.division, observe)
        self._views[permit.division] = view
        return view

    async def view(self, division: int) -> BudgetView:
        async with self._engine.connect() as conn:
            state = await conn.scalar(sa.select(rate_budgets.c.state)
                                      .where(rate_budgets.c.division == division))
        return Budget.from_dict(state).view(self._clock_ms(), self._default_limit)

    async def _update(self, division: int, change: Callable[[Budget], Any]) -> Any:
        answers = self._answers.pop(division, [])
        try:
            return await self._write(division, answers, change)
        except BaseException:  # not taken in: they go with the next transaction
            self._answers[division] = answers + self._answers.get(division, [])
            raise

    async def _write(self, division: int, answers: list[_Answer],
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
            for answer in answers:
                budget.observe(*answer)
            result = change(budget)
            await conn.execute(t.update().where(t.c.division == division)
                               .values(state=budget.to_dict(), updated_at=sa.func.now()))
        return result

