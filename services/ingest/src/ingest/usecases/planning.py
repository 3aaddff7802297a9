"""A run's plan before it calls Exact: what it will read, at what cost, and when it ends.

No call to Exact is made for it (each would count against the company's 60 a minute and
5,000 a day): the rows expected come from the data source's latest complete full read and
from what the run already read, the budget from what Exact last said in its rate headers
(:mod:`ingest.adapters.ratelimit`). An entity nothing told about counts one call, and the
plan says it is then a lower bound: a company's first import is planned exactly only from
its second full read on.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping

from contracts import Entity, PlannedEntity, RunPlan
from ingest.domain.budget import BudgetView
from ingest.domain.model import Run
from ingest.domain.plan import BudgetShare
from ingest.domain.plan import RunPlan as DomainPlan
from ingest.domain.plan import run_plan as lay_out
from ingest.entities import CATALOG, ENTITIES
from ingest.ports import Clock

KnownRows = Callable[[uuid.UUID], Awaitable[Mapping[str, int]]]
KnownYearRows = Callable[[uuid.UUID], Awaitable[Mapping[str, Mapping[int, int]]]]
BudgetOf = Callable[[int], Awaitable[BudgetView]]


class RunPlanner:
    def __init__(self, clock: Clock, *, known_rows: KnownRows | None = None,
                 budget: BudgetOf | None = None, share: BudgetShare | None = None,
                 default_minutely_limit: int = 60,
                 known_year_rows: KnownYearRows | None = None) -> None:
        self._clock = clock
        self._known_rows = known_rows
        self._known_year_rows = known_year_rows
        self._budget = budget
        self._share = share or BudgetShare()
        self._minutely = default_minutely_limit

    async def plan(self, run: Run) -> DomainPlan:
        known = dict(await self._known_rows(run.datasource_id)) if self._known_rows else {}
        view = await self._budget(run.division) if self._budget else None
        by_year: dict[str, Mapping[int, int]] = {}
        if self._known_year_rows and run.date_from is None and run.date_to is None:
            by_year = dict(await self._known_year_rows(run.datasource_id))
        return lay_out(
            run, _comparable(run, known), {e: s.page_size for e, s in ENTITIES.items()},
            now=self._clock.now(), share=self._share,
            daily_limit=view.daily_limit if view else None,
            daily_remaining=view.daily_remaining if view else None,
            seconds_to_reset=view.seconds_to_daily_reset if view else None,
            minutely_limit=view.minutely_limit if view else self._minutely,
            known_year_rows=by_year)


def _comparable(run: Run, known: dict[str, int]) -> dict[str, int]:
    """The full-read rows that say something about this run's reads: an incremental run
    reads the sync entities after their cursor, a dated re-import only its years."""
    if run.incremental:
        return {e: n for e, n in known.items() if e not in CATALOG.sync}
    if run.date_from is not None or run.date_to is not None:
        return {e: n for e, n in known.items() if e in ENTITIES and ENTITIES[e].year_field is None}
    return known


def wire_plan(plan: DomainPlan) -> RunPlan:
    """The plan as ``RunStarted`` carries it."""
    return RunPlan(
        entities=tuple(PlannedEntity(
            entity=Entity(p.entity), calls=p.calls, day=p.day,
            estimated_rows=p.rows if p.entity in plan.estimated else None)
            for p in plan.plan.entities),
        calls=plan.plan.calls, days=plan.plan.days, eta_seconds=round(plan.plan.eta_seconds, 1),
        finishes_at=plan.finishes_at, daily_limit=plan.daily_limit,
        daily_budget_remaining=plan.daily_remaining, lower_bound=not plan.complete)
