"""Value types shared by several messages."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from contracts.envelope import WireModel
from contracts.rows import Entity

AuthorizationMode = Literal["self", "share"]
"""``self``: the portal user signs in to Exact; ``share``: a link for an Exact administrator."""

AuthorizationPurpose = Literal["create", "recreate"]

Division = Annotated[int, Field(gt=0, description="Exact Online division (company) code")]

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

VatNumber = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=4,
                                             max_length=30, pattern=r"^[A-Za-z0-9 .\-]+$")]
"""A VAT number as Exact Online holds it for a division (``system/Divisions.VATNumber``,
EXACT_API.md section 2), e.g. ``NL123456789B01``; compared without spaces, dots and dashes."""


class ExpectedCompany(WireModel):
    """The company a link may connect: its division code, its VAT number, or both.

    A link that carries it connects only that company; signing in with any other is refused
    (``AuthorizationFailed`` with ``unexpected_company``) and nothing is connected.
    """

    division: Division | None = None
    vat_number: VatNumber | None = None

    @model_validator(mode="after")
    def _something(self) -> ExpectedCompany:
        if self.division is None and self.vat_number is None:
            raise ValueError("give the expected company's division, its vat_number, or both")
        return self


ALL_ENTITIES: tuple[Entity, ...] = tuple(Entity)

_ENTITIES_RECORDED = 11
"""How many values :class:`Entity` had when the messages that carry an entity were recorded."""

ENTITIES_ADDED = len(Entity) - _ENTITIES_RECORDED
"""Values added to :class:`Entity` since then: each is an additive change of those messages, so
it is counted in their ``SCHEMA_VERSION`` (adding an entity bumps them by itself)."""
