"""Watching one company's calls at the sandbox while a run goes: the longest silence.

A run that waits for a token (or anything else) makes no call; the longest time the
company's call count did not grow is that wait. Polled every quarter second, so figures
are good to about that.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from bench.harness import Harness
from contracts import RunCompleted, RunFailed


@dataclass
class CallWatch:
    h: Harness
    division: int
    run_id: uuid.UUID
    interval: float = 0.25
    longest_silence: float = 0.0
    calls: int = 0

    async def run(self, timeout: float) -> None:
        """Until the run ends (or ``timeout``)."""
        started = last_change = time.monotonic()
        seen = -1
        while time.monotonic() - started < timeout and not self._ended():
            calls = int((await self.h.stats())["calls_by_division"].get(str(self.division), 0))
            now = time.monotonic()
            if calls != seen:
                if seen >= 0:
                    self.longest_silence = max(self.longest_silence, now - last_change)
                seen, last_change = calls, now
            self.calls = calls
            await asyncio.sleep(self.interval)

    def _ended(self) -> bool:
        return bool(self.h.log.find(lambda m: isinstance(m, RunCompleted | RunFailed)
                                    and m.payload.run_id == self.run_id))


async def set_limits(h: Harness, **limits: int) -> dict[str, int]:
    """PATCH the sandbox's limits; returns the values they had."""
    before = await h.exact.limits()
    await h.exact.limits(**limits)
    return {k: before[k] for k in limits}


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """Non-zero differences of two counters read from the sandbox's stats."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
