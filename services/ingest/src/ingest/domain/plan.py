"""How a company's daily call budget is shared, and how long an import takes in days.

Exact allows 5,000 calls a day per company (EXACT_API.md section 4). Three kinds of runs
draw on it: the initial import (and a re-import) page through everything once; incremental
syncs come back every interval for a few calls each. So the day is split:

* an initial run may spend the day down to the **sync reserve** (then it waits for the daily
  reset, as for a spent day), so the data source's syncs still run that day;
* a re-import also leaves what an initial run of another data source of the company may want
  that day: it keeps twice the reserve (it runs "when the budget allows");
* an incremental sync may use the reserve, but never the last ``floor`` of the day:
  no run ever spends a company's whole day.

Shares are fractions of the daily limit Exact reports (5,000 by default: a 500-call reserve and
a 50-call floor), so a company or app with another limit keeps the same proportions.

An entity costs one call per page (at least one): ``ceil(rows / page_size)``; ReportingBalance,
read one year at a time (:mod:`ingest.domain.years`), that per year. Entities are read in the
entity table's order (:mod:`ingest.entities`): master data, the ledger, then the 60-row
ReportingBalance, most recent year first, so an expensive endpoint never delays the ledger
and a company too large for one day gets its recent years' balances first. :func:`plan`
lays an entity list over the days the budget allows and gives the ETA in days;
:func:`run_plan` does it for one run before its first call (published in ``RunStarted``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.domain.catalog import DELETED
from ingest.domain.model import Run, RunKind
from ingest.domain.years import BY_YEAR, year_calls, years_left

Kind = RunKind

DAILY_LIMIT = 5_000
"""Exact's daily calls per app and company (EXACT_API.md section 4)."""
MINUTELY_LIMIT = 60


@dataclass(frozen=True)
class BudgetShare:
    """How much of a company's day each kind of run leaves untouched."""

    sync_reserve: float = 0.10
    """Share of the day an initial run leaves for the incremental syncs (500 of 5,000 calls:
    96 syncs a day at the default 15 minutes, a handful of calls each)."""
    floor: float = 0.01
    """Share of the day no run spends: the day's end stays reachable for an operator's action."""

    def reserve(self, kind: Kind) -> float:
        """Share of the day a run of ``kind`` must leave unspent."""
        if kind == "incremental":
            return self.floor
        if kind == "reimport":
            return 2 * self.sync_reserve
        return self.sync_reserve

    def allowance(self, kind: Kind, daily_limit: int = DAILY_LIMIT) -> int:
        """Calls a run of ``kind`` may spend in a whole fresh day."""
        return max(0, daily_limit - reserve_calls(self.reserve(kind), daily_limit))


def reserve_calls(share: float, daily_limit: int) -> int:
    """Calls of a ``daily_limit`` day that a ``share`` keeps back."""
    return int(max(0.0, share) * daily_limit)


def entity_calls(rows: int, page_size: int) -> int:
    """Calls to read ``rows`` rows: one per page, and one even when there are none."""
    return max(1, math.ceil(max(0, rows) / page_size))


@dataclass(frozen=True)
class PlannedEntity:
    entity: str
    rows: int
    calls: int
    day: int
    """Day (0 = the run's first) on which the entity's last call falls."""


@dataclass(frozen=True)
class Plan:
    entities: tuple[PlannedEntity, ...]
    calls: int
    days: int
    """Daily resets the run waits for: 0 = it finishes within the day it starts."""
    eta_seconds: float
    """Calls at the minutely rate plus the waits for the daily resets."""

    def day_of(self, entity: str) -> int | None:
        return next((p.day for p in self.entities if p.entity == entity), None)


def plan(rows: Mapping[str, int], page_sizes: Mapping[str, int], order: Sequence[str], *,
         kind: Kind = "initial", share: BudgetShare | None = None,
         daily_limit: int = DAILY_LIMIT, minutely_limit: int = MINUTELY_LIMIT,
         today_remaining: int | None = None, seconds_to_reset: float = 86_400.0,
         calls: Mapping[str, int] | None = None) -> Plan:
    """Lay the entities of ``rows`` (estimated rows each) in ``order`` over budget days.
    ``calls``: what an entity costs when it is not ``rows`` in pages (read by year).

    ``today_remaining`` is what Exact says is left today (None: a fresh day). A day's calls
    go at ``minutely_limit`` a minute; when the allowance is spent the run waits for the
    reset (``seconds_to_reset`` the first time, a day after that)."""
    share = share or BudgetShare()
    allowance = share.allowance(kind, daily_limit)
    if allowance <= 0:
        raise ValueError("the daily limit leaves nothing after the reserve")
    reserve = reserve_calls(share.reserve(kind), daily_limit)
    left = allowance if today_remaining is None else max(0, today_remaining - reserve)
    day, spent_today, waited = 0, 0, 0.0
    planned: list[PlannedEntity] = []
    for entity in [e for e in order if e in rows]:
        cost = (calls or {}).get(entity)
        if cost is None:
            cost = entity_calls(rows[entity], page_sizes.get(entity, 60))
        need = cost
        while need > left:
            # a day's calls (at most 4,500 at 60 a minute: 75 minutes) end before its reset
            need -= left
            waited = seconds_to_reset if day == 0 else waited + 86_400.0
            day, left, spent_today = day + 1, allowance, 0
        left -= need
        spent_today += need
        planned.append(PlannedEntity(entity, rows[entity], cost, day))
    eta = waited + spent_today * 60 / minutely_limit
    return Plan(tuple(planned), sum(p.calls for p in planned), day, eta)


def largest_in_one_day(calls_per_line: float, fixed_calls: int, *, kind: Kind = "initial",
                       share: BudgetShare | None = None, daily_limit: int = DAILY_LIMIT) -> int:
    """Largest ledger (TransactionLines) whose import fits one day's allowance, when the
    import costs ``fixed_calls + calls_per_line * lines`` calls."""
    allowance = (share or BudgetShare()).allowance(kind, daily_limit)
    if allowance <= fixed_calls:
        return 0
    return int((allowance - fixed_calls) / calls_per_line)


@dataclass(frozen=True)
class RunPlan:
    """What a run will still read, what it costs and when it ends, made before it calls."""

    plan: Plan
    estimated: frozenset[str]
    """Entities whose rows are estimated (from an earlier full read of the data source or
    what another entity told); the others count one call each, so the plan is a lower bound
    while any is missing."""
    made_at: datetime
    finishes_at: datetime
    daily_limit: int
    daily_remaining: int | None
    """What Exact last said is left of the company's day (None: not known, a fresh day)."""

    @property
    def complete(self) -> bool:
        return all(p.entity in self.estimated for p in self.plan.entities)


def run_plan(run: Run, known_rows: Mapping[str, int], page_sizes: Mapping[str, int], *,
             now: datetime, share: BudgetShare | None = None, daily_limit: int | None = None,
             daily_remaining: int | None = None, seconds_to_reset: float | None = None,
             minutely_limit: int = MINUTELY_LIMIT,
             known_year_rows: Mapping[str, Mapping[int, int]] | None = None) -> RunPlan:
    """Plan the rest of ``run`` (every entity not settled, in the run's order) on the company's
    budget as it is at ``now``. ``known_rows``: rows per entity expected in all (an earlier
    full read); the rows a resumed run already read are taken off. ``known_year_rows``: rows
    per year of the by-year entities in that read, which then cost their years' pages."""
    rows: dict[str, int] = {}
    calls: dict[str, int] = {}
    estimated: set[str] = set()
    for cp in run.ordered:
        if cp.settled or cp.entity == DELETED:
            continue
        expected = run.expected_rows(cp.entity)
        if expected is None:
            expected = known_rows.get(cp.entity)
        if expected is not None:
            estimated.add(cp.entity)
        rows[cp.entity] = max(0, (expected or 0) - cp.rows)
        by_year = (known_year_rows or {}).get(cp.entity)
        if by_year and cp.entity in BY_YEAR and (cp.year is not None or not cp.started):
            # before the run reads FinancialPeriods, the years of the earlier read
            years = run.years_to_read(cp) or years_left(by_year, cp.year, cp.started)
            calls[cp.entity] = year_calls(by_year, page_sizes.get(cp.entity, 60), years,
                                          read=cp.year_rows)
    limit = daily_limit or DAILY_LIMIT
    laid = plan(rows, page_sizes, run.entities, kind=run.kind, share=share, daily_limit=limit,
                minutely_limit=minutely_limit, today_remaining=daily_remaining,
                seconds_to_reset=86_400.0 if seconds_to_reset is None else seconds_to_reset,
                calls=calls)
    return RunPlan(laid, frozenset(estimated), now, now + timedelta(seconds=laid.eta_seconds),
                   limit, daily_remaining)
