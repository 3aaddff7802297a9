"""The trial balance of a data source, and its comparison with Exact's ReportingBalance.

What Exact documents (``financial/ReportingBalance``, Exact's REST reference as copied by
Pi-Systems/exact-online ``src/Entity/Financial/ReportingBalance.php`` and picqer/exact-php-client
``src/Picqer/Financials/Exact/ReportingBalance.php``):

* "This service returns summarized data of financial transactions. [...] The summarized
  amounts are grouped by: Division, ReportingYear, ReportingPeriod, G/L account, Cost center,
  Cost unit, Type, Status."
* ``Amount``: "The sum of the amounts of all transactions in the grouping" - a movement of
  the period, for balance-sheet (``BalanceType`` B) and P&L (W) accounts alike; nothing says
  a row carries a cumulative balance, so both are compared as period movements.
* ``Status``: "20 = Open, 50 = Processed. To get 'after entry' results, both Open and
  Processed amounts have to be included. This is by default". TransactionLines carry the
  same Status codes, so both sides are filtered on the same statuses (:data:`BASIS_STATUSES`).
* Opening balances are TransactionLines of ``Type`` 10 ("Opening balance"); ``Type`` is one
  of ReportingBalance's groupings. Whether Exact reports them in ReportingPeriod 0 or in the
  period they are booked in is NOT documented publicly; ``as_booked`` (the default) keeps the
  line's FinancialPeriod, ``zero`` moves Type-10 lines to period 0 (setting
  ``INGEST_TRIAL_BALANCE_OPENING_PERIOD``).

The check sums both sides per key = (reporting year, period, G/L account code) and compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal, NamedTuple

TrialKey = tuple[int, int, str]
"""(reporting year, reporting period, G/L account code)."""

Basis = Literal["processed", "after_entry"]
OpeningPeriod = Literal["as_booked", "zero"]

OPEN, PROCESSED = 20, 50
BASIS_STATUSES: dict[str, tuple[int, ...]] = {"processed": (PROCESSED,),
                                              "after_entry": (OPEN, PROCESSED)}
OPENING_BALANCE_TYPE = 10
"""TransactionLines ``Type`` of opening-balance lines (Exact: "10 = Opening balance")."""

LARGEST = 20
"""Differences listed at most per check (the event stays small)."""


@dataclass(frozen=True)
class TrialRules:
    basis: Basis = "processed"
    opening_period: OpeningPeriod = "as_booked"
    tolerance: Decimal = Decimal("0.005")
    """Largest difference still counted as equal: Exact's amounts are binary doubles, so a
    sum may differ from the exact decimal sum in its last digits."""

    @property
    def statuses(self) -> tuple[int, ...]:
        return BASIS_STATUSES[self.basis]


class LedgerLine(NamedTuple):
    """What a TransactionLine adds to the trial balance (one per line read: a tuple, which
    is made in half the time of a frozen dataclass)."""

    line_id: str
    year: int
    period: int
    gl_code: str
    type: int | None
    status: int | None
    amount: Decimal
    on: date


class BalanceRow(NamedTuple):
    """What a ReportingBalance row adds to Exact's side (a tuple, as :class:`LedgerLine`)."""

    row_id: int
    year: int
    period: int
    gl_code: str
    status: int | None
    amount: Decimal


@dataclass(frozen=True)
class LineScope:
    """Lines a full read replaces: every line of the data source, or those dated within."""

    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class YearScope:
    """ReportingBalance rows a read replaces: every row, or those of the years within."""

    year_from: int | None = None
    year_to: int | None = None

    def covers(self, year: int) -> bool:
        return ((self.year_from is None or year >= self.year_from)
                and (self.year_to is None or year <= self.year_to))


Period = tuple[int, int]
"""(reporting year, reporting period)."""


@dataclass(frozen=True)
class PeriodScope:
    """ReportingBalance rows one filtered read replaces: a year's periods from..to."""

    year: int
    period_from: int
    period_to: int


@dataclass
class TrialPage:
    """What one page leaves in the trial-balance state, written with the page's checkpoint."""

    lines: list[LedgerLine]
    balances: list[BalanceRow]
    deleted_lines: list[str]
    sweep_lines: LineScope | None = None
    """After the entity's last page of a full read: lines in scope the run did not see are gone."""
    sweep_balances: YearScope | PeriodScope | None = None
    track_years: bool = True
    """Record the periods whose totals the page changes (the check reads them from Exact
    again); not needed when the run reads ReportingBalance in full itself."""

    @classmethod
    def empty(cls) -> TrialPage:
        return cls([], [], [])


@dataclass(frozen=True)
class Difference:
    key: TrialKey
    ledger: Decimal
    exact: Decimal

    @property
    def difference(self) -> Decimal:
        return self.exact - self.ledger


@dataclass(frozen=True)
class TrialBalance:
    keys_compared: int
    keys_matching: int
    total_abs_difference: Decimal
    largest: tuple[Difference, ...]

    @property
    def all_match(self) -> bool:
        return self.keys_compared == self.keys_matching


def compare(ledger: Mapping[TrialKey, Decimal], exact: Mapping[TrialKey, Decimal],
            tolerance: Decimal, largest: int = LARGEST) -> TrialBalance:
    """Compare the two sides key by key; a key missing on one side counts as 0 there."""
    keys = set(ledger) | set(exact)
    differing = [Difference(k, ledger.get(k, Decimal(0)), exact.get(k, Decimal(0)))
                 for k in keys]
    differing = [d for d in differing if abs(d.difference) > tolerance]
    differing.sort(key=lambda d: (-abs(d.difference), d.key))
    return TrialBalance(keys_compared=len(keys), keys_matching=len(keys) - len(differing),
                        total_abs_difference=sum((abs(d.difference) for d in differing),
                                                 Decimal(0)),
                        largest=tuple(differing[:largest]))


def touched_periods(before: Mapping[str, LedgerLine], lines: list[LedgerLine]) -> set[Period]:
    """Periods whose totals a page changes: of new lines, and of changed lines before and
    after."""
    periods: set[Period] = set()
    for line in lines:
        old = before.get(line.line_id)
        if old is None:
            periods.add((line.year, line.period))
        elif old != line:
            periods.update(((old.year, old.period), (line.year, line.period)))
    return periods


def reread_scopes(periods: set[Period]) -> list[PeriodScope]:
    """One filter per run of consecutive periods of a year (Exact's $filter joins with
    ``and`` only here, so two apart periods are two reads, not one read of the gap)."""
    scopes: list[PeriodScope] = []
    for year, period in sorted(periods):
        last = scopes[-1] if scopes else None
        if last is not None and last.year == year and last.period_to == period - 1:
            scopes[-1] = PeriodScope(year, last.period_from, period)
        else:
            scopes.append(PeriodScope(year, period, period))
    return scopes


@dataclass(frozen=True)
class RereadPolicy:
    """How often the check may read ReportingBalance again, so that a company that syncs
    every few minutes never spends its daily budget on it."""

    min_interval_seconds: float = 3600.0
    """At most one re-read per data source in this time; runs in between keep the periods
    they touched for the next one."""
    daily_share: float = 0.1
    """A re-read may use at most this share of the calls left of the company's day."""

    def defer(self, *, since_last: float | None, calls: int, daily_remaining: int | None
              ) -> str | None:
        """Why the re-read of ``calls`` calls waits (None: it may go now)."""
        if since_last is not None and since_last < self.min_interval_seconds:
            return (f"ReportingBalance was read again {since_last:.0f} s ago (at most once "
                    f"every {self.min_interval_seconds:.0f} s)")
        if daily_remaining is not None and calls > self.daily_share * daily_remaining:
            return (f"re-reading needs about {calls} calls, more than {self.daily_share:.0%} "
                    f"of the {daily_remaining} calls left of Exact's daily limit")
        return None
