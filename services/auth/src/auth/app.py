"""The auth service process: HTTP app whose lifespan runs the broker, relay and database.

Wiring only: adapters are built here, use cases and subscribers get them as arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import structlog
from fastapi import FastAPI
from faststream import FastStream

import contracts as c
from auth import metrics
from auth.adapters import stats, tables
from auth.adapters.crypto import TokenCipher
from auth.adapters.exact import ExactClient
from auth.adapters.retry import RetryPolicy
from auth.adapters.signing import ItsDangerousSigner, signing_keys
from auth.adapters.uow import unit_of_work_factory
from auth.domain.tokens import KeepAlivePolicy, RefreshPolicy
from auth.ports import Clock, Config, Dependencies, RegionInfo
from auth.settings import AuthSettings
from auth.subscribers import build_router
from auth.usecases.authorizations import expire_links
from auth.usecases.keepalive import keep_alive
from auth.web.headers import SecurityHeaders
from auth.web.internal import build_internal_router
from auth.web.pages import build_pages_router
from connector_runtime.host import ServiceHost, health_router, serve
from connector_runtime.observability.logcontext import RequestLogContext
from connector_runtime.observability.logs import configure_logging

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
NAME = "auth"

log = structlog.get_logger("auth")


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_host(settings: AuthSettings) -> ServiceHost:
    return ServiceHost(settings, name=NAME, schema=tables.SCHEMA, migrations=MIGRATIONS,
                       outbox=tables.outbox, group_id=settings.consumer_group,
                       publishes=(c.AUTH_EVENTS,))


def use_case_config(settings: AuthSettings) -> Config:
    return Config(
        link_ttl_seconds={"share": settings.share_link_ttl_seconds,
                          "self": settings.self_link_ttl_seconds},
        admin_role_ids=settings.admin_role_ids,
        rights_endpoints=settings.rights_endpoints,
        regions=tuple(RegionInfo(r.code, r.name, r.host, r.supported) for r in settings.regions),
        refresh=RefreshPolicy(margin=settings.refresh_margin_seconds,
                              min_interval=settings.min_refresh_interval_seconds),
        keepalive=KeepAlivePolicy(refresh_lifetime=settings.refresh_token_lifetime_seconds,
                                  before=settings.keepalive_before_seconds),
        public_base_url=settings.public_base_url,
        internal_base_url=settings.internal_url,
    )


async def _sweep(deps: Dependencies, interval: float) -> None:
    while True:
        try:
            while await expire_links(deps) > 0:
                pass
        except Exception as exc:  # the database may be away; try again at the next tick
            log.warning("link_expiry_sweep_failed", error=type(exc).__name__)
        await asyncio.sleep(interval)


async def _keep_grants_alive(deps: Dependencies, interval: float) -> None:
    while True:
        try:
            await keep_alive(deps)
        except Exception as exc:  # the database may be away; try again at the next round
            log.warning("grant_keepalive_round_failed", error=type(exc).__name__)
        await asyncio.sleep(interval)


def create_app(settings: AuthSettings | None = None, *, clock: Clock = utc_now,
               exact_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The auth app; ``clock`` and ``exact_transport`` are for tests."""
    settings = settings or AuthSettings()  # type: ignore[call-arg, unused-ignore]
    cipher = TokenCipher(settings.token_encryption_key.get_secret_value())
    signer = ItsDangerousSigner(settings.link_signing_key.get_secret_value())
    host = create_host(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with host:
            exact = ExactClient(
                client_id=settings.exact_client_id,
                client_secret=settings.exact_client_secret.get_secret_value(),
                redirect_uri=settings.redirect_uri,
                base_urls={r.code: settings.region_base_url(r)
                           for r in settings.regions if r.supported},
                clock=clock, timeout=settings.exact_timeout_seconds, transport=exact_transport,
                retry=RetryPolicy(attempts=settings.signin_attempts,
                                  backoff=settings.signin_backoff_seconds),
            )
            deps = Dependencies(
                uow=unit_of_work_factory(host.engine, cipher, host.relay.notify), clock=clock,
                signer=signer, oauth=exact, exact=exact, config=use_case_config(settings),
            )
            app.state.deps = deps

            async def auth_gauges() -> None:
                metrics.authorizations(await stats.authorizations_by_status(host.engine))
                metrics.grants(await stats.grants_by_status(host.engine))

            host.on_scrape(auth_gauges)
            host.include(build_router(settings, host.group_id, lambda: deps))
            await host.start_consuming()
            loops = [asyncio.create_task(_sweep(deps, settings.sweep_interval_seconds)),
                     asyncio.create_task(_keep_grants_alive(
                         deps, settings.keepalive_interval_seconds))]
            try:
                yield
            finally:
                for loop in loops:
                    loop.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await loop
                await exact.aclose()

    app = FastAPI(title=f"exact-{NAME}", lifespan=lifespan)
    app.add_middleware(RequestLogContext)
    app.add_middleware(SecurityHeaders, https=settings.public_base_url.startswith("https://"))
    app.state.host = host
    app.state.csrf_key = hashlib.sha256(
        b"exact-auth.csrf|" + signing_keys(settings.link_signing_key.get_secret_value())[0][1]
        .encode()).digest()
    # a sign-in form redirects the browser to Exact's sign-in page (CSP form-action)
    app.state.exact_origins = tuple(
        "{0.scheme}://{0.netloc}".format(urlsplit(settings.region_base_url(r)))
        for r in settings.regions if r.supported)
    app.state.product_name = settings.product_name
    app.state.public_base_url = settings.public_base_url
    app.state.api_clients = settings.api_clients
    app.include_router(health_router(host))
    app.include_router(build_pages_router())
    app.include_router(build_internal_router(settings.retry_after_seconds))
    return app


def asyncapi_app() -> FastStream:
    """The FastStream app the AsyncAPI document is generated from (no IO, no secrets needed)."""
    settings = AuthSettings.model_construct()
    host = create_host(settings)

    def no_deps() -> Dependencies:
        raise RuntimeError("the AsyncAPI app does not consume")

    host.include(build_router(settings, host.group_id, no_deps))
    return FastStream(host.broker, title=f"exact-{NAME}")


def main() -> None:
    settings = AuthSettings()  # type: ignore[call-arg, unused-ignore]
    configure_logging(NAME, settings.log_level, settings.log_format)
    serve(create_app(settings), settings)
