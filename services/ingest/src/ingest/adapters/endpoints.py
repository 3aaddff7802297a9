"""The query of an entity's first page on its Exact endpoint (later pages follow ``__next``).

``$select`` is the endpoint's sourced field list (:mod:`ingest.entities`). Sync endpoints
accept only a Timestamp filter; a re-import with a date range reads the bulk endpoint where the
entity has one (a ``Date`` range) and filters the others by year where they have a year.
"""

from __future__ import annotations

from datetime import date, timedelta

from ingest.entities import EntitySpec, spec_for


def endpoint_for(entity: str, date_from: date | None, date_to: date | None) -> EntitySpec:
    return spec_for(entity, ranged=bool(date_from or date_to))


def first_page_params(spec: EntitySpec, division: int, date_from: date | None,
                      date_to: date | None, *, since: int | None = None,
                      periods: tuple[int, int] | None = None, year: int | None = None
                      ) -> dict[str, str]:
    """Query of an entity's first page.

    Sync endpoints read rows changed after Timestamp ``since`` (None: from the start);
    ``periods`` narrows a year range to reporting periods from..to (ReportingBalance);
    ``year`` reads one year of an entity with a year field (``ReportingYear eq 2024``:
    EXACT_API.md section 5, ReportingBalance "filter on ReportingYear"), one of the date
    range's years when the run has one."""
    params = {"$select": spec.select}
    filters: list[str] = []
    if spec.mode == "sync":
        filters.append(f"Timestamp gt {since}L" if since and since > 1 else "Timestamp gt 1")
    elif spec.only_division:
        filters.append(f"Code eq {division}")
    elif spec.mode == "bulk":
        if date_from:
            filters.append(f"Date ge datetime'{date_from.isoformat()}'")
        if date_to:
            filters.append(f"Date lt datetime'{(date_to + timedelta(days=1)).isoformat()}'")
    elif spec.year_field and year is not None:
        filters.append(f"{spec.year_field} eq {year}")
    elif spec.year_field and (date_from or date_to):
        if date_from:
            filters.append(f"{spec.year_field} ge {date_from.year}")
        if date_to:
            filters.append(f"{spec.year_field} le {date_to.year}")
        if spec.period_field and periods:
            filters.append(f"{spec.period_field} ge {periods[0]}")
            filters.append(f"{spec.period_field} le {periods[1]}")
    if filters:
        params["$filter"] = " and ".join(filters)
    return params
