"""Value objects of the data-source lifecycle: states, bindings, pending authorizations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from datasource.domain import events as ev

DIVISION_ALREADY_CONNECTED = "division_already_connected"


class State(StrEnum):
    AWAITING_AUTHORIZATION = "awaiting_authorization"
    AUTHORIZATION_FAILED = "authorization_failed"
    CONNECTED = "connected"
    RECREATING = "recreating"
    NEEDS_REAUTHORIZATION = "needs_reauthorization"


@dataclass(frozen=True)
class CompanyDomain:
    id: UUID
    name: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Binding:
    """The division a data source is connected to and the grant that reads it."""

    division: int
    division_name: str
    grant_id: UUID
    authorized_by: str
    connected_at: datetime


@dataclass(frozen=True)
class AuthorizationLink:
    fetch_url: str
    expires_at: datetime
    issued_at: datetime


@dataclass(frozen=True)
class PendingAuthorization:
    authorization_id: UUID
    purpose: ev.Purpose
    mode: ev.Mode
    requested_by: str
    requested_at: datetime
    resume_state: State
    """Where the data source goes when this authorization does not connect it."""
    link: AuthorizationLink | None = None


@dataclass(frozen=True)
class AuthorizationFailure:
    authorization_id: UUID
    purpose: ev.Purpose
    code: str
    reason: str
    at: datetime
    offered_division: int | None = None


@dataclass(frozen=True)
class RecreateRejection:
    authorization_id: UUID
    offered_division: int
    offered_division_name: str
    offered_grant_id: UUID
    reason: str
    at: datetime


@dataclass(frozen=True)
class Reauthorization:
    grant_id: UUID
    reason: str
    at: datetime


@dataclass(frozen=True)
class OfferedGrant:
    """What auth reports in ``ExactAuthorized``."""

    authorization_id: UUID
    grant_id: UUID
    division: int
    division_name: str
    authorized_by: str
