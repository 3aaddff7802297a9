"""How long to wait for Exact's answer to one call: the usual, not the worst case.

A call that hangs costs the run the whole timeout. Exact answers a page in well under a
second as a rule, so waiting the configured maximum (60 s) on every call makes one lost
answer cost a minute. The first attempt of a call therefore waits ``factor`` times the
slowest of the endpoint's recent answers (at least ``floor``, at most ``ceiling``); a retry
waits the full ``ceiling``, so a page that is merely slow still arrives.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class CallTimeouts:
    ceiling: float
    """The configured per-call timeout (``INGEST_EXACT_TIMEOUT_SECONDS``)."""
    floor: float = 1.0
    factor: float = 8.0
    window: int = 50
    """Recent answers per endpoint taken into account."""
    warmup: int = 5
    """Answers of an endpoint seen before its first attempts wait less than ``ceiling``."""
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def observe(self, endpoint: str, seconds: float) -> None:
        """A complete answer took ``seconds``."""
        self._seen.setdefault(endpoint, deque(maxlen=self.window)).append(seconds)

    def for_attempt(self, endpoint: str, attempt: int) -> float:
        """Timeout of a call's ``attempt`` (1 = the first)."""
        seen = self._seen.get(endpoint)
        if attempt > 1 or seen is None or len(seen) < self.warmup:
            return self.ceiling
        return min(self.ceiling, max(self.floor, self.factor * max(seen)))
