"""Calls and page fetches as the sandbox answered them (``GET /_sandbox/access-log``).

The suites count from here rather than from what the connector says it did: a call the
connector does not count (a 401 on a stale token, a retry) is still a call Exact counts,
and a page fetched twice is fetched twice whatever the connector believes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PageKey = tuple[int | None, str, str]
"""(division, endpoint, query): one page of one entity. A resumed client sends the
``__next`` link it kept, so the same page is the same query."""


@dataclass(frozen=True)
class Call:
    seq: int
    at: float
    division: int | None
    endpoint: str
    query: str
    status: int
    agent: str

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Call:
        return cls(int(entry["seq"]), float(entry["at"]), entry["division"],
                   str(entry["endpoint"]), str(entry.get("query", entry.get("page", ""))),
                   int(entry["status"]), str(entry.get("agent", "")))

    @property
    def page(self) -> PageKey:
        return (self.division, self.endpoint, self.query)


def calls_of(answer: dict[str, Any], since: int) -> list[Call]:
    """The calls of an access-log answer; fails when the log no longer holds all of them."""
    if int(answer["first"]) > since + 1:
        raise ValueError(f"the sandbox's access log dropped calls {since + 1}..{answer['first'] - 1}")
    return [Call.of(e) for e in answer["entries"]]


def between(calls: list[Call], start: datetime | None = None, end: datetime | None = None,
            exclude: Sequence[tuple[datetime, datetime]] = ()) -> list[Call]:
    """The calls answered within [start, end), outside every ``exclude`` window."""
    def inside(c: Call) -> bool:
        if start is not None and c.at < start.timestamp():
            return False
        if end is not None and c.at >= end.timestamp():
            return False
        return not any(a.timestamp() <= c.at < b.timestamp() for a, b in exclude)
    return [c for c in calls if inside(c)]


def page_fetches(calls: list[Call]) -> Counter[PageKey]:
    """How often each page was served (a 200 answer: an error or a 429 fetched nothing)."""
    return Counter(c.page for c in calls if c.status == 200)


PAGES_IN_FLIGHT = 3
"""Pages a run may have fetched beyond its committed checkpoint (ingest's pipeline depth,
``ingest.pipeline.PAGES_IN_FLIGHT``: one committed behind the acks, one sent, one fetched
ahead): an interruption may cost each of them once more."""


@dataclass(frozen=True)
class Refetches:
    """Pages served more than once, against what the interruptions allow."""

    extra: int
    """Fetches beyond the first of each page."""
    allowed: int
    """The pages in flight per interruption (a kill, a withdrawn grant)."""
    worst: tuple[tuple[PageKey, int], ...]

    @property
    def ok(self) -> bool:
        return self.extra <= self.allowed

    def failure(self) -> str:
        shown = ", ".join(f"{endpoint}?{query[:60]} x{n}" for (_d, endpoint, query), n in self.worst)
        return (f"{self.extra} pages fetched again, at most {self.allowed} allowed "
                f"({PAGES_IN_FLIGHT} in flight per interruption): {shown}")


def refetches(calls: list[Call], interruptions: int) -> Refetches:
    """No page fetched twice beyond the pages in flight per interruption."""
    fetched = page_fetches(calls)
    again = [(key, n) for key, n in fetched.most_common() if n > 1]
    return Refetches(sum(n - 1 for _k, n in again), interruptions * PAGES_IN_FLIGHT,
                     tuple(again[:3]))
