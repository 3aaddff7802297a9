"""What the Exact Online sandbox itself counted for a run: every call it answered for the
company (401s included) and the 429s among them, from its access log.

The demo reports these rather than the connector's own count, and fails when the sandbox
answered a 429 under Exact's real limits (the README promises a run without one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from exact_sandbox.client import SandboxAdmin


@dataclass(frozen=True)
class SandboxCount:
    calls: int
    """Every call the sandbox answered for the company within the window."""
    responses_429: int
    unauthorized: int


async def access_mark(sandbox_url: str) -> int:
    """The number of the sandbox's latest logged call: count from here on."""
    async with SandboxAdmin(sandbox_url) as admin:
        answer = await admin.access_log(since=10**12)
    return int(answer["last"])


async def count_calls(sandbox_url: str, since: int, division: int, start: datetime,
                      end: datetime) -> SandboxCount:
    """Calls the sandbox answered for ``division`` after mark ``since``, within [start, end]."""
    async with SandboxAdmin(sandbox_url, timeout=60) as admin:
        answer = await admin.access_log(since=since, division=division)
    if int(answer["first"]) > since + 1:
        raise RuntimeError("the sandbox's access log no longer holds the run's calls")
    statuses = [int(e["status"]) for e in answer["entries"]
                if start.timestamp() <= float(e["at"]) <= end.timestamp()]
    return SandboxCount(len(statuses), statuses.count(429), statuses.count(401))


def rate_limit_failure(count: SandboxCount, real_limits: bool) -> str | None:
    """Under Exact's real limits the run must not get a single 429 from the sandbox."""
    if real_limits and count.responses_429:
        return (f"the sandbox answered {count.responses_429} of the run's {count.calls} calls "
                "with 429 under Exact's real limits (promised: none)")
    return None
