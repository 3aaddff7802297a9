"""The datasource service process: HTTP app whose lifespan runs the broker, relay and database.

Wiring only: adapters are built here, use cases and subscribers get them as arguments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream

import contracts as c
from connector_runtime.host import ServiceHost, health_router, serve
from connector_runtime.messaging.claims import ClaimSigner
from connector_runtime.observability.logcontext import RequestLogContext
from connector_runtime.observability.logs import configure_logging
from datasource import metrics
from datasource.adapters import stats, tables
from datasource.adapters.queries import SqlReads
from datasource.adapters.uow import SqlUnitOfWork
from datasource.api import build_api_router
from datasource.settings import DatasourceSettings
from datasource.subscribers import build_router

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
NAME = "datasource"


def create_host(settings: DatasourceSettings) -> ServiceHost:
    return ServiceHost(settings, name=NAME, schema=tables.SCHEMA, migrations=MIGRATIONS,
                       outbox=tables.outbox, group_id=settings.group_id,
                       publishes=(c.DATASOURCE_EVENTS, c.AUTH_REQUESTS, c.INGEST_REQUESTS))


def create_app(settings: DatasourceSettings | None = None) -> FastAPI:
    settings = settings or DatasourceSettings()
    host = create_host(settings)

    claims = ClaimSigner(settings.run_claim_signing_key.get_secret_value())

    def unit_of_work() -> SqlUnitOfWork:
        return SqlUnitOfWork(host.engine, claims, after_commit=host.relay.notify)

    def reads() -> SqlReads:
        return SqlReads(host.engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with host:

            async def datasource_gauges() -> None:
                metrics.datasources(await stats.datasources_by_state(host.engine))
                metrics.runs(await stats.runs_by_status(host.engine))

            host.on_scrape(datasource_gauges)
            host.include(build_router(settings, host.group_id, uow=unit_of_work))
            await host.start_consuming()
            yield

    app = FastAPI(title=f"exact-{NAME}", lifespan=lifespan)
    app.add_middleware(RequestLogContext)
    app.state.api_clients = settings.api_clients
    app.include_router(health_router(host))
    app.include_router(build_api_router(reads))
    return app


def asyncapi_app() -> FastStream:
    """The FastStream app the AsyncAPI document is generated from (no IO)."""
    settings = DatasourceSettings.model_construct()
    host = create_host(settings)
    host.include(build_router(settings, host.group_id))
    return FastStream(host.broker, title=f"exact-{NAME}")


def main() -> None:
    settings = DatasourceSettings()
    configure_logging(NAME, settings.log_level, settings.log_format)
    serve(create_app(settings), settings)
