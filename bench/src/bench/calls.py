"""The fewest Exact API calls an initial import can make.

Entities with a sync (or bulk) endpoint come 1000 rows a call; the others 60 a call
(Exact's page sizes). Every entity costs at least one call, even when empty. The
company's own row (``system/Divisions``) is one more call. The sandbox's expected figures
give the row counts. ReportingBalance is read one ``ReportingYear`` at a time, most recent
first (ingest ``domain/years.py``): its pages are counted per financial year (``by_year``),
at least one call a year.
"""

from __future__ import annotations

import math
from typing import Any

SYNC_ENTITIES = frozenset({"TransactionLines", "GLAccounts", "GLClassifications", "Accounts",
                           "PaymentTerms"})
"""Entities read from a sync or bulk endpoint: 1000 rows a page (EXACT_API.md, "Page size 60;
bulk/sync 1000"). PaymentTerms is read from ``sync/Cashflow/PaymentTerms`` only."""
NOT_IMPORTED = frozenset({"Deleted"})
BY_YEAR = frozenset({"ReportingBalance"})
"""Entities read one year at a time: one run of pages per year of ``by_year``."""
FIXED_DATA_CALLS = 1
"""``system/Divisions``: the division itself (not in the expected figures)."""
AUTHORIZATION_CALLS = 3
"""Auth's checks at sign-in besides ``UserHasRights``: ``current/Me``, ``system/Divisions``,
``users/UserRolesPerDivision``; plus one ``UserHasRights`` per endpoint read."""


def page_size(entity: str) -> int:
    return 1000 if entity in SYNC_ENTITIES else 60


def minimum_calls(expected: dict[str, Any]) -> int:
    """Data calls of an initial run of the division whose expected figures are given."""
    entities = expected.get("entities", expected)
    calls = FIXED_DATA_CALLS
    for name, figures in entities.items():
        if name in NOT_IMPORTED:
            continue
        years = figures.get("by_year") if name in BY_YEAR else None
        if years:
            calls += sum(max(1, math.ceil(int(y["count"]) / page_size(name))) for y in years)
        else:
            calls += max(1, math.ceil(int(figures["count"]) / page_size(name)))
    return calls
