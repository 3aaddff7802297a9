"""A first attempt waits about as long as the endpoint usually needs; a retry the full
timeout (so a lost answer costs seconds, and a slow page still arrives)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

import contracts as c
from ingest.adapters.exact import ExactClient, RetryPolicy
from ingest.adapters.timeouts import CallTimeouts
from ingest.ports import EntityRequest

BASE = "https://start.exactonline.nl"


def test_the_first_attempt_waits_a_multiple_of_the_slowest_recent_answer() -> None:
    timeouts = CallTimeouts(ceiling=60.0)
    assert timeouts.for_attempt("sync/Financial/TransactionLines", 1) == 60.0  # nothing known
    for seconds in (0.1, 0.3, 0.2, 0.1, 0.2):
        timeouts.observe("sync/Financial/TransactionLines", seconds)
    assert timeouts.for_attempt("sync/Financial/TransactionLines", 1) == 2.4
    assert timeouts.for_attempt("sync/Financial/TransactionLines", 2) == 60.0
    assert timeouts.for_attempt("budget/Budgets", 1) == 60.0  # per endpoint
    for _ in range(5):
        timeouts.observe("budget/Budgets", 0.01)
    assert timeouts.for_attempt("budget/Budgets", 1) == 1.0  # never below the floor
    for _ in range(5):
        timeouts.observe("budget/Budgets", 30.0)
    assert timeouts.for_attempt("budget/Budgets", 1) == 60.0  # never above the ceiling


async def test_a_hung_first_attempt_is_given_up_early_and_retried_with_the_full_timeout(
        kit: Any) -> None:
    seen: list[float] = []
    answers = iter([*[None] * 5, "hang", None])

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"]["read"])
        if next(answers) == "hang":
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(200, json={"d": {"results": []}})

    async def sleep(seconds: float) -> None:
        return None

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle), base_url=BASE)
    timeouts = CallTimeouts(ceiling=60.0)
    exact = ExactClient(http, kit.FakeTokens(), kit.FakeLimiter(), retry=RetryPolicy(),
                        sleep=sleep, timeouts=timeouts)
    request = EntityRequest(100001, uuid.uuid4(), c.Entity.GL_ACCOUNTS)
    for _ in range(6):
        [_page] = [p async for p in exact.pages(request, None)]
    assert seen[:5] == [60.0] * 5  # until the endpoint's answers are known
    assert seen[5] == 1.0 and seen[6] == 60.0
