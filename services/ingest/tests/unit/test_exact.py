"""The Exact client against httpx.MockTransport: paging, 429, broken pages, expired tokens,
timeouts and the figures of each page.

Size: one test module per source module (:mod:`ingest.adapters.exact`), one test per answer case.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

import contracts as c
from ingest.adapters.exact import ExactClient, RetryPolicy
from ingest.domain.errors import (
    ExactRequestRejected,
    Forbidden,
    PageFailed,
    RequiredFieldUnknown,
)
from ingest.ports import EntityRequest, Page

BASE = "https://start.exactonline.nl"
GRANT = uuid.uuid4()
RATE = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4990",
        "X-RateLimit-Reset": "1741046400000", "X-RateLimit-Minutely-Limit": "60",
        "X-RateLimit-Minutely-Remaining": "55", "X-RateLimit-Minutely-Reset": "1740996060000"}

Handler = Callable[[httpx.Request], httpx.Response]


def gl(n: int) -> dict[str, Any]:
    return {"ID": str(uuid.UUID(int=n + 1)), "Code": str(n), "Division": 100001,
            "Created": "/Date(1641016800000)/", "Timestamp": 100 + n}


def page(rows: list[dict[str, Any]], next_url: str | None = None) -> httpx.Response:
    d: dict[str, Any] = {"results": rows}
    if next_url:
        d["__next"] = next_url
    return httpx.Response(200, json={"d": d}, headers=RATE)


def error(status: int, message: str = "boom", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": "", "message": {"lang": "", "value": message}}},
                          headers={**RATE, **headers})


class Recorder:
    def __init__(self, answers: list[httpx.Response | Exception]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(handler: Handler, kit: Any, **retry: Any) -> tuple[ExactClient, Any, Any, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    limiter, tokens = kit.FakeLimiter(), kit.FakeTokens()
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=BASE)
    exact = ExactClient(http, tokens, limiter, retry=RetryPolicy(**retry), sleep=sleep)
    return exact, limiter, tokens, slept


async def collect(exact: ExactClient, entity: c.Entity = c.Entity.GL_ACCOUNTS,
                  cursor: str | None = None) -> list[Page]:
    return [p async for p in exact.pages(EntityRequest(100001, GRANT, entity), cursor)]


async def test_pages_follow_next_links_and_hide_the_skiptoken(kit: Any) -> None:
    answers = Recorder([
        page([gl(1), gl(2)], f"{BASE}/api/v1/100001/sync/Financial/GLAccounts?$select=ID&$skiptoken=102L"),
        page([gl(3)], f"{BASE}/api/v1/100001/sync/Financial/GLAccounts?$select=ID&$skiptoken=103L"),
        page([]),
    ])
    exact, limiter, _tokens, _ = client(answers, kit)
    pages = await collect(exact)
    assert [p.stats.rows for p in pages] == [2, 1, 0]
    assert pages[0].stats.next_cursor == "api/v1/100001/sync/Financial/GLAccounts?$select=ID&$skiptoken=102L"
    assert pages[-1].stats.next_cursor is None
    first = answers.requests[0]
    assert first.url.path == "/api/v1/100001/sync/Financial/GLAccounts"
    assert first.url.params["$filter"] == "Timestamp gt 1"
    assert set(first.url.params["$select"].split(",")) == set(c.exact_fields(c.ROW_MODELS[c.Entity.GL_ACCOUNTS]))
    assert first.headers["Accept"] == "application/json"
    assert first.headers["Authorization"] == "Bearer token-0"
    assert answers.requests[1].url.params["$skiptoken"] == "102L"
    assert len(limiter.acquired) == len(limiter.completed) == 3
    assert limiter.completed[0][1].minutely_remaining == 55


async def test_a_page_gives_exact_sums_and_the_contract_id_hash(kit: Any) -> None:
    rows = [{"ID": str(uuid.uuid4()), "BudgetScenario": None, "ReportingYear": 2024,
             "ReportingPeriod": p, "AmountDC": amount, "Division": 100001}
            for p, amount in enumerate([0.1, 0.2, -0.3, 1e-2], start=1)]
    body = json.dumps({"d": {"results": rows}}).encode()
    exact, *_ = client(lambda r: httpx.Response(200, content=body, headers=RATE), kit)
    [only] = await collect(exact, c.Entity.BUDGETS)
    assert only.stats.amount_sum == Decimal("0.01")
    assert only.stats.debit_sum == Decimal("0.31")
    assert f"{only.stats.id_hash_sum:016x}" == c.id_hash(r["ID"] for r in rows)
    assert only.rows[0].amount_dc == Decimal("0.1")  # type: ignore[attr-defined]


async def test_resuming_from_a_cursor_asks_that_page_first(kit: Any) -> None:
    answers = Recorder([page([gl(9)])])
    exact, *_ = client(answers, kit)
    await collect(exact, cursor="api/v1/100001/sync/Financial/GLAccounts?$skiptoken=108L")
    assert str(answers.requests[0].url) == f"{BASE}/api/v1/100001/sync/Financial/GLAccounts?$skiptoken=108L"


async def test_a_next_link_to_another_host_is_followed_on_our_own_host(kit: Any) -> None:
    answers = Recorder([page([gl(1)], "https://evil.example/api/v1/100001/x?$skiptoken=1L"), page([])])
    exact, *_ = client(answers, kit)
    await collect(exact)
    assert answers.requests[1].url.host == "start.exactonline.nl"


async def test_a_429_is_reported_to_the_limiter_and_the_page_asked_again(kit: Any) -> None:
    limited = httpx.Response(429, json={"error": {"message": {"value": "API rate limit exceeded"}}},
                             headers={"X-RateLimit-Minutely-Limit": "60",
                                      "X-RateLimit-Minutely-Remaining": "0",
                                      "X-RateLimit-Minutely-Reset": "1740996060000"})
    answers = Recorder([limited, page([gl(1)])])
    exact, limiter, _, slept = client(answers, kit)
    [only] = await collect(exact)
    assert only.stats.rows == 1 and only.calls == 2
    status, headers = limiter.completed[0]
    assert status == 429 and headers.minutely_remaining == 0 and headers.minutely_reset_ms == 1740996060000
    assert headers.daily_remaining is None  # a minutely 429 carries only the minutely headers
    assert slept == []  # the wait is the limiter's, until the reset it now knows


async def test_broken_json_is_fetched_again_from_the_same_page(kit: Any) -> None:
    broken = httpx.Response(200, content=b'{"d":{"results":[{"ID":', headers=RATE)
    answers = Recorder([broken, page([gl(1)])])
    exact, _, _, slept = client(answers, kit)
    [only] = await collect(exact)
    assert only.stats.rows == 1 and only.calls == 2
    assert answers.requests[0].url == answers.requests[1].url
    assert len(slept) == 1


async def test_a_401_on_a_token_near_expiry_is_reported_and_replaced_at_once(kit: Any) -> None:
    answers = Recorder([error(401, "Unauthorized"), page([gl(1)])])
    exact, _, tokens, slept = client(answers, kit)
    tokens.near = True
    [_only] = await collect(exact)
    assert tokens.rejections == ["token-0"]
    assert answers.requests[1].headers["Authorization"] == "Bearer token-1"
    assert slept == []  # a fresh token is asked at once, not after a backoff


async def test_a_spurious_401_is_retried_with_the_same_token_after_a_short_wait(kit: Any) -> None:
    answers = Recorder([error(401, "Unauthorized"), page([gl(1)])])
    exact, _, tokens, slept = client(answers, kit)
    [only] = await collect(exact)
    assert only.rows and only.calls == 2
    assert tokens.rejections == []  # the token is not dropped: auth is not asked to refresh
    assert [r.headers["Authorization"] for r in answers.requests] == ["Bearer token-0"] * 2
    assert slept == [2.0]


async def test_a_persistent_401_is_retried_twice_then_reported_once(kit: Any) -> None:
    answers = Recorder([error(401), error(401), error(401), page([gl(1)])])
    exact, _, tokens, slept = client(answers, kit)
    [only] = await collect(exact)
    assert only.calls == 4
    assert tokens.rejections == ["token-0"]
    assert [r.headers["Authorization"] for r in answers.requests] == \
        ["Bearer token-0"] * 3 + ["Bearer token-1"]
    assert slept == [2.0, 4.0]  # a few seconds in all, never a burst of 401s


async def test_each_same_token_wait_is_logged_with_its_division_and_seconds(kit: Any) -> None:
    """The fault suite's R4 reads these records to tell how long a withdrawal took to notice."""
    answers = Recorder([error(401), error(401), error(401), page([gl(1)])])
    exact, _, _, _ = client(answers, kit)
    with capture_logs() as logs:
        await collect(exact)
    waits = [(e["division"], e["retry_in"]) for e in logs
             if e["event"] == "exact_unauthorized_retry_same_token"]
    assert waits == [(100001, 2.0), (100001, 4.0)]
    assert [e["event"] for e in logs].count("exact_token_refused") == 1


async def test_a_401_with_the_fresh_token_counts_as_a_failed_attempt(kit: Any) -> None:
    answers = Recorder([error(401), error(401), error(401), error(401), page([gl(1)])])
    exact, _, tokens, slept = client(answers, kit)
    await collect(exact)
    assert tokens.rejections == ["token-0"]
    assert len(slept) == 3  # two same-token waits, one backoff of a failed attempt


async def test_server_errors_timeouts_and_dropped_connections_are_retried(kit: Any) -> None:
    answers = Recorder([error(500), httpx.ReadTimeout("slow"),
                        httpx.RemoteProtocolError("peer closed connection"), error(503),
                        page([gl(1)])])
    exact, _, _, slept = client(answers, kit, backoff_base=1.0, backoff_max=3.0)
    [only] = await collect(exact)
    assert only.calls == 5
    assert len(slept) == 4 and max(slept) <= 3.0
    assert slept[0] <= 1.0 < slept[2] * 2  # exponential, with jitter


async def test_a_page_that_keeps_failing_fails_with_the_last_reason(kit: Any) -> None:
    exact, *_ = client(lambda r: error(500, "down"), kit, max_attempts=3)
    with pytest.raises(PageFailed, match=r"3 times.*HTTP 500: down") as failed:
        await collect(exact)
    assert failed.value.attempts == 3


async def test_a_bad_request_is_not_retried(kit: Any) -> None:
    answers = Recorder([error(400, "Please add a $select or a $top=1 statement")])
    exact, *_ = client(answers, kit)
    with pytest.raises(ExactRequestRejected, match=r"\$select"):
        await collect(exact)
    assert len(answers.requests) == 1


async def test_forbidden_carries_exacts_reason(kit: Any) -> None:
    exact, *_ = client(lambda r: error(403, "Forbidden", Reason="NoDivisionAccess"), kit)
    with pytest.raises(Forbidden) as refused:
        await collect(exact)
    assert refused.value.reason == "NoDivisionAccess"


async def test_the_division_entity_asks_only_for_the_bound_division(kit: Any) -> None:
    answers = Recorder([page([{"Code": 100001, "Description": "Bakkerij"}])])
    exact, *_ = client(answers, kit)
    [only] = await collect(exact, c.Entity.DIVISIONS)
    assert answers.requests[0].url.params["$filter"] == "Code eq 100001"
    assert f"{only.stats.id_hash_sum:016x}" == c.id_hash(["100001"])


def test_a_date_range_uses_bulk_lines_and_year_filters() -> None:
    from datetime import date

    from ingest.adapters.endpoints import endpoint_for, first_page_params

    span = (date(2023, 1, 1), date(2023, 12, 31))
    tl = endpoint_for(c.Entity.TRANSACTION_LINES, *span)
    assert tl.path == "bulk/Financial/TransactionLines"
    assert "Timestamp" not in tl.select.split(",")  # a sync-only field
    assert first_page_params(tl, 1, *span)["$filter"] == \
        "Date ge datetime'2023-01-01' and Date lt datetime'2024-01-01'"
    budgets = endpoint_for(c.Entity.BUDGETS, *span)
    assert first_page_params(budgets, 1, *span)["$filter"] == \
        "ReportingYear ge 2023 and ReportingYear le 2023"
    assert "$filter" not in first_page_params(endpoint_for(c.Entity.JOURNALS, *span), 1, *span)
    sync = endpoint_for(c.Entity.GL_ACCOUNTS, *span)
    assert first_page_params(sync, 1, *span)["$filter"] == "Timestamp gt 1"


def unknown(field: str, type_name: str = "Exact.Web.Api.Models.HRM.Costcenter") -> httpx.Response:
    return error(400, f"Could not find a property named '{field}' on type '{type_name}'.")


def cost_center(n: int) -> dict[str, Any]:
    return {"ID": str(uuid.UUID(int=n + 1)), "Code": str(n), "Division": 100001}


async def test_a_field_exact_no_longer_knows_is_dropped_and_the_page_asked_again(kit: Any) -> None:
    nxt = f"{BASE}/api/v1/100001/hrm/Costcenters?$select=ID,Code&$skiptoken=guid'{uuid.UUID(int=2)}'"
    answers = Recorder([unknown("Active"), page([cost_center(1)], nxt), page([cost_center(2)])])
    exact, _, _, slept = client(answers, kit)
    pages = await collect(exact, c.Entity.COST_CENTERS)
    selects = [r.url.params.get("$select") or "" for r in answers.requests]
    assert "Active" in selects[0].split(",") and "Active" not in selects[1].split(",")
    assert selects[1] == ",".join(f for f in selects[0].split(",") if f != "Active")
    assert [p.dropped for p in pages] == [("Active",), ("Active",)]
    assert [r.active for p in pages for r in p.rows] == [None, None]  # type: ignore[attr-defined]
    assert slept == []  # asked again at once
    # the client remembers: the next read of the endpoint does not ask for Active at all
    answers.answers = [page([cost_center(3)])]
    await collect(exact, c.Entity.COST_CENTERS)
    assert "Active" not in (answers.requests[-1].url.params.get("$select") or "")


async def test_a_retired_field_on_a_next_link_is_dropped_from_the_link(kit: Any) -> None:
    nxt = f"{BASE}/api/v1/100001/hrm/Costcenters?$select=ID,Code,Active&$skiptoken=guid'x'"
    answers = Recorder([page([cost_center(1)], nxt), unknown("Active"), page([cost_center(2)])])
    exact, _, _, _ = client(answers, kit)
    pages = await collect(exact, c.Entity.COST_CENTERS)
    assert answers.requests[2].url.params["$select"] == "ID,Code"
    assert answers.requests[2].url.params["$skiptoken"] == "guid'x'"
    assert [p.dropped for p in pages] == [(), ("Active",)]


async def test_two_retired_fields_cost_one_extra_call_each(kit: Any) -> None:
    answers = Recorder([unknown("Active"), unknown("EndDate"), page([cost_center(1)])])
    exact, _, _, _ = client(answers, kit)
    [only] = await collect(exact, c.Entity.COST_CENTERS)
    assert only.dropped == ("Active", "EndDate") and len(answers.requests) == 3


async def test_a_required_field_exact_does_not_know_fails_the_entity(kit: Any) -> None:
    answers = Recorder([unknown("Code")])
    exact, _, _, _ = client(answers, kit)
    with pytest.raises(RequiredFieldUnknown, match="Code"):
        await collect(exact, c.Entity.COST_CENTERS)
    assert len(answers.requests) == 1


async def test_an_unknown_field_we_did_not_select_is_an_ordinary_400(kit: Any) -> None:
    answers = Recorder([unknown("Nonsense")])
    exact, _, _, _ = client(answers, kit)
    with pytest.raises(ExactRequestRejected):
        await collect(exact, c.Entity.COST_CENTERS)


async def test_int64_values_are_read_from_strings_and_numbers(kit: Any) -> None:
    rows = [{**gl(1), "Timestamp": "101"}, {**gl(2), "Timestamp": 102}]
    answers = Recorder([page(rows)])
    exact, _, _, _ = client(answers, kit)
    [only] = await collect(exact)
    assert [r.timestamp for r in only.rows] == [101, 102]  # type: ignore[attr-defined]
    assert only.stats.max_timestamp == 102


async def test_entry_header_rows_of_sync_transaction_lines_are_not_lines(kit: Any) -> None:
    def line(n: int, number: int) -> dict[str, Any]:
        return {"ID": str(uuid.UUID(int=n)), "EntryID": str(uuid.UUID(int=99)), "Division": 1,
                "LineNumber": number, "Date": "/Date(1672531200000)/", "FinancialYear": 2023,
                "FinancialPeriod": 1, "AmountDC": "10.00", "Timestamp": str(200 + n)}
    answers = Recorder([page([line(1, 0), line(2, 1), line(3, 2)])])
    exact, _, _, _ = client(answers, kit)
    [only] = await collect(exact, c.Entity.TRANSACTION_LINES)
    assert [r.line_number for r in only.rows] == [1, 2]  # type: ignore[attr-defined]


async def test_an_empty_division_of_a_general_taxonomy_is_the_division_read_from(kit: Any
                                                                                  ) -> None:
    row = {"ID": str(uuid.UUID(int=5)), "Code": "BS", "Division": None, "Timestamp": 7}
    answers = Recorder([page([row])])
    exact, _, _, _ = client(answers, kit)
    [only] = await collect(exact, c.Entity.GL_CLASSIFICATIONS)
    assert only.rows[0].division == 100001  # type: ignore[attr-defined]
