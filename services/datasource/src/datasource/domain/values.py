"""Value objects of the data-source lifecycle: states, bindings, pending authorizations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from datasource.domain import events as ev

DIVISION_ALREADY_CONNECTED = "division_already_connected"
UNEXPECTED_COMPANY = "unexpected_company"
NOT_MY_COMPANY = "not_my_company"


class State(StrEnum):
    AWAITING_AUTHORIZATION = "awaiting_authorization"
    AUTHORIZATION_FAILED = "authorization_failed"
    CONNECTED = "connected"
    RECREATING = "recreating"
    NEEDS_REAUTHORIZATION = "needs_reauthorization"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    """Connected to a company nobody named in advance (policy ``confirm``): the initial run
    waits until the customer confirms it is theirs, or says it is not (disown)."""


def normal_vat(value: str | None) -> str:
    """A VAT number compared without case, spaces, dots and dashes."""
    return "".join(ch for ch in (value or "").upper() if ch.isalnum())


@dataclass(frozen=True)
class ExpectedCompany:
    """The company an authorization must connect: division code and/or VAT number."""

    division: int | None = None
    vat_number: str | None = None

    def matches(self, division: int, vat_number: str | None) -> bool:
        if self.division is not None and division != self.division:
            return False
        return self.vat_number is None or (
            bool(normal_vat(vat_number)) and normal_vat(vat_number) == normal_vat(self.vat_number))


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
    vat_number: str | None = None
    verified: bool = False
    """The company was named in advance (expected company) and matched."""


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
    expected: ExpectedCompany | None = None


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
    vat_number: str | None = None
    company_verified: bool = False
