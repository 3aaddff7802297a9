"""What auth learns about the person signing in at Exact Online, and the administrator rule.

EXACT_API.md section 9: a user may connect a division when ``users/UserRolesPerDivision``
shows an administrator role for that user in that division *and* ``users/UserHasRights`` is
true for GET on every endpoint the import reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ExactUser:
    user_id: uuid.UUID
    user_name: str
    full_name: str
    current_division: int | None


@dataclass(frozen=True)
class DivisionChoice:
    code: int
    name: str
    vat_number: str | None = None
    """system/Divisions.VATNumber (EXACT_API.md section 2), as Exact holds it."""


def normal_vat(value: str | None) -> str:
    """A VAT number compared without case, spaces, dots and dashes ("NL 1234.56" == "nl123456")."""
    return "".join(ch for ch in (value or "").upper() if ch.isalnum())


@dataclass(frozen=True)
class ExpectedCompany:
    """The company a link may connect (division code and/or VAT number)."""

    division: int | None = None
    vat_number: str | None = None

    def matches(self, choice: DivisionChoice) -> bool:
        if self.division is not None and choice.code != self.division:
            return False
        return self.vat_number is None or (
            bool(normal_vat(choice.vat_number))
            and normal_vat(choice.vat_number) == normal_vat(self.vat_number))

    def describe(self) -> str:
        parts = ([f"division {self.division}"] if self.division is not None else []) + (
            [f"VAT number {self.vat_number}"] if self.vat_number else [])
        return " with ".join(parts)


@dataclass(frozen=True)
class AdminDecision:
    allowed: bool
    has_admin_role: bool
    missing_rights: tuple[str, ...]

    @property
    def explanation(self) -> str:
        if self.allowed:
            return "administrator"
        if not self.has_admin_role:
            return ("The Exact Online user who signed in is not an administrator of this "
                    "company. Only an administrator of the company can connect it.")
        return ("The Exact Online user who signed in lacks the rights to read "
                + ", ".join(self.missing_rights)
                + " in this company. Only an administrator with full rights can connect it.")


def administrator_decision(role_ids: Iterable[int], admin_role_ids: Iterable[int],
                           rights: Mapping[str, bool]) -> AdminDecision:
    has_role = bool(set(role_ids) & set(admin_role_ids))
    missing = tuple(endpoint for endpoint, ok in rights.items() if not ok)
    return AdminDecision(has_role and not missing, has_role, missing)


def preselected(choices: Iterable[DivisionChoice], bound: int | None,
                current: int | None) -> int | None:
    """The division the chooser preselects: the bound one, else the user's current one."""
    codes = [c.code for c in choices]
    for candidate in (bound, current):
        if candidate is not None and candidate in codes:
            return candidate
    return codes[0] if codes else None
