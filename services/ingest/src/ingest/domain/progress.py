"""How far a run is and how long it will still take.

The ETA counts the calls still needed (exact for TransactionLines once ReportingBalance
told how many lines there are, else one call per unfinished entity as a floor, one per year
still to read of ReportingBalance) and prices
them at the company's minutely rate; calls beyond today's remaining budget wait for the
daily reset. Progress events are throttled so a fast run does not flood the topic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ingest.domain.model import Run

DAY_SECONDS = 86_400


def calls_left(run: Run, page_sizes: Mapping[str, int]) -> int:
    total = 0
    for cp in run.ordered:
        if cp.settled:
            continue
        expected = run.expected_rows(cp.entity)
        size = page_sizes.get(cp.entity, 60)
        if expected is None:  # a floor: a call per year still to read of a by-year entity
            total += max(1, len(run.years_to_read(cp)))
        else:
            total += max(1, math.ceil(max(0, expected - cp.rows) / size))
    return total


def eta_seconds(calls: int, seconds_per_call: float, *, daily_remaining: int | None,
                daily_limit: int | None, seconds_to_daily_reset: float | None) -> float:
    """Seconds the remaining ``calls`` take at the rate bound, with daily resets in between."""
    if calls <= 0:
        return 0.0
    if daily_remaining is None or calls <= daily_remaining:
        return calls * seconds_per_call
    over = calls - max(0, daily_remaining)
    per_day = max(1, daily_limit or daily_remaining or 1)
    days = math.ceil(over / per_day)
    to_reset = seconds_to_daily_reset if seconds_to_daily_reset is not None else DAY_SECONDS
    last_day_calls = over - (days - 1) * per_day
    return to_reset + (days - 1) * DAY_SECONDS + last_day_calls * seconds_per_call


class ProgressThrottle:
    """Lets a progress event through at most every ``interval`` seconds (first one at once)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: float | None = None

    def due(self, now: float) -> bool:
        if self._last is None or now - self._last >= self.interval:
            self._last = now
            return True
        return False
