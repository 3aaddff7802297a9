"""Lifecycle events of data sources, published by the datasource service."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from contracts.common import AuthorizationMode, Division, Entity, NonEmptyStr
from contracts.envelope import Message, WireModel


class DataSourceCreatedPayload(WireModel):
    provider: Literal["exact_online"] = "exact_online"
    company_domain_id: uuid.UUID
    company_domain_name: str
    company_domain_created: bool
    authorization_mode: AuthorizationMode
    requested_by: NonEmptyStr


class DataSourceCreated(Message):
    type: Literal["DataSourceCreated"] = "DataSourceCreated"
    payload: DataSourceCreatedPayload


class DataSourceConnectedPayload(WireModel):
    """The data source is bound to this division from now on."""

    company_domain_id: uuid.UUID
    division: Division
    division_name: str
    grant_id: uuid.UUID


class DataSourceConnected(Message):
    type: Literal["DataSourceConnected"] = "DataSourceConnected"
    payload: DataSourceConnectedPayload


class RecreateAcceptedPayload(WireModel):
    """Reconnected to the same division; the new grant replaces the old one."""

    division: Division
    grant_id: uuid.UUID
    previous_grant_id: uuid.UUID | None


class RecreateAccepted(Message):
    type: Literal["RecreateAccepted"] = "RecreateAccepted"
    payload: RecreateAcceptedPayload


class RecreateRejectedPayload(WireModel):
    """Reconnected to another division: refused, the data source stays as it was."""

    bound_division: Division
    offered_division: Division
    offered_grant_id: uuid.UUID
    reason: str


class RecreateRejected(Message):
    type: Literal["RecreateRejected"] = "RecreateRejected"
    payload: RecreateRejectedPayload


class DataSourceNeedsReauthorizationPayload(WireModel):
    division: Division
    grant_id: uuid.UUID
    reason: str


class DataSourceNeedsReauthorization(Message):
    type: Literal["DataSourceNeedsReauthorization"] = "DataSourceNeedsReauthorization"
    payload: DataSourceNeedsReauthorizationPayload


CommandRejectionCode = Literal[
    "unknown_company_domain",
    "unknown_datasource",
    "datasource_exists",
    "not_connected",
    "invalid_state",
    "invalid_command",
]


class CommandRejectedPayload(WireModel):
    """A portal command was valid JSON but could not be carried out, and why."""

    command_type: str
    command_message_id: uuid.UUID
    reason_code: CommandRejectionCode
    reason: str


class CommandRejected(Message):
    type: Literal["CommandRejected"] = "CommandRejected"
    payload: CommandRejectedPayload


RunKind = Literal["initial", "reimport", "incremental"]


class InitialRunRequestedPayload(WireModel):
    """Ingest should import the division's data (all entities unless named)."""

    run_id: uuid.UUID
    kind: RunKind = "initial"
    division: Division
    grant_id: uuid.UUID
    entities: tuple[Entity, ...]
    date_from: date | None = None
    date_to: date | None = None


class InitialRunRequested(Message):
    type: Literal["InitialRunRequested"] = "InitialRunRequested"
    payload: InitialRunRequestedPayload
