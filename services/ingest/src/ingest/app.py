"""The ingest service process: HTTP app whose lifespan runs the broker, relay and database.

Wiring only: adapters are built here, use cases and subscribers get them as arguments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog
from fastapi import FastAPI
from faststream import FastStream

import contracts as c
from connector_runtime.host import ServiceHost, health_router, serve
from connector_runtime.logcontext import RequestLogContext
from connector_runtime.logs import configure_logging
from ingest import metrics
from ingest.adapters import stats, tables
from ingest.adapters.auth_tokens import AuthTokenSource
from ingest.adapters.clock import SystemClock
from ingest.adapters.exact import ExactClient, RetryPolicy
from ingest.adapters.publisher import KafkaBatchPublisher
from ingest.adapters.ratelimit import PostgresRateLimiter
from ingest.adapters.repository import PostgresRunStore
from ingest.adapters.sync_states import SyncPlanner
from ingest.adapters.timeouts import CallTimeouts
from ingest.api import runs_router
from ingest.domain.schedule import SyncSchedule
from ingest.runner import RunExecutor, RunnerConfig
from ingest.scheduler import RunScheduler
from ingest.settings import IngestSettings
from ingest.subscribers import Handlers, build_router

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
NAME = "ingest"

log = structlog.get_logger("ingest")


@dataclass
class Ingest:
    """The running service's parts (tests reach them as ``app.state.ingest``)."""

    store: PostgresRunStore
    scheduler: RunScheduler
    publisher: KafkaBatchPublisher
    limiter: PostgresRateLimiter


def create_host(settings: IngestSettings) -> ServiceHost:
    return ServiceHost(settings, name=NAME, schema=tables.SCHEMA, migrations=MIGRATIONS,
                       outbox=tables.outbox, group_id=settings.consumer_group,
                       publishes=(c.RUN_EVENTS, c.LEDGER_BATCHES))


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    host = create_host(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with host, _http_clients(settings) as (exact_http, auth_http):
            if settings.auth_internal_token is None:
                log.warning("auth_internal_token_missing",
                            detail="INGEST_AUTH_INTERNAL_TOKEN is not set: auth will refuse tokens")
            schedule = SyncSchedule(
                interval_seconds=settings.incremental_interval_seconds,
                refresh_interval_seconds=settings.full_refresh_interval_seconds,
                jitter=settings.incremental_jitter)
            store = PostgresRunStore(host.engine, notify=host.relay.notify, schedule=schedule)
            planner = SyncPlanner(host.engine, schedule)
            limiter = PostgresRateLimiter(host.engine, default_limit=settings.exact_minutely_limit,
                                          error_budget=settings.exact_error_budget,
                                          stale_after_seconds=settings.exact_timeout_seconds + 60)
            exact = ExactClient(exact_http, AuthTokenSource(auth_http), limiter, retry=RetryPolicy(
                max_attempts=settings.exact_max_attempts,
                backoff_base=settings.exact_backoff_seconds,
                backoff_max=settings.exact_backoff_max_seconds,
                same_token_delays=(settings.exact_unauthorized_retry_seconds,
                                   2 * settings.exact_unauthorized_retry_seconds)),
                timeouts=CallTimeouts(ceiling=settings.exact_timeout_seconds))
            publisher = KafkaBatchPublisher(settings.kafka_bootstrap_servers)
            await publisher.start()
            executor = RunExecutor(store, exact, publisher, SystemClock(), RunnerConfig(
                max_batch_bytes=settings.max_batch_bytes,
                progress_interval=settings.progress_interval_seconds,
                default_minutely_limit=settings.exact_minutely_limit))
            scheduler = RunScheduler(store, executor.execute,
                                     max_concurrent=settings.max_concurrent_runs,
                                     lease_seconds=settings.lease_seconds,
                                     poll_interval=settings.scheduler_interval_seconds,
                                     plan=planner.plan)
            metrics.RUNS_EXECUTING.set_function(lambda: len(scheduler.running))

            async def run_gauges() -> None:
                metrics.runs_by_status(await stats.runs_by_status(host.engine))

            host.on_scrape(run_gauges)
            handlers = Handlers(store=store, wake=scheduler.wake)
            host.include(build_router(settings, host.group_id, handlers=lambda: handlers))
            app.state.ingest = Ingest(store, scheduler, publisher, limiter)
            await host.start_consuming()
            scheduler.start()
            try:
                yield
            finally:
                await scheduler.stop()
                await publisher.stop()

    app = FastAPI(title=f"exact-{NAME}", lifespan=lifespan)
    app.add_middleware(RequestLogContext)
    app.include_router(health_router(host))
    app.include_router(runs_router(lambda run_id: app.state.ingest.store.load(run_id)))
    return app


@asynccontextmanager
async def _http_clients(settings: IngestSettings
                        ) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    timeout = httpx.Timeout(settings.exact_timeout_seconds, connect=10.0)
    auth_headers = {}
    if settings.auth_internal_token is not None:
        auth_headers["Authorization"] = f"Bearer {settings.auth_internal_token.get_secret_value()}"
    async with httpx.AsyncClient(base_url=settings.exact_base_url, timeout=timeout,
                                 headers={"User-Agent": "exact-connector-ingest"}) as exact_http, \
            httpx.AsyncClient(base_url=settings.auth_internal_url, timeout=30.0,
                              headers=auth_headers) as auth_http:
        yield exact_http, auth_http


def asyncapi_app() -> FastStream:
    """The FastStream app the AsyncAPI document is generated from (no IO)."""
    settings = IngestSettings()
    host = create_host(settings)
    host.include(build_router(settings, host.group_id))
    return FastStream(host.broker, title=f"exact-{NAME}")


def main() -> None:
    settings = IngestSettings()
    configure_logging(NAME, settings.log_level, settings.log_format)
    serve(create_app(settings), settings)
