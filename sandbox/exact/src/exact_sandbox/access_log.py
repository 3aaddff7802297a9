"""Every call to the data API as the sandbox answered it, for checks that must not trust the
client's own account: ``GET /_sandbox/access-log``.

One entry per request under ``/api/v1``, whatever the answer - a 401 for a stale or unknown
token included, which the counters of ``/_sandbox/stats`` leave out because no grant is known
for it. Each entry names the division of the path (``None`` for ``current/Me``), the endpoint,
the page asked for (the ``$skiptoken`` of the request, ``""`` for a first page) and the whole
query string (a page is one query: a client that resumes from a ``__next`` link sends it
again unchanged), the status,
the app (``client_id``, when the token was known) and the caller's ``User-Agent``. Entries are
numbered; ``?since=n`` returns the entries after number ``n``, so a tool reads a window of
calls between two marks without resetting anything.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_ENTRIES = 2_000_000
"""Oldest entries are dropped beyond this (about 200 MB); ``first`` in the answer says so."""


@dataclass(frozen=True, slots=True)
class Access:
    seq: int
    at: float
    """Wall-clock time (epoch seconds) the answer was ready, not the sandbox's clock: tools
    compare it with the services' event times."""
    division: int | None
    endpoint: str
    page: str
    query: str
    status: int
    client_id: str | None
    agent: str

    def as_dict(self) -> dict[str, object]:
        return {"seq": self.seq, "at": round(self.at, 3), "division": self.division,
                "endpoint": self.endpoint, "page": self.page, "query": self.query,
                "status": self.status,
                "client_id": self.client_id, "agent": self.agent}


class AccessLog:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self._entries: list[Access] = []
        self._seq = 0

    def record(self, request: Request, division: int | None, endpoint: str, status: int,
               client_id: str | None) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append(Access(
                self._seq, time.time(), division, endpoint,
                request.query_params.get("$skiptoken", ""), request.url.query, status, client_id,
                request.headers.get("user-agent", "")))
            if len(self._entries) > self._max:
                del self._entries[: len(self._entries) - self._max]

    @property
    def last(self) -> int:
        return self._seq

    def since(self, seq: int, division: int | None = None) -> list[Access]:
        with self._lock:
            entries = list(self._entries)
        # entries are in seq order: skip the older ones without scanning them one by one
        lo, hi = 0, len(entries)
        while lo < hi:
            mid = (lo + hi) // 2
            if entries[mid].seq <= seq:
                lo = mid + 1
            else:
                hi = mid
        return [e for e in entries[lo:] if division is None or e.division == division]

    def routes(self) -> list[Route]:
        return [Route("/_sandbox/access-log", self.endpoint, methods=["GET"])]

    async def endpoint(self, request: Request) -> Response:
        try:
            since = int(request.query_params.get("since", "0"))
            raw = request.query_params.get("division")
            division = int(raw) if raw else None
        except ValueError:
            return JSONResponse({"error": "since and division are integers"}, status_code=400)
        entries = self.since(since, division)
        first = self._entries[0].seq if self._entries else self._seq + 1
        return JSONResponse({"last": self._seq, "first": first,
                             "entries": [e.as_dict() for e in entries]})
