"""Every domain event becomes a valid contract message on the right topic."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

import contracts as c
from connector_runtime.devstack.testing import TEST_CLAIM_SIGNING_KEY, TEST_CLAIM_VERIFY_KEYS
from connector_runtime.messaging.claims import ClaimSigner, ClaimVerifier
from datasource.domain import events as ev
from datasource.usecases import messages as outgoing

CLAIMS = ClaimSigner(TEST_CLAIM_SIGNING_KEY)
DS = uuid.uuid4()
U = uuid.uuid4()

CASES: list[tuple[ev.Event, str, type[c.Message]]] = [
    (ev.DataSourceCreated(DS, U, "Acme", True, "share", "anna"), c.DATASOURCE_EVENTS, c.DataSourceCreated),
    (ev.AuthorizationRequested(DS, U, "recreate", "self", U, "Acme", "anna", 101), c.AUTH_REQUESTS,
     c.AuthorizationRequested),
    (ev.DataSourceConnected(DS, U, 101, "Acme BV", U), c.DATASOURCE_EVENTS, c.DataSourceConnected),
    (ev.RunRequested(DS, U, "reimport", 101, U, ("GLAccounts",), date(2025, 1, 1), None), c.INGEST_REQUESTS,
     c.InitialRunRequested),
    (ev.RecreateAccepted(DS, 101, U, None), c.DATASOURCE_EVENTS, c.RecreateAccepted),
    (ev.RecreateRejected(DS, 101, 202, U, "other division"), c.DATASOURCE_EVENTS, c.RecreateRejected),
    (ev.AuthorizationFailed(DS, U, "create", "division_already_connected", "in use", "authorization_failed",
                            101, U), c.DATASOURCE_EVENTS, c.DataSourceAuthorizationFailed),
    (ev.NeedsReauthorization(DS, 101, U, "withdrawn"), c.DATASOURCE_EVENTS, c.DataSourceNeedsReauthorization),
]


@pytest.mark.parametrize(("event", "topic", "cls"), CASES, ids=lambda x: type(x).__name__)
def test_domain_event_maps_to_a_message_its_topic_accepts(event: ev.Event, topic: str,
                                                         cls: type[c.Message]) -> None:
    correlation = uuid.uuid4()
    ((got_topic, message),) = outgoing.to_messages([event], correlation, CLAIMS)
    assert got_topic == topic and isinstance(message, cls)
    assert message.datasource_id == DS and message.correlation_id == correlation
    assert c.parse_message(topic, message.to_bytes()) == message


def test_run_requested_carries_entities_and_dates() -> None:
    event = ev.RunRequested(DS, U, "reimport", 101, U, ("GLAccounts", "Journals"), date(2025, 1, 1),
                            date(2025, 3, 31))
    ((_, message),) = outgoing.to_messages([event], uuid.uuid4(), CLAIMS)
    assert isinstance(message, c.InitialRunRequested)
    assert message.payload.entities == (c.Entity.GL_ACCOUNTS, c.Entity.JOURNALS)
    assert (message.payload.date_from, message.payload.date_to) == (date(2025, 1, 1), date(2025, 3, 31))


def test_command_rejected_refers_to_the_command() -> None:
    command = c.RequestReimport.create(datasource_id=DS, payload=c.RequestReimportPayload(requested_by="x"))
    rejected = outgoing.command_rejected(command, "not_connected", "never connected")
    assert rejected.payload.command_message_id == command.message_id
    assert rejected.correlation_id == command.correlation_id and rejected.datasource_id == DS
    assert c.parse_message(c.DATASOURCE_EVENTS, rejected.to_bytes()) == rejected


def test_run_requests_and_accepted_recreates_carry_a_grant_claim_ingest_can_verify() -> None:
    verifier = ClaimVerifier(TEST_CLAIM_VERIFY_KEYS)
    for event in (ev.RunRequested(DS, U, "initial", 101, U, ("GLAccounts",), None, None),
                  ev.RecreateAccepted(DS, 101, U, None)):
        ((_, message),) = outgoing.to_messages([event], uuid.uuid4(), CLAIMS)
        p = message.payload
        verifier.verify(p.grant_claim, DS, p.grant_id, p.division)  # type: ignore[attr-defined]
