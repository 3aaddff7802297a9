"""Which Exact Online endpoint serves each entity, and how it is asked.

Sync endpoints (1000 rows a page, ``Timestamp`` cursor) where Exact has them; regular
endpoints (60 a page) otherwise. ``$select`` is always the contract's field list. A
reimport with a date range uses the bulk TransactionLines endpoint (sync endpoints accept
only a Timestamp filter) and year filters where the entity has a year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from contracts import ROW_MODELS, Entity, Row, exact_fields

Mode = Literal["sync", "bulk", "regular"]
PAGE_SIZES: dict[Mode, int] = {"sync": 1000, "bulk": 1000, "regular": 60}
SYNC_ONLY_FIELDS = frozenset({"Timestamp"})


@dataclass(frozen=True)
class EndpointSpec:
    entity: Entity
    path: str
    mode: Mode
    id_field: str = "ID"
    """Exact field whose values form the entity's id hash."""
    amount_field: str | None = None
    """Exact field summed for reconciliation (RunCompleted ``amount_dc_sum``)."""
    year_field: str | None = None
    """Field a date range filters on, by year (None: master data, never filtered)."""
    count_field: str | None = None

    @property
    def row_model(self) -> type[Row]:
        model: type[Row] = ROW_MODELS[self.entity]
        return model

    @property
    def select(self) -> str:
        """The contract's fields; ``Timestamp`` exists on sync endpoints only."""
        fields = exact_fields(self.row_model)
        if self.mode != "sync":
            fields = tuple(f for f in fields if f not in SYNC_ONLY_FIELDS)
        return ",".join(fields)

    @property
    def page_size(self) -> int:
        return PAGE_SIZES[self.mode]


ENDPOINTS: dict[Entity, EndpointSpec] = {
    Entity.TRANSACTION_LINES: EndpointSpec(Entity.TRANSACTION_LINES,
                                           "sync/Financial/TransactionLines", "sync",
                                           amount_field="AmountDC"),
    Entity.GL_ACCOUNTS: EndpointSpec(Entity.GL_ACCOUNTS, "sync/Financial/GLAccounts", "sync"),
    Entity.GL_CLASSIFICATIONS: EndpointSpec(Entity.GL_CLASSIFICATIONS,
                                            "sync/Financial/GLClassifications", "sync"),
    Entity.ACCOUNTS: EndpointSpec(Entity.ACCOUNTS, "sync/CRM/Accounts", "sync"),
    Entity.JOURNALS: EndpointSpec(Entity.JOURNALS, "financial/Journals", "regular"),
    Entity.FINANCIAL_PERIODS: EndpointSpec(Entity.FINANCIAL_PERIODS, "financial/FinancialPeriods",
                                           "regular", year_field="FinYear"),
    Entity.REPORTING_BALANCE: EndpointSpec(Entity.REPORTING_BALANCE, "financial/ReportingBalance",
                                           "regular", amount_field="Amount",
                                           year_field="ReportingYear", count_field="Count"),
    Entity.BUDGETS: EndpointSpec(Entity.BUDGETS, "budget/Budgets", "regular",
                                 amount_field="AmountDC", year_field="ReportingYear"),
    Entity.COST_CENTERS: EndpointSpec(Entity.COST_CENTERS, "hrm/Costcenters", "regular"),
    Entity.COST_UNITS: EndpointSpec(Entity.COST_UNITS, "hrm/Costunits", "regular"),
    Entity.DIVISIONS: EndpointSpec(Entity.DIVISIONS, "system/Divisions", "regular",
                                   id_field="Code"),
}

BULK_TRANSACTION_LINES = EndpointSpec(Entity.TRANSACTION_LINES, "bulk/Financial/TransactionLines",
                                      "bulk", amount_field="AmountDC")


def endpoint_for(entity: Entity, date_from: date | None, date_to: date | None) -> EndpointSpec:
    if entity is Entity.TRANSACTION_LINES and (date_from or date_to):
        return BULK_TRANSACTION_LINES
    return ENDPOINTS[entity]


def first_page_params(spec: EndpointSpec, division: int, date_from: date | None,
                      date_to: date | None, *, since: int | None = None) -> dict[str, str]:
    """Query of an entity's first page; later pages follow Exact's ``__next`` links.

    Sync endpoints read rows changed after Timestamp ``since`` (None: from the start)."""
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
    if filters:
        params["$filter"] = " and ".join(filters)
    return params
