"""Injected faults: decided per call by a seeded hash of (kind, division, endpoint, call number),
so a sequential client sees the same faults on every run with the same seed.

One division may have faults of its own (``by_division``): they replace the general ones
for that division's calls, so runs of several companies at once can meet different faults.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from exact_sandbox.config import FaultSettings
from exact_sandbox.ids import derive_key, mix64

_KINDS = ("unauthorized", "error_5xx", "timeout", "drop", "malformed")


@dataclass
class FaultPlan:
    """What to do to one call; empty means behave normally."""

    latency_ms: int = 0
    unauthorized: bool = False
    revoke: bool = False
    error_5xx: int | None = None
    timeout: bool = False
    drop: bool = False
    malformed: bool = False
    kinds: list[str] = field(default_factory=list)


class FaultInjector:
    def __init__(self, settings: FaultSettings) -> None:
        self.configure(settings)

    def configure(self, settings: FaultSettings, *, keep_divisions: bool = False) -> None:
        self.settings = settings
        self._calls: Counter[tuple[int, str]] = Counter()
        self._unauthorized_left = settings.unauthorized_next
        self._keys = {k: derive_key(settings.seed, "fault", k) for k in _KINDS}
        if not keep_divisions:
            self.by_division: dict[int, FaultInjector] = {}

    def configure_division(self, division: int, settings: FaultSettings | None) -> None:
        """Faults of ``division`` alone (None: the general ones again)."""
        if settings is None:
            self.by_division.pop(division, None)
        else:
            self.by_division[division] = FaultInjector(settings)

    def in_scope(self, division: int | None, endpoint: str) -> bool:
        s = self.settings
        if endpoint == "oauth2/token" and not s.include_token_endpoint:
            return False
        if s.divisions is not None and division not in s.divisions:
            return False
        return s.endpoints is None or any(e in endpoint for e in s.endpoints)

    def _hit(self, kind: str, rate: float, division: int | None, endpoint: str, n: int) -> bool:
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        h = mix64(n, self._keys[kind] ^ derive_key(division, endpoint))
        return h < rate * 2**64

    def plan(self, division: int | None, endpoint: str, grant_calls: int) -> FaultPlan:
        """Decide the faults of one call. `grant_calls` counts in-scope calls of its grant."""
        own = self.by_division.get(division) if division is not None else None
        if own is not None:
            return own.plan(division, endpoint, grant_calls)
        s = self.settings
        plan = FaultPlan()
        if not s.active() or not self.in_scope(division, endpoint):
            return plan
        scope = (division or 0, endpoint)
        self._calls[scope] += 1
        n = self._calls[scope]
        plan.latency_ms = s.latency_ms
        if s.revoke_after_calls is not None and grant_calls > s.revoke_after_calls:
            plan.revoke = True
        if self._unauthorized_left > 0:
            self._unauthorized_left -= 1
            plan.unauthorized = True
        elif self._hit("unauthorized", s.unauthorized_rate, division, endpoint, n):
            plan.unauthorized = True
        if self._hit("error_5xx", s.error_5xx_rate, division, endpoint, n):
            plan.error_5xx = s.error_5xx_status
        elif self._hit("timeout", s.timeout_rate, division, endpoint, n):
            plan.timeout = True
        elif self._hit("drop", s.drop_rate, division, endpoint, n):
            plan.drop = True
        elif self._hit("malformed", s.malformed_json_rate, division, endpoint, n):
            plan.malformed = True
        plan.kinds = [k for k, on in (("latency", plan.latency_ms > 0),
                                      ("revoke", plan.revoke),
                                      ("unauthorized", plan.unauthorized),
                                      ("error_5xx", plan.error_5xx is not None),
                                      ("timeout", plan.timeout), ("drop", plan.drop),
                                      ("malformed", plan.malformed)) if on]
        return plan
