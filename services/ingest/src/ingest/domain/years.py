"""ReportingBalance read one ``ReportingYear`` at a time, the most recent year first.

ReportingBalance comes 60 rows a call and is most of a large company's import (a company of
100,000 lines: 1,334 of 1,448 calls). One that does not fit a day's budget must get its recent
years first, so the entity is read with ``$filter=ReportingYear eq <Y>`` (EXACT_API.md
section 5: "filter on ``ReportingYear``"), one year after the other, going down.

Which years: those of the company's financial periods (``financial/FinancialPeriods``, field
``FinYear``: PI Financial/FinancialPeriods, PQ FinancialPeriod), which every run reads before
ReportingBalance (:mod:`ingest.entities`) at a few calls, so knowing the years costs nothing
more. Exact books an entry only in a period of a financial year, so those years hold all of
ReportingBalance. A run that did not read FinancialPeriods to the end (it was not asked for,
or failed) reads ReportingBalance whole, unfiltered, as before: never fewer rows.

Each year ends with a partial page, so reading by year costs up to one call more per year
than one unfiltered read: ``sum(ceil(rows_y / 60))`` instead of ``ceil(rows / 60)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

BY_YEAR = frozenset({"ReportingBalance"})
"""Entities read one year at a time (their ``year_field`` is filtered on with ``eq``)."""
YEARS_FROM = "FinancialPeriods"
"""The entity whose rows' years (``FinYear``) are the years a by-year entity is read for."""


def descending(years: Iterable[int]) -> tuple[int, ...]:
    """The years to read, the most recent first, each once."""
    return tuple(sorted(set(years), reverse=True))


def years_left(known: Iterable[int], current: int | None, started: bool) -> tuple[int, ...]:
    """The years a by-year read still has, the one being read first.

    ``known``: the years the run knows (from FinancialPeriods; empty: read whole, ``()``);
    ``current``: the year the checkpoint holds (None: no year read yet). A read that started
    without a year (unfiltered) goes on unfiltered."""
    years = descending(known)
    if current is None:
        return () if started else years
    return tuple(y for y in years if y <= current) or (current,)


def year_calls(rows: Mapping[int, int], page_size: int, years: Sequence[int] | None = None,
               read: Mapping[int, int] | None = None) -> int:
    """Calls to read ``years`` (default: those of ``rows``) one at a time: each year's rows
    (expected ``rows`` less those already ``read``) in pages, at least one call a year."""
    done = read or {}
    return sum(max(1, math.ceil(max(0, rows.get(y, 0) - done.get(y, 0)) / page_size))
               for y in (rows if years is None else years))
