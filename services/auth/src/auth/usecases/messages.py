"""Domain events -> contract messages (the only place the two meet)."""

from __future__ import annotations

import uuid
from typing import Protocol

import contracts as c
from auth.domain.events import (
    Authorized,
    DomainEvent,
    Failed,
    GrantExpiring,
    GrantRevoked,
    LinkIssued,
)
from auth.ports import UnitOfWork
from contracts import AUTH_EVENTS


def link_fetch_url(internal_base_url: str, authorization_id: uuid.UUID) -> str:
    return f"{internal_base_url}/internal/authorizations/{authorization_id}/link"


def to_message(event: DomainEvent, *, datasource_id: uuid.UUID, correlation_id: uuid.UUID,
               internal_base_url: str) -> c.Message:
    envelope = {"datasource_id": datasource_id, "correlation_id": correlation_id}
    if isinstance(event, LinkIssued):
        return c.AuthorizationLinkIssued.create(**envelope, payload=c.AuthorizationLinkIssuedPayload(
            authorization_id=event.authorization_id,
            purpose=event.purpose,  # type: ignore[arg-type]
            mode=event.mode,  # type: ignore[arg-type]
            fetch_url=link_fetch_url(internal_base_url, event.authorization_id),
            expires_at=event.expires_at,
        ))
    if isinstance(event, Authorized):
        return c.ExactAuthorized.create(**envelope, payload=c.ExactAuthorizedPayload(
            authorization_id=event.authorization_id,
            purpose=event.purpose,  # type: ignore[arg-type]
            grant_id=event.grant_id,
            division=event.division,
            division_name=event.division_name,
            exact_user_id=event.exact_user_id,
            exact_user_name=event.exact_user_name,
            authorized_at=event.authorized_at,
            vat_number=event.vat_number,
            company_verified=event.company_verified,
        ))
    if isinstance(event, Failed):
        return c.AuthorizationFailed.create(**envelope, payload=c.AuthorizationFailedPayload(
            authorization_id=event.authorization_id,
            purpose=event.purpose,  # type: ignore[arg-type]
            reason_code=event.code,  # type: ignore[arg-type]
            reason=event.reason,
        ))
    if isinstance(event, GrantRevoked):
        return c.GrantRevoked.create(**envelope, payload=c.GrantRevokedPayload(
            grant_id=event.grant_id, division=event.division, reason=event.reason,
        ))
    if isinstance(event, GrantExpiring):
        return c.GrantExpiring.create(**envelope, payload=c.GrantExpiringPayload(
            grant_id=event.grant_id, division=event.division,
            refresh_expires_at=event.refresh_expires_at, reason=event.reason,
        ))
    raise TypeError(f"no message for {type(event).__name__}")


class _HasEvents(Protocol):
    datasource_id: uuid.UUID
    correlation_id: uuid.UUID
    events: list[DomainEvent]


async def publish_events(uow: UnitOfWork, entity: _HasEvents, internal_base_url: str) -> None:
    """Move an entity's recorded events into the transaction's outbox."""
    events, entity.events = list(entity.events), []
    if events:
        await uow.publish(AUTH_EVENTS, *(
            to_message(e, datasource_id=entity.datasource_id,
                       correlation_id=entity.correlation_id, internal_base_url=internal_base_url)
            for e in events
        ))
