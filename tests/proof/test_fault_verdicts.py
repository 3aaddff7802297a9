"""The fault suite's verdicts, fed with data of a system that misbehaves: they must FAIL.

R5 judges dead letters against the groups the deployment declares (not against the groups
that showed up in the dead-letter topics); R1/R4 judge page fetches from the sandbox's
access log; R4 explains how long a withdrawal took to notice from ingest's log.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

from bench.access import PAGES_IN_FLIGHT, Call, between, refetches
from bench.deployment import consumer_groups
from bench.faults import hostile
from bench.faults.dead_letters import verdict
from bench.faults.revoke import same_token_waits
from ingest import pipeline as ingest_pipeline

TOPIC = "exact.datasource.events"
GROUPS = {"exact-auth", "exact-ingest.datasource-events"}


def _sent(n: int) -> dict[tuple[str, int, int], tuple[str, str]]:
    return {(TOPIC, 0, offset): (TOPIC, "not_json") for offset in range(n)}


def test_every_group_dead_lettering_every_message_passes() -> None:
    sent = _sent(3)
    dlq = {key: [(g, "not JSON") for g in sorted(GROUPS)] for key in sent}
    judged = verdict(sent, dlq, {TOPIC: GROUPS})
    assert judged.failures() == [] and judged.pct == 100.0


def test_a_consumer_that_drops_a_hostile_message_makes_r5_fail() -> None:
    sent = _sent(3)
    # exact-ingest.datasource-events swallowed offset 1: no dead letter from it, no error
    dlq = {key: [(g, "not JSON") for g in sorted(GROUPS)
                 if not (key[2] == 1 and g == "exact-ingest.datasource-events")] for key in sent}
    judged = verdict(sent, dlq, {TOPIC: GROUPS})
    assert judged.missing == [(TOPIC, "not_json", ("exact-ingest.datasource-events",))]
    assert judged.failures() and judged.pct < 100


def test_a_consumer_that_drops_every_message_makes_r5_fail() -> None:
    """The old check took the groups from the dead letters: a group never seen there was
    never expected, and this passed."""
    sent = _sent(3)
    dlq = {key: [("exact-auth", "not JSON")] for key in sent}
    judged = verdict(sent, dlq, {TOPIC: GROUPS})
    assert len(judged.missing) == 3 and judged.pct == 0.0 and judged.failures()


def test_dead_letters_without_a_reason_or_from_unknown_groups_fail() -> None:
    sent = _sent(1)
    assert verdict(sent, {k: [(g, "") for g in GROUPS] for k in sent}, {TOPIC: GROUPS}).failures()
    extra = {k: [(g, "bad") for g in (*GROUPS, "someone-else")] for k in sent}
    assert verdict(sent, extra, {TOPIC: GROUPS}).unexpected_groups == {"someone-else"}
    assert verdict(sent, {}, {}).unconsumed_topics == {TOPIC}


def test_expected_groups_come_from_the_services_declared_subscriptions() -> None:
    groups = consumer_groups(dict(os.environ))
    assert groups[TOPIC] == GROUPS
    assert groups["exact.auth.requests"] == {"exact-auth"}
    # R5 attacks every topic a service consumes
    assert set(groups) == set(hostile._templates())


def _call(seq: int, query: str, status: int = 200, at: float = 100.0) -> Call:
    return Call(seq, at, 300001, "bulk/Financial/TransactionLines", query, status, "ingest")


def test_pages_fetched_again_beyond_the_pages_in_flight_fail() -> None:
    calls = [_call(1, "a"), _call(2, "b"), _call(3, "b"), _call(4, "c"), _call(5, "d")]
    assert refetches(calls, interruptions=1).ok
    # the pipeline's pages in flight fetched again after one kill: allowed
    in_flight = [*calls, _call(6, "c"), _call(7, "d")]
    assert refetches(in_flight, interruptions=1).ok
    # a resume from an old checkpoint: a, c and d fetched again as well
    again = [*in_flight, _call(8, "a")]
    judged = refetches(again, interruptions=1)
    assert not judged.ok and judged.extra == PAGES_IN_FLIGHT + 1
    assert (f"{PAGES_IN_FLIGHT + 1} pages fetched again, at most {PAGES_IN_FLIGHT} allowed"
            in judged.failure())
    assert refetches(again, interruptions=2).ok


def test_the_allowance_is_ingests_pipeline_depth() -> None:
    assert PAGES_IN_FLIGHT == ingest_pipeline.PAGES_IN_FLIGHT


def test_failed_answers_are_not_fetches_and_windows_cut_the_calls() -> None:
    calls = [_call(1, "a"), _call(2, "a", status=429), _call(3, "a", status=401)]
    assert refetches(calls, interruptions=0).ok
    t0 = datetime.fromtimestamp(100, UTC)
    timed = [_call(1, "a", at=99.0), _call(2, "a", at=100.5), _call(3, "a", at=105.0)]
    assert [c.seq for c in between(timed, start=t0)] == [2, 3]
    assert [c.seq for c in between(timed, start=t0, exclude=[(t0, t0 + timedelta(seconds=1))])
            ] == [3]


def _ingest_line(event: str, at: str, division: int = 200002, **fields: object) -> str:
    """One record as ingest logs it (structlog JSON, UTC ``Z`` timestamps)."""
    return json.dumps({**fields, "event": event, "division": division, "service": "ingest",
                       "level": "info", "timestamp": at})


def test_r4_counts_the_same_token_waits_of_its_company_between_withdrawal_and_notice() -> None:
    start = datetime(2026, 12, 7, 3, 15, 22, 400000, UTC)
    end = start + timedelta(seconds=6.6)
    retry = "exact_unauthorized_retry_same_token"
    lines = [
        _ingest_line(retry, "2026-12-07T03:15:10.000000Z", retry_in=2.0),  # before: another 401
        _ingest_line(retry, "2026-12-07T03:15:22.632552Z", retry_in=2.0),
        _ingest_line(retry, "2026-12-07T03:15:23.000000Z", division=930009, retry_in=2.0),
        "not json " + retry,
        _ingest_line(retry, "2026-12-07T03:15:24.688840Z", retry_in=4.0),
        _ingest_line("exact_token_refused", "2026-12-07T03:15:28.744995Z"),
        _ingest_line(retry, "2026-12-07T03:15:40.000000Z", retry_in=2.0),  # after the notice
    ]
    waits = same_token_waits(lines, 200002, start, end)
    assert (waits.retries, waits.seconds) == (2, 6.0)
    # a token in its last 30 s is reported refused at once: nothing waited
    assert same_token_waits(lines[5:6], 200002, start, end).retries == 0
