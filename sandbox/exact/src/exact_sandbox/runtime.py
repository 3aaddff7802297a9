"""The sandbox's mutable world: clock, directory, division data, tokens, limits, faults, stats.

One `Sandbox` per ASGI app; tests reach it in-process as `app.state.sandbox`.
"""

from __future__ import annotations

import threading

from exact_sandbox.access_log import AccessLog
from exact_sandbox.clock import Clock
from exact_sandbox.config import SandboxConfig
from exact_sandbox.dataset import DivisionData
from exact_sandbox.faults import FaultInjector
from exact_sandbox.ratelimit import RateLimiter
from exact_sandbox.seed import Directory
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
        self._lock = threading.Lock()

    def data(self, code: int) -> DivisionData:
        """Generated data of a division (built once; only small tables are materialised)."""
        with self._lock:
            found = self._data.get(code)
            if found is None:
                found = DivisionData(self.config.seed, self.directory.divisions[code])
                self._data[code] = found
            return found

    def reset_data(self) -> None:
        with self._lock:
            self._data.clear()
