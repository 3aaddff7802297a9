"""When a data source's next incremental run (and next full refresh) is due: its interval, jittered.

Jitter spreads data sources that completed together (e.g. after a deploy or a rate-limit
wait) over the interval, so they do not all call Exact in the same minute.
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
    max_per_pass: int = 50
    """Incremental runs planned at most per scheduler pass (the rest follow next pass)."""

    def next_due(self, now: datetime, interval_seconds: float | None = None,
                 rng: random.Random | None = None) -> datetime:
        interval = interval_seconds if interval_seconds is not None else self.interval_seconds
        spread = (rng or random).uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return now + timedelta(seconds=max(0.0, interval * (1.0 + spread)))

    def next_refresh(self, now: datetime, interval_seconds: float | None = None,
                     rng: random.Random | None = None) -> datetime:
        interval = interval_seconds if interval_seconds is not None \
            else self.refresh_interval_seconds
        return self.next_due(now, interval, rng)
