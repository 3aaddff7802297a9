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
