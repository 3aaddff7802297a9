"""Commands the portal backend publishes to the datasource service."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Literal

from pydantic import model_validator

from contracts.common import ENTITIES_ADDED, AuthorizationMode, ExpectedCompany, NonEmptyStr
from contracts.envelope import Message, WireModel
from contracts.rows import Entity


class CreateDataSourcePayload(WireModel):
    """Create an Exact Online data source in an existing company domain or a new one.

    Exactly one of ``company_domain_id`` (existing) and ``new_company_domain_name`` is set.
    The new data source's id is the envelope's ``datasource_id``.
    """

    provider: Literal["exact_online"] = "exact_online"
    company_domain_id: uuid.UUID | None = None
    new_company_domain_name: NonEmptyStr | None = None
    new_company_domain_id: uuid.UUID | None = None
    authorization_mode: AuthorizationMode
    requested_by: NonEmptyStr
    expected_company: ExpectedCompany | None = None
    """The company the authorization must connect (recommended for ``share`` links): any
    other company is refused. Without it, the data source's unverified-company policy applies
    (``notify``: connect and tell; ``confirm``: the initial run waits for ConfirmConnection)."""

    @model_validator(mode="after")
    def _one_domain(self) -> CreateDataSourcePayload:
        if (self.company_domain_id is None) == (self.new_company_domain_name is None):
            raise ValueError(
                "give exactly one of company_domain_id (existing domain) "
                "or new_company_domain_name (new domain)"
            )
        return self


class CreateDataSource(Message):
    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["CreateDataSource"] = "CreateDataSource"
    payload: CreateDataSourcePayload


class RecreateDataSourcePayload(WireModel):
    """Reconnect an existing data source; it must end up on the same division."""

    authorization_mode: AuthorizationMode
    requested_by: NonEmptyStr
    expected_company: ExpectedCompany | None = None
    """As for CreateDataSource; checked on top of the same-division rule."""


class RecreateDataSource(Message):
    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["RecreateDataSource"] = "RecreateDataSource"
    payload: RecreateDataSourcePayload


class RequestReimportPayload(WireModel):
    """Import again: all entities or the ones named, optionally for a date range."""

    entities: tuple[Entity, ...] | None = None
    date_from: date | None = None
    date_to: date | None = None
    requested_by: NonEmptyStr

    @model_validator(mode="after")
    def _range(self) -> RequestReimportPayload:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self


class RequestReimport(Message):
    SCHEMA_VERSION: ClassVar[int] = 1 + ENTITIES_ADDED

    type: Literal["RequestReimport"] = "RequestReimport"
    payload: RequestReimportPayload


class ConfirmConnectionPayload(WireModel):
    """The customer confirms that the connected company is theirs; the initial run starts.

    Only for a data source awaiting confirmation (policy ``confirm``, no expected company)."""

    requested_by: NonEmptyStr


class ConfirmConnection(Message):
    type: Literal["ConfirmConnection"] = "ConfirmConnection"
    payload: ConfirmConnectionPayload


class DisownConnectionPayload(WireModel):
    """"Not my company": disconnect the company that was connected, revoke its grant and
    tell downstream consumers to drop the data source's rows (DataSourcePurged)."""

    requested_by: NonEmptyStr
    reason: NonEmptyStr | None = None


class DisownConnection(Message):
    type: Literal["DisownConnection"] = "DisownConnection"
    payload: DisownConnectionPayload
