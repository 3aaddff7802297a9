"""Exact's API budgets: minutely and daily calls per (app, company), an optional daily total per
company across apps, and the per-endpoint error budget (too many 4xx in an hour -> blocked).

Windows are fixed: the minute resets on the whole minute, the day at 00:00 UTC (or every
``day_seconds`` of sandbox time, when a benchmark compresses the day). Reset headers
are UTC epoch milliseconds. A 429 carries only the headers of the limit that was hit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from exact_sandbox.clock import Clock
from exact_sandbox.config import Limits

ErrorKey = tuple[str, str, int, str]


@dataclass
class Decision:
    allowed: bool
    limit: str | None  # "daily", "company_daily" or "minutely" when refused
    headers: dict[str, str]


class RateLimiter:
    def __init__(self, limits: Limits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self._minute: dict[tuple[str, int], tuple[int, int]] = {}
        self._day: dict[tuple[str, int], tuple[int, int]] = {}
        self._company: dict[int, tuple[int, int]] = {}
        self._errors: dict[ErrorKey, deque[float]] = {}
        self._blocked: dict[ErrorKey, float] = {}

    def reset(self) -> None:
        self._minute.clear()
        self._day.clear()
        self._company.clear()
        self._errors.clear()
        self._blocked.clear()

    @staticmethod
    def _count(table: dict[Any, tuple[int, int]], key: Any, window: int) -> int:
        got = table.get(key)
        return got[1] if got is not None and got[0] == window else 0

    def take(self, client_id: str, division: int) -> Decision:
        """Count one call, or refuse it when a budget is spent."""
        now = self.clock.now()
        lim = self.limits
        day = lim.day_seconds
        mw, dw = int(now // 60), int(now // day)
        key = (client_id, division)
        used_m = self._count(self._minute, key, mw)
        used_d = self._count(self._day, key, dw)
        used_c = self._count(self._company, division, dw)
        day_reset = str((dw + 1) * day * 1000)
        min_reset = str((mw + 1) * 60_000)

        def daily(limit: int, used: int) -> dict[str, str]:
            return {"X-RateLimit-Limit": str(limit),
                    "X-RateLimit-Remaining": str(max(0, limit - used)),
                    "X-RateLimit-Reset": day_reset}

        def minutely(used: int) -> dict[str, str]:
            return {"X-RateLimit-Minutely-Limit": str(lim.minutely),
                    "X-RateLimit-Minutely-Remaining": str(max(0, lim.minutely - used)),
                    "X-RateLimit-Minutely-Reset": min_reset}

        if used_d >= lim.daily:
            return Decision(False, "daily", daily(lim.daily, used_d))
        if lim.company_daily is not None and used_c >= lim.company_daily:
            return Decision(False, "company_daily", daily(lim.company_daily, used_c))
        if used_m >= lim.minutely:
            return Decision(False, "minutely", minutely(used_m))
        self._minute[key] = (mw, used_m + 1)
        self._day[key] = (dw, used_d + 1)
        self._company[division] = (dw, used_c + 1)
        return Decision(True, None, {**daily(lim.daily, used_d + 1), **minutely(used_m + 1)})

    def blocked_until(self, key: ErrorKey) -> float | None:
        until = self._blocked.get(key)
        if until is None or until <= self.clock.now():
            return None
        return until

    def record_error(self, key: ErrorKey) -> bool:
        """Count a 4xx; True when this one pushes the key over its hourly error budget."""
        now = self.clock.now()
        window = self._errors.setdefault(key, deque())
        window.append(now)
        while window and window[0] <= now - self.limits.error_window_s:
            window.popleft()
        if len(window) > self.limits.error_budget:
            self._blocked[key] = now + self.limits.error_block_s
            window.clear()
            return True
        return False
