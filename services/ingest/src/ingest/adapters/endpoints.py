"""Which Exact Online endpoint serves each entity, and how it is asked.

Sync endpoints (1000 rows a page, ``Timestamp`` cursor) where Exact has them; regular
endpoints (60 a page) otherwise. ``$select`` is the endpoint's sourced field table
(:mod:`ingest.adapters.exact_fields`). A
reimport with a date range uses the bulk TransactionLines endpoint (sync endpoints accept
only a Timestamp filter) and year filters where the entity has a year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from contracts import ROW_MODELS, Entity, Row
from ingest.adapters import exact_fields as xf

Mode = Literal["sync", "bulk", "regular"]
PAGE_SIZES: dict[Mode, int] = {"sync": 1000, "bulk": 1000, "regular": 60}


@dataclass(frozen=True)
class EndpointSpec:
    entity: Entity
    table: xf.EndpointFields
    """Exact's fields on the endpoint (sourced), all of them selected."""
    mode: Mode
    id_field: str = "ID"
    """Exact field whose values form the entity's id hash."""
    amount_field: str | None = None
    """Exact field summed for reconciliation (RunCompleted ``amount_dc_sum``)."""
    year_field: str | None = None
    """Field a date range filters on, by year (None: master data, never filtered)."""
    period_field: str | None = None
    """Field a request's reporting periods filter on, within the years."""
    count_field: str | None = None
    division_may_be_empty: bool = False
    """Exact leaves ``Division`` empty on some rows (general taxonomies): the division the
    rows were read from is filled in."""
    header_rows: bool = False
    """The endpoint mixes entry header rows (``LineNumber`` 0) with the lines: skipped."""

    @property
    def path(self) -> str:
        return self.table.path

    @property
    def row_model(self) -> type[Row]:
        model: type[Row] = ROW_MODELS[self.entity]
        return model

    @property
    def select(self) -> str:
        return ",".join(self.table.names)

    @property
    def required(self) -> frozenset[str]:
        """Fields the import cannot do without: the row model's required ones, the id, the
        amount and year reconciled and filtered on, and the sync cursor."""
        model = {str(info.validation_alias or name) for name, info
                 in self.row_model.model_fields.items() if info.is_required()}
        extra = {self.id_field, self.amount_field, self.year_field,
                 "Timestamp" if self.mode == "sync" else None}
        return frozenset(model | {f for f in extra if f is not None})

    @property
    def page_size(self) -> int:
        return PAGE_SIZES[self.mode]


ENDPOINTS: dict[Entity, EndpointSpec] = {
    Entity.TRANSACTION_LINES: EndpointSpec(Entity.TRANSACTION_LINES, xf.SYNC_TRANSACTION_LINES,
                                           "sync", amount_field="AmountDC", header_rows=True),
    Entity.GL_ACCOUNTS: EndpointSpec(Entity.GL_ACCOUNTS, xf.GL_ACCOUNTS, "sync"),
    Entity.GL_CLASSIFICATIONS: EndpointSpec(Entity.GL_CLASSIFICATIONS, xf.GL_CLASSIFICATIONS,
                                            "sync", division_may_be_empty=True),
    Entity.ACCOUNTS: EndpointSpec(Entity.ACCOUNTS, xf.ACCOUNTS, "sync"),
    Entity.JOURNALS: EndpointSpec(Entity.JOURNALS, xf.JOURNALS, "regular"),
    Entity.FINANCIAL_PERIODS: EndpointSpec(Entity.FINANCIAL_PERIODS, xf.FINANCIAL_PERIODS,
                                           "regular", year_field="FinYear"),
    Entity.REPORTING_BALANCE: EndpointSpec(Entity.REPORTING_BALANCE, xf.REPORTING_BALANCE,
                                           "regular", amount_field="Amount",
                                           year_field="ReportingYear",
                                           period_field="ReportingPeriod", count_field="Count"),
    Entity.BUDGETS: EndpointSpec(Entity.BUDGETS, xf.BUDGETS, "regular",
                                 amount_field="AmountDC", year_field="ReportingYear"),
    Entity.COST_CENTERS: EndpointSpec(Entity.COST_CENTERS, xf.COST_CENTERS, "regular"),
    Entity.COST_UNITS: EndpointSpec(Entity.COST_UNITS, xf.COST_UNITS, "regular"),
    Entity.DIVISIONS: EndpointSpec(Entity.DIVISIONS, xf.DIVISIONS, "regular", id_field="Code"),
}

BULK_TRANSACTION_LINES = EndpointSpec(Entity.TRANSACTION_LINES, xf.BULK_TRANSACTION_LINES,
                                      "bulk", amount_field="AmountDC")


def endpoint_for(entity: Entity, date_from: date | None, date_to: date | None) -> EndpointSpec:
    if entity is Entity.TRANSACTION_LINES and (date_from or date_to):
        return BULK_TRANSACTION_LINES
    return ENDPOINTS[entity]


def first_page_params(spec: EndpointSpec, division: int, date_from: date | None,
                      date_to: date | None, *, since: int | None = None,
                      periods: tuple[int, int] | None = None) -> dict[str, str]:
    """Query of an entity's first page; later pages follow Exact's ``__next`` links.

    Sync endpoints read rows changed after Timestamp ``since`` (None: from the start);
    ``periods`` narrows a year range to reporting periods from..to (ReportingBalance)."""
    params = {"$select": spec.select}
    filters: list[str] = []
    if spec.mode == "sync":
        filters.append(f"Timestamp gt {since}L" if since and since > 1 else "Timestamp gt 1")
    elif spec.entity is Entity.DIVISIONS:
        filters.append(f"Code eq {division}")  # the endpoint lists every granted division
    elif spec.mode == "bulk":
        if date_from:
            filters.append(f"Date ge datetime'{date_from.isoformat()}'")
        if date_to:
            filters.append(f"Date lt datetime'{(date_to + timedelta(days=1)).isoformat()}'")
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
