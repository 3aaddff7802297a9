"""Domain events to contract messages, each with the topic it goes to.

Every message keeps the correlation id of the message that caused it, so one id
follows a data source from the portal command to the last ledger batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import contracts as c
from datasource.domain import events as ev
from datasource.ports import GrantClaims


def to_messages(events: Iterable[ev.Event], correlation_id: UUID, claims: GrantClaims
                ) -> list[tuple[str, c.Message]]:
    """``claims`` signs the grant claim of run requests and accepted recreates."""
    return [_message(e, correlation_id, claims) for e in events]


def _message(e: ev.Event, correlation_id: UUID, claims: GrantClaims) -> tuple[str, c.Message]:
    def make(cls: type[c.Message], payload: c.WireModel) -> c.Message:
        return cls.create(datasource_id=e.datasource_id, correlation_id=correlation_id,
                          payload=payload)

    match e:
        case ev.DataSourceCreated():
            return c.DATASOURCE_EVENTS, make(c.DataSourceCreated, c.DataSourceCreatedPayload(
                company_domain_id=e.company_domain_id, company_domain_name=e.company_domain_name,
                company_domain_created=e.company_domain_created, authorization_mode=e.mode,
                requested_by=e.requested_by))
        case ev.AuthorizationRequested():
            return c.AUTH_REQUESTS, make(c.AuthorizationRequested, c.AuthorizationRequestedPayload(
                authorization_id=e.authorization_id, purpose=e.purpose, mode=e.mode,
                company_domain_id=e.company_domain_id, company_domain_name=e.company_domain_name,
                requested_by=e.requested_by, bound_division=e.bound_division,
                expected_company=None if e.expected_division is None and e.expected_vat_number is None
                else c.ExpectedCompany(division=e.expected_division, vat_number=e.expected_vat_number)))
        case ev.DataSourceConnected():
            return c.DATASOURCE_EVENTS, make(c.DataSourceConnected, c.DataSourceConnectedPayload(
                company_domain_id=e.company_domain_id, division=e.division,
                division_name=e.division_name, grant_id=e.grant_id, authorized_by=e.authorized_by,
                vat_number=e.vat_number, company_verified=e.company_verified,
                awaiting_confirmation=e.awaiting_confirmation))
        case ev.ConnectionConfirmed():
            return c.DATASOURCE_EVENTS, make(c.ConnectionConfirmed, c.ConnectionConfirmedPayload(
                division=e.division, grant_id=e.grant_id, run_id=e.run_id,
                confirmed_by=e.confirmed_by))
        case ev.Disowned():
            return c.DATASOURCE_EVENTS, make(c.DataSourceDisowned, c.DataSourceDisownedPayload(
                division=e.division, division_name=e.division_name, grant_id=e.grant_id,
                disowned_by=e.disowned_by, reason=e.reason,
                state=e.state))  # type: ignore[arg-type]
        case ev.Purged():
            return c.LEDGER_BATCHES, make(c.DataSourcePurged, c.DataSourcePurgedPayload(
                run_ids=e.run_ids, division=e.division, reason=e.reason))
        case ev.RunRequested():
            return c.INGEST_REQUESTS, make(c.InitialRunRequested, c.InitialRunRequestedPayload(
                run_id=e.run_id, kind=e.kind, division=e.division,  # type: ignore[arg-type]
                grant_id=e.grant_id, entities=tuple(c.Entity(x) for x in e.entities),
                date_from=e.date_from, date_to=e.date_to,
                grant_claim=claims.sign(e.datasource_id, e.grant_id, e.division)))
        case ev.RecreateAccepted():
            return c.DATASOURCE_EVENTS, make(c.RecreateAccepted, c.RecreateAcceptedPayload(
                division=e.division, grant_id=e.grant_id, previous_grant_id=e.previous_grant_id,
                grant_claim=claims.sign(e.datasource_id, e.grant_id, e.division)))
        case ev.RecreateRejected():
            return c.DATASOURCE_EVENTS, make(c.RecreateRejected, c.RecreateRejectedPayload(
                bound_division=e.bound_division, offered_division=e.offered_division,
                offered_grant_id=e.offered_grant_id, reason=e.reason))
        case ev.AuthorizationFailed():
            return c.DATASOURCE_EVENTS, make(
                c.DataSourceAuthorizationFailed, c.DataSourceAuthorizationFailedPayload(
                    authorization_id=e.authorization_id, purpose=e.purpose,
                    reason_code=e.code,  # type: ignore[arg-type]
                    reason=e.reason, state=e.state,  # type: ignore[arg-type]
                    offered_division=e.offered_division, offered_grant_id=e.offered_grant_id))
        case ev.NeedsReauthorization():
            return c.DATASOURCE_EVENTS, make(
                c.DataSourceNeedsReauthorization, c.DataSourceNeedsReauthorizationPayload(
                    division=e.division, grant_id=e.grant_id, reason=e.reason))
    raise TypeError(f"no message for domain event {type(e).__name__}")


def command_rejected(command: c.Message, code: str, reason: str) -> c.CommandRejected:
    return command.caused(c.CommandRejected, c.CommandRejectedPayload(
        command_type=command.type, command_message_id=command.message_id,
        reason_code=code, reason=reason))  # type: ignore[arg-type]
