"""A lower bound of Exact's clock, learned from the rate-limit reset headers (see
:mod:`ingest.domain.budget`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WINDOW_MS = 60_000
_MAX_SPEED = 10_000.0


@dataclass
class ServerClock:
    """Lower bound of Exact's clock: ``server >= anchor_server + speed * (local - anchor_local)``.

    Each answer says Exact's time was in ``[reset - 60 s, reset)`` while it was handled. The
    speed (1.0 for the real service; faster in a sandbox) is bounded from below by window
    changes: when the reset moves from one answer to the next, Exact crossed a whole-minute
    boundary between the two; two such crossings bound the speed. An answer that contradicts
    the bound (the clock was set back, or runs slower) starts a new estimate.
    """

    anchor_local_ms: int | None = None
    anchor_server_ms: int | None = None
    speed: float = 1.0
    last_sent_ms: int | None = None
    last_reset_ms: int | None = None
    crossings: list[list[int]] = field(default_factory=list)
    """Recent minute boundaries Exact crossed: [local time before the crossing, boundary]."""

    def floor(self, local_ms: int) -> int | None:
        if self.anchor_local_ms is None or self.anchor_server_ms is None:
            return None
        return self.anchor_server_ms + int(self.speed * (local_ms - self.anchor_local_ms))

    def local_ms_when(self, server_ms: int, now_local_ms: int) -> int:
        """Local time at which the lower bound reaches ``server_ms`` (never before now)."""
        floor = self.floor(now_local_ms)
        if floor is None:
            return now_local_ms + WINDOW_MS
        return now_local_ms + max(0, math.ceil((server_ms - floor) / self.speed))

    def observe(self, sent_ms: int, received_ms: int, reset_ms: int,
                date_ms: int | None = None) -> bool:
        """An answer sent at ``sent_ms`` and received at ``received_ms`` named ``reset_ms``
        (and carried the HTTP ``Date`` ``date_ms``, used only when it lies in that window).

        Returns True when the estimate started over (earlier readings are meaningless)."""
        lower = reset_ms - WINDOW_MS  # Exact's time when it answered, at least
        at_send = self.floor(sent_ms)
        if at_send is None or at_send >= reset_ms:
            # first answer, or the estimate was wrong (clock set back, slower): start over
            if date_ms is not None and lower <= date_ms < reset_ms:
                lower = date_ms
            self.anchor_local_ms, self.anchor_server_ms, self.speed = received_ms, lower, 1.0
            self.last_sent_ms, self.last_reset_ms = sent_ms, reset_ms
            self.crossings = []
            return True
        if self.last_reset_ms is not None and self.last_sent_ms is not None and \
                reset_ms > self.last_reset_ms and sent_ms >= self.last_sent_ms:
            # Exact crossed the boundary ``lower`` after last_sent and before received
            speeds = [(lower - boundary) / (received_ms - before)
                      for before, boundary in self.crossings
                      if lower > boundary and received_ms > before]
            if speeds:
                self._faster(max(speeds), received_ms, lower)
            self.crossings = [*self.crossings[-15:], [self.last_sent_ms, lower]]
        if self.last_reset_ms is None or reset_ms >= self.last_reset_ms:
            self.last_sent_ms, self.last_reset_ms = sent_ms, reset_ms
        if date_ms is not None and lower <= date_ms < reset_ms:
            lower = date_ms  # the Date header agrees with the limiter's clock: a closer bound
        now_floor = self.floor(received_ms)
        if now_floor is None or lower > now_floor:
            self.anchor_local_ms, self.anchor_server_ms = received_ms, lower
        return False

    def _faster(self, speed: float, at_local: int, lower: int) -> None:
        if speed <= self.speed:
            return
        kept = self.floor(at_local)
        self.speed = min(speed, _MAX_SPEED)
        self.anchor_local_ms = at_local
        self.anchor_server_ms = max(lower, kept if kept is not None else lower)
