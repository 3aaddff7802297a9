"""Retrying Exact's transient faults inside one request (sign-in runs while a person waits).

Exact answers now and then with a 5xx, no answer in time, a dropped connection or broken
JSON (EXACT_API.md section 6: clients retry 5xx with backoff). A sign-in makes about fifteen
calls (code exchange, ``current/Me``, ``system/Divisions``, roles, rights); one attempt each
would fail a sign-in on a few percent of faults, so each call is retried here with a short
backoff. GETs are safe to repeat. The code exchange is handled by its caller, because the
authorization code is single-use (see :meth:`auth.adapters.exact.ExactClient.exchange_code`).

A 429 is waited out when its window resets soon (``X-RateLimit-Minutely-Reset``, UTC epoch
milliseconds, EXACT_API.md section 4): the company's import may be using its 60 calls a
minute while someone signs in (a reconnection), and the page should wait seconds rather
than fail.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
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
MAX_RATE_WAIT_SECONDS = 30.0
"""A 429 whose window resets later than this fails the call (the page says try again)."""


class RateLimitedFor(ExactUnavailable):
    """429; ``seconds`` until Exact's window resets (None: not said)."""

    def __init__(self, message: str, seconds: float | None) -> None:
        super().__init__(message)
        self.seconds = seconds


def seconds_to_reset(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds until the limit a 429 names resets (minutely first), from its headers."""
    for name in ("X-RateLimit-Minutely-Reset", "X-RateLimit-Reset"):
        try:
            reset_ms = float(headers[name])
        except (KeyError, ValueError):
            continue
        return max(0.0, reset_ms / 1000 - now.timestamp())
    return None

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
            if isinstance(exc, RateLimitedFor):
                if exc.seconds is None or exc.seconds > MAX_RATE_WAIT_SECONDS:
                    raise
                delay = max(delay, exc.seconds + 0.2)
            log.info("exact_call_retry", call=what, attempt=attempt, error=str(exc)[:200],
                     retry_in=round(delay, 2))
            await sleep(delay)
            attempt += 1
