"""The sandbox's notion of "now".

Every expiry, window and timestamp in the sandbox reads this clock, never `time.time()`,
so tests can move time (token expiry, the 570 s rule, daily resets) without sleeping.
A speed factor lets benchmarks pass a minutely window in a second of real time.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """A settable, advanceable clock that runs at `speed` times real time (0 = frozen)."""

    def __init__(self, start: float | None = None, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._base_sim = time.time() if start is None else float(start)
        self._base_real = time.monotonic()
        self._speed = float(speed)

    def now(self) -> float:
        """Current sandbox time as UTC epoch seconds."""
        with self._lock:
            return self._base_sim + (time.monotonic() - self._base_real) * self._speed

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=UTC)

    @property
    def speed(self) -> float:
        return self._speed

    def _rebase(self, sim: float) -> None:
        self._base_sim = sim
        self._base_real = time.monotonic()

    def set(self, epoch_seconds: float) -> None:
        """Jump to an absolute time."""
        with self._lock:
            self._rebase(float(epoch_seconds))

    def advance(self, seconds: float) -> None:
        """Move time forward (or back, with a negative value)."""
        now = self.now()
        with self._lock:
            self._rebase(now + float(seconds))

    def set_speed(self, speed: float) -> None:
        """Change how fast sandbox time runs relative to real time, from the current instant."""
        if speed < 0:
            raise ValueError("speed must be >= 0")
        now = self.now()
        with self._lock:
            self._rebase(now)
            self._speed = float(speed)

    def snapshot(self) -> dict[str, object]:
        now = self.now()
        return {
            "now": now,
            "now_ms": int(now * 1000),
            "iso": datetime.fromtimestamp(now, tz=UTC).isoformat(),
            "speed": self._speed,
        }
