"""Counters that tests and benchmarks read from GET /_sandbox/stats."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.calls_by_endpoint: Counter[str] = Counter()
        self.calls_by_division: Counter[int] = Counter()
        self.calls_by_app: Counter[str] = Counter()
        self.status_counts: Counter[int] = Counter()
        self.responses_429: Counter[str] = Counter()
        self.token_calls: Counter[str] = Counter()
        self.violations: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.rows_served: Counter[str] = Counter()
        self.concurrent: Counter[int] = Counter()
        self.peak_concurrent: dict[int, int] = {}
        self.concurrent_total = 0
        self.peak_concurrent_total = 0

    @contextmanager
    def in_flight(self, division: int) -> Iterator[None]:
        """Track concurrent requests per company (and overall) while a request runs."""
        self.concurrent[division] += 1
        self.concurrent_total += 1
        self.peak_concurrent[division] = max(self.peak_concurrent.get(division, 0),
                                             self.concurrent[division])
        self.peak_concurrent_total = max(self.peak_concurrent_total, self.concurrent_total)
        try:
            yield
        finally:
            self.concurrent[division] -= 1
            self.concurrent_total -= 1

    def snapshot(self) -> dict[str, Any]:
        def keyed(c: Counter[Any] | dict[Any, int]) -> dict[str, int]:
            return {str(k): v for k, v in sorted(c.items(), key=lambda kv: str(kv[0]))}

        return {
            "calls_total": sum(self.calls_by_endpoint.values()),
            "calls_by_endpoint": keyed(self.calls_by_endpoint),
            "calls_by_division": keyed(self.calls_by_division),
            "calls_by_app": keyed(self.calls_by_app),
            "status_counts": keyed(self.status_counts),
            "responses_429": sum(self.responses_429.values()),
            "responses_429_by_limit": keyed(self.responses_429),
            "token_calls": sum(self.token_calls.values()),
            "token_calls_by_grant_type": keyed(self.token_calls),
            "refresh_calls": self.token_calls["refresh_token"],
            "peak_concurrent_by_division": keyed(self.peak_concurrent),
            "peak_concurrent_total": self.peak_concurrent_total,
            "rule_violations": keyed(self.violations),
            "faults_injected": keyed(self.faults),
            "rows_served": keyed(self.rows_served),
        }
