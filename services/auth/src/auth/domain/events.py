"""Domain events; the use cases turn them into contract messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LinkIssued:
    authorization_id: uuid.UUID
    purpose: str
    mode: str
    expires_at: datetime


@dataclass(frozen=True)
class Authorized:
    authorization_id: uuid.UUID
    purpose: str
    grant_id: uuid.UUID
    division: int
    division_name: str
    exact_user_id: uuid.UUID
    exact_user_name: str
    authorized_at: datetime
    vat_number: str | None = None
    company_verified: bool = False


@dataclass(frozen=True)
class Failed:
    authorization_id: uuid.UUID
    purpose: str
    code: str
    reason: str


@dataclass(frozen=True)
class GrantRevoked:
    grant_id: uuid.UUID
    division: int
    reason: str


@dataclass(frozen=True)
class GrantExpiring:
    grant_id: uuid.UUID
    division: int
    refresh_expires_at: datetime
    reason: str


DomainEvent = LinkIssued | Authorized | Failed | GrantRevoked | GrantExpiring
