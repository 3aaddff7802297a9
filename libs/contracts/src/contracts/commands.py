"""Commands the portal backend publishes to the datasource service."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import model_validator

from contracts.common import AuthorizationMode, Entity, NonEmptyStr
from contracts.envelope import Message, WireModel


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

    @model_validator(mode="after")
    def _one_domain(self) -> CreateDataSourcePayload:
        if (self.company_domain_id is None) == (self.new_company_domain_name is None):
            raise ValueError(
                "give exactly one of company_domain_id (existing domain) "
                "or new_company_domain_name (new domain)"
            )
        return self


class CreateDataSource(Message):
    type: Literal["CreateDataSource"] = "CreateDataSource"
    payload: CreateDataSourcePayload


class RecreateDataSourcePayload(WireModel):
    """Reconnect an existing data source; it must end up on the same division."""

    authorization_mode: AuthorizationMode
    requested_by: NonEmptyStr


class RecreateDataSource(Message):
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
    type: Literal["RequestReimport"] = "RequestReimport"
    payload: RequestReimportPayload
