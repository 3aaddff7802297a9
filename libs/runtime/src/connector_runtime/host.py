"""What every service process does around its own logic, once.

:class:`ServiceHost` owns the process's infrastructure for as long as the
service runs: it waits for Kafka and creates the topics, migrates the service's
schema, opens the engine, starts the outbox relay and the FastStream broker
(with the log-context and dead-letter middlewares) and the consumer-lag monitor, and
closes all of it in reverse order. :func:`health_router` adds ``/healthz``, ``/readyz``
and ``/metrics`` (services add gauges computed at scrape time with
:meth:`ServiceHost.on_scrape`); :func:`serve` runs an ASGI app with uvicorn on the public and
the internal listener (``connector_runtime.listeners``; ``/metrics`` is internal only).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Response
from faststream.kafka import KafkaBroker, KafkaRouter
from sqlalchemy.ext.asyncio import AsyncEngine

from connector_runtime.listeners import serve as serve_listeners
from connector_runtime.messaging.broker import dead_letter_middleware, ensure_topics, make_broker
from connector_runtime.messaging.lag import ConsumerLagMonitor
from connector_runtime.observability.logcontext import MessageLogContext
from connector_runtime.observability.metrics import OUTBOX_LAG, render
from connector_runtime.persistence.db import create_engine, migrate_async, migrations_current
from connector_runtime.persistence.outbox import OutboxRelay
from connector_runtime.settings import ServiceSettings
from contracts import ALL_TOPICS, topic_union

log = structlog.get_logger("host")


class ServiceHost:
    """Engine, outbox relay and broker of one service, started and stopped together."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        name: str,
        schema: str,
        migrations: Path,
        outbox: sa.Table,
        group_id: str | None = None,
        publishes: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings
        self.name = name
        self.schema = schema
        self.migrations = migrations
        self.group_id = group_id or f"exact-{name}"
        self.broker: KafkaBroker = make_broker(settings.kafka_bootstrap_servers, client_id=name,
                                               auth=settings.kafka_auth)
        self.broker.add_middleware(MessageLogContext)
        self.broker.add_middleware(dead_letter_middleware(self.broker, self.group_id))
        self._declare_publications(publishes)
        self._outbox = outbox
        self._engine: AsyncEngine | None = None
        self._relay: OutboxRelay | None = None
        self._lag: ConsumerLagMonitor | None = None
        self._scrape_hooks: list[Callable[[], Awaitable[None]]] = [self._outbox_lag]

    def _declare_publications(self, topics: tuple[str, ...]) -> None:
        """Document what the service emits: its events leave through the outbox relay, not
        FastStream publishers, so they are declared here for the AsyncAPI document only."""
        for topic in topics:
            self.broker.publisher(
                topic,
                title=f"{topic}:publish",
                description=f"Published by {self.name} through its transactional outbox; "
                "key = datasource_id.",
                schema=topic_union(topic),
                include_in_schema=True,
            )

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("ServiceHost is not started")
        return self._engine

    @property
    def relay(self) -> OutboxRelay:
        if self._relay is None:
            raise RuntimeError("ServiceHost is not started")
        return self._relay

    @property
    def subscriptions(self) -> dict[str, tuple[str, ...]]:
        """Consumer group -> topics of the subscribers included so far."""
        found: dict[str, set[str]] = {}
        for subscriber in self.broker._subscribers.values():  # FastStream has no public view
            group = getattr(subscriber, "group_id", None)
            if group:
                found.setdefault(group, set()).update(getattr(subscriber, "topics", ()) or ())
        return {g: tuple(sorted(ts)) for g, ts in sorted(found.items())}

    def on_scrape(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` (set gauges from the database, say) before each ``/metrics`` answer."""
        self._scrape_hooks.append(hook)

    async def scrape(self) -> None:
        for hook in self._scrape_hooks:
            try:
                async with asyncio.timeout(2):
                    await hook()
            except Exception as exc:  # the scrape still answers with the other series
                log.warning("metrics_hook_failed", hook=getattr(hook, "__name__", "?"),
                            error=type(exc).__name__)

    async def _outbox_lag(self) -> None:
        OUTBOX_LAG.labels(self.name).set(await self.relay.oldest_unsent_age())

    def include(self, router: KafkaRouter) -> None:
        """Add the service's subscribers; call before :meth:`start_consuming`."""
        self.broker.include_router(router)

    async def __aenter__(self) -> ServiceHost:
        s = self.settings
        await ensure_topics(s.kafka_bootstrap_servers, ALL_TOPICS, s.kafka_partitions,
                            auth=s.kafka_auth)
        await migrate_async(s.database_url, self.migrations, self.schema)
        self._engine = create_engine(s.database_url, pool_size=s.database_pool_size,
                                     max_overflow=s.database_max_overflow)
        self._relay = OutboxRelay(self._engine, self._outbox, s.kafka_bootstrap_servers,
                                  auth=s.kafka_auth)
        self._relay.start()
        await self.broker.connect()
        log.info("service_infrastructure_ready", service=self.name, schema=self.schema)
        return self

    async def start_consuming(self) -> None:
        await self.broker.start()
        self._lag = ConsumerLagMonitor(self.settings.kafka_bootstrap_servers, self.subscriptions,
                                       interval=self.settings.consumer_lag_interval_seconds,
                                       auth=self.settings.kafka_auth)
        self._lag.start()
        log.info("service_consuming", service=self.name, group_id=self.group_id)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lag is not None:
            await self._lag.stop()
        await self.broker.stop()
        if self._relay is not None:
            await self._relay.stop()
        if self._engine is not None:
            await self._engine.dispose()
        log.info("service_stopped", service=self.name)

    async def readiness(self) -> dict[str, bool]:
        checks = {"database": False, "migrations": False, "broker": False}
        try:
            async with asyncio.timeout(3):
                async with self.engine.connect() as conn:
                    await conn.execute(sa.text("SELECT 1"))
                checks["database"] = True
                checks["migrations"] = await migrations_current(
                    self.engine, self.migrations, self.schema
                )
        except Exception as exc:  # a failed check is the answer, not an error
            log.warning("readiness_database_failed", error=type(exc).__name__)
        checks["broker"] = await self.broker.ping(timeout=3)
        return checks


def health_router(host: ServiceHost) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": host.name}

    @router.get("/readyz", include_in_schema=False)
    async def readyz(response: Response) -> dict[str, Any]:
        checks = await host.readiness()
        ready = all(checks.values())
        response.status_code = 200 if ready else 503
        return {"status": "ready" if ready else "not_ready", "checks": checks}

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        await host.scrape()
        body, content_type = render()
        return Response(body, media_type=content_type)

    return router


def serve(app: Any, settings: ServiceSettings) -> None:
    """Run an ASGI app on its two listeners until SIGINT/SIGTERM."""
    serve_listeners(app, settings)
