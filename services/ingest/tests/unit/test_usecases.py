"""Subscribers' use cases: record, never run; wake the scheduler only for something new."""

from __future__ import annotations

import typing
import uuid

import contracts as c
from ingest import usecases
from ingest.subscribers import DatasourceEvent


class FakeRequests:
    def __init__(self, outcome: str = "recorded", resumed: int = 1) -> None:
        self.outcome, self.resumed = outcome, resumed
        self.seen: list[tuple[str, c.Message]] = []

    async def record_request(self, consumer: str, message: c.InitialRunRequested) -> str:
        self.seen.append((consumer, message))
        return self.outcome

    async def apply_recreate(self, consumer: str, message: c.RecreateAccepted) -> int:
        self.seen.append((consumer, message))
        return self.resumed


def requested() -> c.InitialRunRequested:
    return c.InitialRunRequested.create(datasource_id=uuid.uuid4(), payload=c.InitialRunRequestedPayload(
        run_id=uuid.uuid4(), division=100001, grant_id=uuid.uuid4(), entities=c.ALL_ENTITIES))


async def test_a_requested_run_is_recorded_and_the_scheduler_woken() -> None:
    store, woken = FakeRequests(), []
    assert await usecases.record_run_request(store, requested(), lambda: woken.append(1)) == "recorded"
    assert woken == [1] and store.seen[0][0] == usecases.RUN_REQUESTS_CONSUMER


async def test_a_redelivered_request_changes_nothing() -> None:
    store, woken = FakeRequests("duplicate"), []
    await usecases.record_run_request(store, requested(), lambda: woken.append(1))
    assert woken == []


async def test_a_recreate_resuming_paused_runs_wakes_the_scheduler() -> None:
    store, woken = FakeRequests(resumed=2), []
    accepted = c.RecreateAccepted.create(datasource_id=uuid.uuid4(), payload=c.RecreateAcceptedPayload(
        division=100001, grant_id=uuid.uuid4(), previous_grant_id=uuid.uuid4()))
    assert await usecases.switch_to_new_grant(store, accepted, lambda: woken.append(1)) == 2
    assert woken == [1]


def test_the_datasource_subscriber_accepts_every_message_of_its_topic() -> None:
    union = typing.get_args(typing.get_args(DatasourceEvent)[0])
    assert set(union) == set(c.TOPIC_MESSAGES[c.DATASOURCE_EVENTS])
