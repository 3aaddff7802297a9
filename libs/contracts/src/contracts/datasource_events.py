"""Lifecycle events of data sources, published by the datasource service."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Literal

from contracts.auth_events import AuthorizationFailureCode
from contracts.common import (
    ENTITIES_ADDED,
    AuthorizationMode,
    AuthorizationPurpose,
    Division,
    NonEmptyStr,
)
from contracts.envelope import Message, WireModel
from contracts.rows import Entity


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
    """The data source is bound to this division from now on.

    ``company_verified`` is False when no expected company was given: then the portal should
    show the customer which company was connected and by whom (``authorized_by``), so they
    can say "not my company" (DisownConnection). ``awaiting_confirmation``: the initial run
    waits for ConfirmConnection (policy ``confirm``).
    """

    company_domain_id: uuid.UUID
    division: Division
    division_name: str
    grant_id: uuid.UUID
    authorized_by: str | None = None
    """The Exact Online user name of who connected it."""
    vat_number: str | None = None
    company_verified: bool | None = None
    awaiting_confirmation: bool = False


class DataSourceConnected(Message):
    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["DataSourceConnected"] = "DataSourceConnected"
    payload: DataSourceConnectedPayload


class RecreateAcceptedPayload(WireModel):
    """Reconnected to the same division; the new grant replaces the old one."""

    division: Division
    grant_id: uuid.UUID
    previous_grant_id: uuid.UUID | None
    grant_claim: str | None = None
    """Datasource's signature over (datasource_id, grant_id, division); ingest switches runs
    to the new grant only when it verifies (connector_runtime.messaging.claims)."""


class RecreateAccepted(Message):
    SCHEMA_VERSION: ClassVar[int] = 2

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


DataSourceState = Literal[
    "awaiting_authorization",
    "authorization_failed",
    "connected",
    "recreating",
    "needs_reauthorization",
]
"""Lifecycle state of a data source, as the datasource service reports it."""

DataSourceAuthorizationFailureCode = Literal[AuthorizationFailureCode, "division_already_connected"]
"""Auth's failure codes, plus datasource's own refusal of a division already in use."""


class DataSourceAuthorizationFailedPayload(WireModel):
    """An authorization ended without connecting the data source; ``reason`` is for the portal.

    Either auth reported ``AuthorizationFailed`` (``reason_code`` is auth's code), or
    auth obtained a grant that datasource refused: ``division_already_connected`` means
    that division already backs another data source of the company domain. Then
    ``offered_grant_id`` names the refused grant and auth discards its tokens.
    ``state`` is the data source's state afterwards (a failed recreate leaves it as it was).
    """

    authorization_id: uuid.UUID
    purpose: AuthorizationPurpose
    reason_code: DataSourceAuthorizationFailureCode
    reason: str
    state: DataSourceState
    offered_division: Division | None = None
    offered_grant_id: uuid.UUID | None = None


class DataSourceAuthorizationFailed(Message):
    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["DataSourceAuthorizationFailed"] = "DataSourceAuthorizationFailed"
    payload: DataSourceAuthorizationFailedPayload


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
    grant_claim: str | None = None
    """Datasource's signature over (datasource_id, grant_id, division): ingest records the run
    only when it verifies, so a message written by anyone else never gets a grant used."""


class InitialRunRequested(Message):
    SCHEMA_VERSION: ClassVar[int] = 2 + ENTITIES_ADDED

    type: Literal["InitialRunRequested"] = "InitialRunRequested"
    payload: InitialRunRequestedPayload


class ConnectionConfirmedPayload(WireModel):
    """The customer confirmed the connected company; the initial run is requested."""

    division: Division
    grant_id: uuid.UUID
    run_id: uuid.UUID
    confirmed_by: str


class ConnectionConfirmed(Message):
    type: Literal["ConnectionConfirmed"] = "ConnectionConfirmed"
    payload: ConnectionConfirmedPayload


class DataSourceDisownedPayload(WireModel):
    """"Not my company": the company is disconnected and its grant must be revoked (auth
    deletes the tokens). The data source is back to ``authorization_failed``; a recreate
    connects it again. Downstream consumers get DataSourcePurged on the ledger topic."""

    division: Division
    division_name: str
    grant_id: uuid.UUID
    disowned_by: str
    reason: str
    state: DataSourceState


class DataSourceDisowned(Message):
    type: Literal["DataSourceDisowned"] = "DataSourceDisowned"
    payload: DataSourceDisownedPayload


class DataSourcePurgedPayload(WireModel):
    """Drop every row of these runs of the data source, and ignore their batches that are
    still to come: the company they came from was not the customer's."""

    run_ids: tuple[uuid.UUID, ...]
    division: Division
    reason: str


class DataSourcePurged(Message):
    type: Literal["DataSourcePurged"] = "DataSourcePurged"
    payload: DataSourcePurgedPayload
