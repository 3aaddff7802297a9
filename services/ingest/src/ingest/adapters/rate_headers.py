"""Exact's ``X-RateLimit-*`` and ``Date`` answer headers -> :class:`RateHeaders` (the domain's
values; unreadable headers count as absent)."""

from __future__ import annotations

import contextlib
import email.utils
from collections.abc import Mapping

from ingest.domain.budget import RateHeaders


def parse_rate_headers(headers: Mapping[str, str]) -> RateHeaders:
    def num(name: str) -> int | None:
        raw = headers.get(name)
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None

    date_ms = None
    if headers.get("Date"):
        with contextlib.suppress(TypeError, ValueError, IndexError):
            date_ms = int(email.utils.parsedate_to_datetime(headers["Date"]).timestamp() * 1000)
    return RateHeaders(
        date_ms=date_ms,
        minutely_limit=num("X-RateLimit-Minutely-Limit"),
        minutely_remaining=num("X-RateLimit-Minutely-Remaining"),
        minutely_reset_ms=num("X-RateLimit-Minutely-Reset"),
        daily_limit=num("X-RateLimit-Limit"),
        daily_remaining=num("X-RateLimit-Remaining"),
        daily_reset_ms=num("X-RateLimit-Reset"),
    )
