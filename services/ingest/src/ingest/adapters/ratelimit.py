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


def wall_ms() -> int:
    return int(time.time() * 1000)


class PostgresRateLimiter:
    def __init__(self, engine: AsyncEngine, *, default_limit: int = 60, error_budget: int = 8,
                 stale_after_seconds: float = 180.0, max_wait_slice: float = 5.0,
                 clock_ms: Callable[[], int] = wall_ms,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._engine = engine
        self._default_limit = default_limit
        self._error_budget = error_budget
        self._stale_ms = int(stale_after_seconds * 1000)
        self._slice = max_wait_slice
        self._clock_ms = clock_ms
        self._sleep = sleep

    async def acquire(self, division: int, endpoint: str) -> Permit:
        while True:
            now = self._clock_ms()

            def decide(budget: Budget, now: int = now) -> Any:
                return budget.decide(now, endpoint, default_limit=self._default_limit,
                                     error_budget=self._error_budget,
                                     stale_after_ms=self._stale_ms)

            decision = await self._update(division, decide)
            if isinstance(decision, Go):
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

        def observe(budget: Budget) -> BudgetView:
            budget.observe(permit.sent_ms, now, permit.endpoint, status, headers)
            return budget.view(now, self._default_limit)

        view: BudgetView = await self._update(permit.division, observe)
        return view

    async def view(self, division: int) -> BudgetView:
        async with self._engine.connect() as conn:
            state = await conn.scalar(sa.select(rate_budgets.c.state)
                                      .where(rate_budgets.c.division == division))
        return Budget.from_dict(state).view(self._clock_ms(), self._default_limit)

    async def _update(self, division: int, change: Callable[[Budget], Any]) -> Any:
        t = rate_budgets
        async with self._engine.begin() as conn:
            state = await conn.scalar(sa.select(t.c.state).where(t.c.division == division)
                                      .with_for_update())
            if state is None:
                await conn.execute(insert(t).values(division=division).on_conflict_do_nothing())
                state = await conn.scalar(sa.select(t.c.state).where(t.c.division == division)
                                          .with_for_update())
            budget = Budget.from_dict(state)
            result = change(budget)
            await conn.execute(t.update().where(t.c.division == division)
                               .values(state=budget.to_dict(), updated_at=sa.func.now()))
        return result

