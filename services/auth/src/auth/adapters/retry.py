"""Retrying Exact's transient faults inside one request (sign-in runs while a person waits).

Exact answers now and then with a 5xx, no answer in time, a dropped connection or broken
JSON (EXACT_API.md section 6: clients retry 5xx with backoff). A sign-in makes about fifteen
calls (code exchange, ``current/Me``, ``system/Divisions``, roles, rights); one attempt each
would fail a sign-in on a few percent of faults, so each call is retried here with a short
backoff. GETs are safe to repeat. The code exchange is handled by its caller, because the
authorization code is single-use (see :meth:`auth.adapters.exact.ExactClient.exchange_code`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from auth.domain.errors import ExactUnavailable

log = structlog.get_logger("auth.exact")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    """Tries of one call (the first included)."""
    backoff: float = 0.3
    """First wait; doubles per retry, with jitter."""
    backoff_max: float = 3.0

    def delay(self, attempt: int) -> float:
        return float(min(self.backoff_max, self.backoff * 2 ** (attempt - 1))
                     * (0.5 + random.random() / 2))


NO_RETRY = RetryPolicy(attempts=1)

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


async def retried(call: Callable[[], Awaitable[T]], what: str, policy: RetryPolicy,
                     sleep: Sleep = asyncio.sleep) -> T:
    """``call()`` until it does not raise ExactUnavailable, at most ``policy.attempts`` times."""
    attempt = 1
    while True:
        try:
            return await call()
        except ExactUnavailable as exc:
            if attempt >= policy.attempts:
                raise
            delay = policy.delay(attempt)
            log.info("exact_call_retry", call=what, attempt=attempt, error=str(exc)[:200],
                     retry_in=round(delay, 2))
            await sleep(delay)
            attempt += 1
