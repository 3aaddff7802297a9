"""Messages between datasource and auth: authorization requested, link issued, outcome.

No token, client secret or share-link token ever travels in these messages.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime

from contracts.common import (
    AuthorizationMode,
    AuthorizationPurpose,
    Division,
    ExpectedCompany,
    NonEmptyStr,
)
from contracts.envelope import Message, WireModel


class AuthorizationRequestedPayload(WireModel):
    """Datasource asks auth to obtain a grant, for a create or a recreate."""

    authorization_id: uuid.UUID
    purpose: AuthorizationPurpose
    mode: AuthorizationMode
    company_domain_id: uuid.UUID
    company_domain_name: NonEmptyStr
    requested_by: NonEmptyStr
    bound_division: Division | None = None
    """For a recreate: the division the data source is bound to (preselected, not enforced)."""
    expected_company: ExpectedCompany | None = None
    """When set, the link connects only this company; auth refuses any other."""


class AuthorizationRequested(Message):
    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["AuthorizationRequested"] = "AuthorizationRequested"
    payload: AuthorizationRequestedPayload


class AuthorizationLinkIssuedPayload(WireModel):
    """An authorization link is ready for the portal to show.

    The link itself carries a signed single-use token (whoever holds it can
    complete the connection), so it never travels on Kafka. ``fetch_url`` is
    auth's internal endpoint where the portal backend fetches it: for ``self``
    the portal user follows the link; for ``share`` it is sent to an Exact
    Online administrator who has no account with us.
    """

    authorization_id: uuid.UUID
    purpose: AuthorizationPurpose
    mode: AuthorizationMode
    fetch_url: str
    expires_at: AwareDatetime


class AuthorizationLinkIssued(Message):
    type: Literal["AuthorizationLinkIssued"] = "AuthorizationLinkIssued"
    payload: AuthorizationLinkIssuedPayload


class ExactAuthorizedPayload(WireModel):
    """An Exact administrator granted access to one division; auth holds the tokens."""

    authorization_id: uuid.UUID
    purpose: AuthorizationPurpose
    grant_id: uuid.UUID
    division: Division
    division_name: str
    exact_user_id: uuid.UUID
    exact_user_name: str
    authorized_at: datetime
    vat_number: str | None = None
    """The division's VAT number as Exact holds it (system/Divisions.VATNumber), if any."""
    company_verified: bool = False
    """True when the request named an expected company and this is it."""


class ExactAuthorized(Message):
    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["ExactAuthorized"] = "ExactAuthorized"
    payload: ExactAuthorizedPayload


AuthorizationFailureCode = Literal[
    "access_denied",
    "not_administrator",
    "unsupported_region",
    "no_division",
    "link_expired",
    "link_revoked",
    "exact_error",
    "unexpected_company",
]


class AuthorizationFailedPayload(WireModel):
    """Authorization did not complete; ``reason`` is plain words for the portal user."""

    authorization_id: uuid.UUID
    purpose: AuthorizationPurpose
    reason_code: AuthorizationFailureCode
    reason: str
    grant_id: uuid.UUID | None = None


class AuthorizationFailed(Message):
    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["AuthorizationFailed"] = "AuthorizationFailed"
    payload: AuthorizationFailedPayload


class GrantRevokedPayload(WireModel):
    """A grant can no longer be refreshed (withdrawn in Exact, refresh token expired or reused)."""

    grant_id: uuid.UUID
    division: Division
    reason: str


class GrantRevoked(Message):
    type: Literal["GrantRevoked"] = "GrantRevoked"
    payload: GrantRevokedPayload


class GrantExpiringPayload(WireModel):
    """An idle grant could not be refreshed to keep it alive.

    Exact expires a refresh token unused for 30 days (EXACT_API.md section 2), so auth
    refreshes every grant whose refresh token would expire within a week, also while its
    data source's syncs pause. This warns that such a refresh failed (``reason``); auth
    keeps trying. Unless one succeeds before ``refresh_expires_at``, the grant dies and the
    data source needs re-authorization (then ``GrantRevoked`` follows).
    """

    grant_id: uuid.UUID
    division: Division
    refresh_expires_at: AwareDatetime
    reason: str


class GrantExpiring(Message):
    type: Literal["GrantExpiring"] = "GrantExpiring"
    payload: GrantExpiringPayload
