"""Ingest uses a grant only for a run datasource signed: a forged or altered run request goes
to the dead-letter topic with the reason, and Exact and auth are never asked."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import contracts as c
from connector_runtime.devstack.testing import read_records, signed_claim
from connector_runtime.messaging.broker import dlq_reason

pytestmark = pytest.mark.integration


async def test_run_requests_without_datasources_signature_are_dead_lettered(
        make_sandbox: Any, make_world: Any) -> None:
    world = make_world(make_sandbox(lines=100))
    await world.start_app()
    victim, attacker, grant = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    world.auth.add(grant, await world.sandbox.grant(), world.sandbox.division)
    division = world.sandbox.division

    def request(datasource_id: uuid.UUID, claim: str | None) -> c.InitialRunRequested:
        return c.InitialRunRequested.create(datasource_id=datasource_id, payload=(
            c.InitialRunRequestedPayload(run_id=uuid.uuid4(), division=division, grant_id=grant,
                                         entities=(c.Entity.GL_ACCOUNTS,), grant_claim=claim)))

    forged = [request(attacker, None),  # no claim
              request(attacker, signed_claim(victim, grant, division)),  # the victim's claim
              request(attacker, "test.AAAA")]  # a made-up signature
    await world.publish(c.INGEST_REQUESTS, *forged)
    ids = {str(m.message_id) for m in forged}

    def all_dead(records: list[Any]) -> bool:
        return ids <= {r.value and c.parse_message(c.INGEST_REQUESTS, r.value).message_id.__str__()
                       for r in records}

    records = await read_records(world.infra.kafka_bootstrap_servers,
                                 c.dead_letter_topic(c.INGEST_REQUESTS), all_dead, timeout=30)
    reasons = [dlq_reason(r.headers) or "" for r in records
               if str(c.parse_message(c.INGEST_REQUESTS, r.value).message_id) in ids]
    assert len(reasons) == 3 and all(r.startswith("invalid message: ") and "grant claim" in r
                                     for r in reasons), reasons
    assert world.auth.token_requests == 0
    for message in forged:
        assert await world.run_row(message.payload.run_id) is None
