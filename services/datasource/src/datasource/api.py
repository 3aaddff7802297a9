"""The read API for the portal, the CLI and operators (JSON over the service's HTTP port).

``GET /company-domains``, ``GET /datasources`` (``?company_domain_id=``, ``?state=``),
``GET /datasources/{id}`` (``?runs=`` newest runs, default 20) and ``GET /runs/{run_id}``.

Every call needs a caller's bearer token (``DATASOURCE_API_CLIENTS``, scope ``read``); a caller
limited to some company domains (the portal of one tenant) sees only those: anything else is
answered as if it did not exist (404, or left out of a list).
"""

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query

from connector_runtime.access import ApiClient, require
from datasource.domain import State
from datasource.ports import Reads
from datasource.views import CompanyDomainView, DataSourceSummaryView, DataSourceView, RunView


def build_api_router(reads: Callable[[], Reads]) -> APIRouter:
    router = APIRouter(tags=["read"])
    ReadsDep = Annotated[Reads, Depends(reads)]
    Caller = Annotated[ApiClient, Depends(require("read"))]

    @router.get("/company-domains", response_model=list[CompanyDomainView])
    async def list_company_domains(r: ReadsDep, caller: Caller) -> list[CompanyDomainView]:
        """Every company domain, oldest first, with how many data sources it holds."""
        return [d for d in await r.company_domains() if caller.may_read_domain(d.id)]

    @router.get("/datasources", response_model=list[DataSourceSummaryView])
    async def list_datasources(
        r: ReadsDep,
        caller: Caller,
        company_domain_id: UUID | None = None,
        state: Annotated[State | None, Query(description="Only data sources in this state.")] = None,
    ) -> list[DataSourceSummaryView]:
        """Data sources, oldest first: state, division, run status, last run and last problem."""
        found = await r.datasources(company_domain_id=company_domain_id,
                                    state=state.value if state else None)
        return [d for d in found if caller.may_read_domain(d.company_domain_id)]

    @router.get("/datasources/{datasource_id}", response_model=DataSourceView,
                responses={404: {"description": "No such data source"}})
    async def get_datasource(
        r: ReadsDep,
        caller: Caller,
        datasource_id: UUID,
        runs: Annotated[int, Query(ge=1, le=500, description="How many recent runs.")] = 20,
    ) -> DataSourceView:
        """One data source with its pending authorization, last problems and recent runs."""
        found = await r.datasource(datasource_id, run_limit=runs)
        if found is None or not caller.may_read_domain(found.company_domain_id):
            raise HTTPException(404, f"no data source {datasource_id}")
        return found

    @router.get("/runs/{run_id}", response_model=RunView,
                responses={404: {"description": "No such run"}})
    async def get_run(r: ReadsDep, caller: Caller, run_id: UUID) -> RunView:
        """One run with per-entity progress, rate budget and error."""
        found = await r.run(run_id)
        owner = await r.datasource(found.datasource_id, run_limit=1) if found else None
        if found is None or owner is None or not caller.may_read_domain(owner.company_domain_id):
            raise HTTPException(404, f"no run {run_id}")
        return found

    return router
