"""Domain events: what a state change announces, recorded by the aggregates.

They are plain values; ``datasource.outgoing`` turns them into contract messages.
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


@dataclass(frozen=True)
class DataSourceConnected:
    datasource_id: UUID
    company_domain_id: UUID
    division: int
    division_name: str
    grant_id: UUID


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
)
