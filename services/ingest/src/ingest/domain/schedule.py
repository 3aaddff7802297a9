"""When a data source's next incremental run (and next full refresh) is due: its interval, jittered.

Jitter spreads data sources that completed together (e.g. after a deploy or a rate-limit
wait) over the interval, so they do not all call Exact in the same minute.

A full refresh re-reads every entity without a sync endpoint, and its cost grows with the
company: ReportingBalance alone is ~1,334 calls (60 rows a page) for a company of 100,000
lines, so four refreshes a day would spend more than Exact's 5,000 calls. The refresh interval
is therefore stretched so that refreshes never take more than ``refresh_daily_share`` of the
company's daily limit on average; a small company keeps the configured interval. The changed
periods of ReportingBalance are re-read sooner by the trial-balance check
(:mod:`ingest.trial_check`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SyncSchedule:
    interval_seconds: float = 900.0
    """Default time between incremental runs of one data source (a per-source override wins)."""
    jitter: float = 0.2
    """Fraction of the interval by which each due time is moved at random (either way)."""
    refresh_interval_seconds: float = 21_600.0
    """Default time between full refreshes of the entities without a sync endpoint."""
    refresh_daily_share: float = 0.25
    """Largest share of a company's daily call limit its full refreshes may take on average."""
    daily_limit: int = 5_000
    """Exact's calls per company per day (EXACT_API.md §4 "Rate limits"), where the company's own
    limit is not known."""
    max_per_pass: int = 50
    """Incremental runs planned at most per scheduler pass (the rest follow next pass)."""

    def next_due(self, now: datetime, interval_seconds: float | None = None,
                 rng: random.Random | None = None) -> datetime:
        interval = interval_seconds if interval_seconds is not None else self.interval_seconds
        spread = (rng or random).uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return now + timedelta(seconds=max(0.0, interval * (1.0 + spread)))

    def refresh_interval(self, cost_calls: int, interval_seconds: float | None = None,
                         daily_limit: int | None = None) -> float:
        """Seconds until the next full refresh after one that cost ``cost_calls``: the
        configured interval (a per-source override wins), stretched so that refreshes take at
        most ``refresh_daily_share`` of the daily limit."""
        interval = interval_seconds if interval_seconds is not None \
            else self.refresh_interval_seconds
        allowance = self.refresh_daily_share * (daily_limit or self.daily_limit)
        return max(interval, 86_400.0 * cost_calls / allowance) if allowance > 0 else interval

    def next_refresh(self, now: datetime, interval_seconds: float | None = None,
                     rng: random.Random | None = None, *, cost_calls: int = 0,
                     daily_limit: int | None = None) -> datetime:
        return self.next_due(now, self.refresh_interval(cost_calls, interval_seconds,
                                                        daily_limit), rng)
