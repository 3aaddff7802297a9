"""The read API for the portal, the CLI and operators (JSON over the service's HTTP port).

``GET /company-domains``, ``GET /datasources`` (``?company_domain_id=``, ``?state=``),
``GET /datasources/{id}`` (``?runs=`` newest runs, default 20) and ``GET /runs/{run_id}``.
"""

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query

from datasource.domain import State
from datasource.ports import Reads
from datasource.views import CompanyDomainView, DataSourceSummaryView, DataSourceView, RunView


def build_api_router(reads: Callable[[], Reads]) -> APIRouter:
    router = APIRouter(tags=["read"])
    ReadsDep = Annotated[Reads, Depends(reads)]

    @router.get("/company-domains", response_model=list[CompanyDomainView])
    async def list_company_domains(r: ReadsDep) -> list[CompanyDomainView]:
        """Every company domain, oldest first, with how many data sources it holds."""
        return await r.company_domains()

    @router.get("/datasources", response_model=list[DataSourceSummaryView])
    async def list_datasources(
        r: ReadsDep,
        company_domain_id: UUID | None = None,
        state: Annotated[State | None, Query(description="Only data sources in this state.")] = None,
    ) -> list[DataSourceSummaryView]:
        """Data sources, oldest first: state, division, run status, last run and last problem."""
        return await r.datasources(company_domain_id=company_domain_id,
                                   state=state.value if state else None)

    @router.get("/datasources/{datasource_id}", response_model=DataSourceView,
                responses={404: {"description": "No such data source"}})
    async def get_datasource(
        r: ReadsDep,
        datasource_id: UUID,
        runs: Annotated[int, Query(ge=1, le=500, description="How many recent runs.")] = 20,
    ) -> DataSourceView:
        """One data source with its pending authorization, last problems and recent runs."""
        found = await r.datasource(datasource_id, run_limit=runs)
        if found is None:
            raise HTTPException(404, f"no data source {datasource_id}")
        return found

    @router.get("/runs/{run_id}", response_model=RunView,
                responses={404: {"description": "No such run"}})
    async def get_run(r: ReadsDep, run_id: UUID) -> RunView:
        """One run with per-entity progress, rate budget and error."""
        found = await r.run(run_id)
        if found is None:
            raise HTTPException(404, f"no run {run_id}")
        return found

    return router
