"""The sandbox's mutable world: clock, directory, division data, tokens, limits, faults, stats.

One `Sandbox` per ASGI app; tests reach it in-process as `app.state.sandbox`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from exact_sandbox.access_log import AccessLog
from exact_sandbox.clock import Clock
from exact_sandbox.config import SandboxConfig
from exact_sandbox.dataset import DivisionData
from exact_sandbox.directory import Directory
from exact_sandbox.faults import FaultInjector
from exact_sandbox.ratelimit import RateLimiter
from exact_sandbox.stats import Stats
from exact_sandbox.tokens import TokenService
from exact_sandbox.webhooks import Webhooks


class Sandbox:
    def __init__(self, config: SandboxConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or Clock(config.clock_start, config.clock_speed)
        self.directory = Directory(config)
        self.stats = Stats()
        self.access = AccessLog()
        self.limiter = RateLimiter(config.limits, self.clock)
        self.faults = FaultInjector(config.faults)
        self.tokens = TokenService(config.limits, self.clock, config.apps, self.stats,
                                   config.old_refresh_reuse_kills_grant)
        self.webhooks = Webhooks({a.client_id: a for a in config.apps},
                                 config.webhook_http_loopback)
        self._data: dict[int, DivisionData] = {}
        # Generated companies, least recently used first: only `resident` stay built.
        self._companies: OrderedDict[int, DivisionData] = OrderedDict()
        self._lock = threading.Lock()

    def data(self, code: int) -> DivisionData:
        """Generated data of a division (built once; only small tables are materialised).

        A generated company's data is rebuilt on demand (it is a pure function of seed and
        code) unless it was changed through the admin API, so thousands of companies cost
        the memory of the ``resident`` most recently used ones."""
        with self._lock:
            found = self._data.get(code)
            if found is not None:
                return found
            companies = self.directory.companies
            if companies is None or code not in companies:
                found = DivisionData(self.config.seed, self.directory.divisions[code])
                self._data[code] = found
                return found
            found = self._companies.get(code)
            if found is None:
                found = DivisionData(self.config.seed, self.directory.divisions[code])
                self._companies[code] = found
            self._companies.move_to_end(code)
            self._evict(self.config.companies.resident)
            return found

    def _evict(self, resident: int) -> None:
        for old in list(self._companies)[:max(0, len(self._companies) - resident)]:
            kept = self._companies.pop(old)
            if kept.version:  # changed through the admin API: the changes live only here
                self._data[old] = kept

    def resident_companies(self) -> int:
        """Generated companies whose tables are built right now."""
        with self._lock:
            return len(self._companies)

    def reset_data(self) -> None:
        with self._lock:
            self._data.clear()
            self._companies.clear()
