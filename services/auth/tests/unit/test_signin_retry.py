"""Sign-in survives Exact's transient faults within the request: the REST look-ups and the
single-use code exchange are retried (httpx.MockTransport), and Exact's own words of a
declined sign-in reach the reason, cleaned and bounded."""

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from auth.adapters.exact import ExactClient
from auth.adapters.retry import RetryPolicy
from auth.domain.errors import CodeAnswerLost, ExactRejected, ExactUnavailable
from auth.usecases.signin import EXACT_WORDS_MAX, declined_reason

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
USER_ID = "a0b1c2d3-0000-4000-8000-000000000001"
ME = {"d": {"results": [{"UserID": USER_ID, "UserName": "anna", "FullName": "Anna",
                         "CurrentDivision": 100001}]}}
TOKENS = {"access_token": "A", "token_type": "bearer", "expires_in": "600", "refresh_token": "R"}
Answer = httpx.Response | Exception


def client(answers: list[Answer], slept: list[float], attempts: int = 4
           ) -> tuple[ExactClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    exact = ExactClient(client_id="cid", client_secret="cs", redirect_uri="https://a/cb",
                        base_urls={"NL": "https://start.exactonline.nl"}, clock=lambda: NOW,
                        transport=httpx.MockTransport(handle),
                        retry=RetryPolicy(attempts=attempts, backoff=0.3), sleep=sleep)
    return exact, seen


def broken(status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=b'{"d": {"results": [{"UserID": "a0',
                          headers={"Content-Type": "application/json"})


Fault = Callable[[], Answer]
FAULTS: dict[str, Fault] = {
    "5xx": lambda: httpx.Response(503, json={"error": {}}),
    "timeout": lambda: httpx.ReadTimeout("slow"),
    "dropped": lambda: httpx.RemoteProtocolError("peer closed connection"),
    "broken json": broken,
}


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_look_up_is_retried_after_a_transient_fault(fault: str) -> None:
    slept: list[float] = []
    exact, seen = client([FAULTS[fault](), FAULTS[fault](), httpx.Response(200, json=ME)], slept)
    user = await exact.current_user("NL", "AT")
    assert user.user_name == "anna" and len(seen) == 3
    assert len(slept) == 2 and all(0 < s <= 3.0 for s in slept)


async def test_a_look_up_that_keeps_failing_is_unavailable_after_the_last_try() -> None:
    slept: list[float] = []
    exact, seen = client([FAULTS["5xx"]() for _ in range(4)], slept)
    with pytest.raises(ExactUnavailable):
        await exact.current_user("NL", "AT")
    assert len(seen) == 4 and len(slept) == 3


async def test_a_refusal_is_not_retried() -> None:
    slept: list[float] = []
    exact, seen = client([httpx.Response(403, json={"error": {}})], slept)
    with pytest.raises(ExactRejected):
        await exact.current_user("NL", "AT")
    assert len(seen) == 1 and slept == []


@pytest.mark.parametrize("fault", [
    lambda: httpx.Response(502, json={"error": "server_error"}),
    lambda: httpx.ConnectError("connection refused"),
])
async def test_a_code_exchange_exact_did_not_take_is_retried(fault: Fault) -> None:
    slept: list[float] = []
    exact, seen = client([fault(), httpx.Response(200, json=TOKENS)], slept)
    tokens = await exact.exchange_code("NL", "the-code")
    assert tokens.access_token == "A" and len(seen) == 2 and len(slept) == 1


@pytest.mark.parametrize("fault", ["timeout", "dropped", "broken json"])
async def test_a_lost_exchange_answer_is_retried_and_a_used_code_then_explained(fault: str) -> None:
    slept: list[float] = []
    exact, _ = client([FAULTS[fault](), httpx.Response(200, json=TOKENS)], slept)
    assert (await exact.exchange_code("NL", "c")).refresh_token == "R"  # Exact had not used it
    exact, _ = client([FAULTS[fault](), httpx.Response(
        400, json={"error": "invalid_grant", "error_description": "already used"})], slept)
    with pytest.raises(CodeAnswerLost):
        await exact.exchange_code("NL", "c")


async def test_a_refused_code_at_the_first_try_is_rejected_without_retry() -> None:
    slept: list[float] = []
    exact, seen = client([httpx.Response(400, json={"error": "invalid_grant"})], slept)
    with pytest.raises(ExactRejected) as refused:
        await exact.exchange_code("NL", "c")
    assert not isinstance(refused.value, CodeAnswerLost)
    assert len(seen) == 1 and slept == []


def test_exacts_words_of_a_decline_are_kept_cleaned_and_bounded() -> None:
    said = declined_reason("User <b>anna</b> has no\naccess to this\x07 country")
    assert "“User b anna /b has no access to this country”" in said
    assert "<" not in said and "\n" not in said and "\x07" not in said
    long = declined_reason("x" * 5000)
    assert "x" * EXACT_WORDS_MAX not in long and "x" * (EXACT_WORDS_MAX - 1) + "…" in long
    assert "another country" in declined_reason(None) and "said" not in declined_reason(None)


async def test_a_429_is_waited_out_when_the_window_resets_soon() -> None:
    slept: list[float] = []
    reset_ms = str(int((NOW.timestamp() + 12) * 1000))
    limited = httpx.Response(429, json={"error": {}},
                             headers={"X-RateLimit-Minutely-Reset": reset_ms})
    exact, seen = client([limited, httpx.Response(200, json=ME)], slept)
    assert (await exact.current_user("NL", "AT")).user_name == "anna"
    assert len(seen) == 2 and 12 <= slept[0] <= 13


async def test_a_429_for_longer_fails_at_once() -> None:
    slept: list[float] = []
    reset_ms = str(int((NOW.timestamp() + 3600) * 1000))
    limited = httpx.Response(429, json={"error": {}}, headers={"X-RateLimit-Reset": reset_ms})
    exact, seen = client([limited], slept)
    with pytest.raises(ExactUnavailable):
        await exact.current_user("NL", "AT")
    assert len(seen) == 1 and slept == []
