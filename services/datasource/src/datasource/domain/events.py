"""Domain events: what a state change announces, recorded by the aggregates.

They are plain values; ``datasource.usecases.messages`` turns them into contract messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal
from uuid import UUID

Mode = Literal["self", "share"]
Purpose = Literal["create", "recreate"]


@dataclass(frozen=True)
class DataSourceCreated:
    datasource_id: UUID
    company_domain_id: UUID
    company_domain_name: str
    company_domain_created: bool
    mode: Mode
    requested_by: str


@dataclass(frozen=True)
class AuthorizationRequested:
    datasource_id: UUID
    authorization_id: UUID
    purpose: Purpose
    mode: Mode
    company_domain_id: UUID
    company_domain_name: str
    requested_by: str
    bound_division: int | None
    expected_division: int | None = None
    expected_vat_number: str | None = None


@dataclass(frozen=True)
class DataSourceConnected:
    datasource_id: UUID
    company_domain_id: UUID
    division: int
    division_name: str
    grant_id: UUID
    authorized_by: str | None = None
    vat_number: str | None = None
    company_verified: bool = False
    awaiting_confirmation: bool = False


@dataclass(frozen=True)
class ConnectionConfirmed:
    datasource_id: UUID
    division: int
    grant_id: UUID
    run_id: UUID
    confirmed_by: str


@dataclass(frozen=True)
class Disowned:
    """"Not my company": disconnected; auth revokes the grant."""

    datasource_id: UUID
    division: int
    division_name: str
    grant_id: UUID
    disowned_by: str
    reason: str
    state: str


@dataclass(frozen=True)
class Purged:
    """Downstream consumers drop the rows of these runs."""

    datasource_id: UUID
    run_ids: tuple[UUID, ...]
    division: int
    reason: str


@dataclass(frozen=True)
class RunRequested:
    datasource_id: UUID
    run_id: UUID
    kind: str
    division: int
    grant_id: UUID
    entities: tuple[str, ...]
    date_from: date | None
    date_to: date | None


@dataclass(frozen=True)
class RecreateAccepted:
    datasource_id: UUID
    division: int
    grant_id: UUID
    previous_grant_id: UUID | None


@dataclass(frozen=True)
class RecreateRejected:
    datasource_id: UUID
    bound_division: int
    offered_division: int
    offered_grant_id: UUID
    reason: str


@dataclass(frozen=True)
class AuthorizationFailed:
    """An authorization ended without connecting; ``state`` is the data source's state after."""

    datasource_id: UUID
    authorization_id: UUID
    purpose: Purpose
    code: str
    reason: str
    state: str
    offered_division: int | None = None
    offered_grant_id: UUID | None = None


@dataclass(frozen=True)
class NeedsReauthorization:
    datasource_id: UUID
    division: int
    grant_id: UUID
    reason: str


Event = (
    DataSourceCreated
    | AuthorizationRequested
    | DataSourceConnected
    | RunRequested
    | RecreateAccepted
    | RecreateRejected
    | AuthorizationFailed
    | NeedsReauthorization
    | ConnectionConfirmed
    | Disowned
    | Purged
)
