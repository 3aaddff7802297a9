"""Kafka subscribers of the ingest service: typed contract in, bind log context, one use case.

``INGEST_REQUESTS``: InitialRunRequested (initial runs and reimports) is recorded, not run.
``CHANGE_NOTIFICATIONS``: ExactChangeNotified is folded into the data source's pending
changes (a targeted incremental run reads them once they are quiet).
``DATASOURCE_EVENTS``: RecreateAccepted switches the data source's runs to the new grant
(a run paused because its grant was revoked resumes); DataSourceDisowned stops its syncs and
removes its webhook subscriptions at Exact; the other events are not ingest's
(DataSourcePurged travels on the ledger topic, for consumers).
Each topic has its own consumer group. Unreadable messages go to the dead-letter topic
(runtime middleware); database failures are retried.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from faststream.kafka import KafkaRouter
from pydantic import Field

import contracts as c
from connector_runtime.messaging.broker import subscriber_options
from connector_runtime.messaging.claims import ClaimVerifier
from ingest import usecases
from ingest.ports import PendingChanges, Releases, RunRequests
from ingest.settings import IngestSettings

DatasourceEvent = Annotated[
    c.DataSourceCreated | c.DataSourceConnected | c.RecreateAccepted | c.RecreateRejected
    | c.DataSourceNeedsReauthorization | c.DataSourceAuthorizationFailed | c.CommandRejected
    | c.ConnectionConfirmed | c.DataSourceDisowned,
    Field(discriminator="type"),
]
"""Every message of DATASOURCE_EVENTS (a test keeps it in step with the contracts), so none
is refused; ingest acts on RecreateAccepted and DataSourceDisowned."""


@dataclass(frozen=True)
class Handlers:
    """What the subscribers need, built in the app's lifespan."""

    store: RunRequests
    wake: Callable[[], None]
    claims: ClaimVerifier
    """Verifies datasource's grant claim before a grant is recorded for use."""
    changes: PendingChanges | None = None
    releases: Releases | None = None


def _not_started() -> Handlers:
    raise RuntimeError("the ingest service is not started")


def build_router(settings: IngestSettings, group_id: str, *,
                 handlers: Callable[[], Handlers] = _not_started) -> KafkaRouter:
    router = KafkaRouter()

    def options(topic: str, suffix: str) -> dict[str, Any]:
        opts: dict[str, Any] = subscriber_options(
            topic, f"{group_id}.{suffix}", session_timeout_ms=settings.kafka_session_timeout_ms)
        return opts

    @router.subscriber(c.INGEST_REQUESTS, **options(c.INGEST_REQUESTS, "run-requests"))  # type: ignore[untyped-decorator]
    async def on_run_requested(message: c.InitialRunRequested) -> None:
        h = handlers()
        p = message.payload
        with structlog.contextvars.bound_contextvars(run_id=str(p.run_id)):
            # a message datasource did not sign goes to the dead-letter topic with the reason
            h.claims.verify(p.grant_claim, message.datasource_id, p.grant_id, p.division)
            await usecases.record_run_request(h.store, message, h.wake)

    @router.subscriber(c.DATASOURCE_EVENTS, **options(c.DATASOURCE_EVENTS, "datasource-events"))  # type: ignore[untyped-decorator]
    async def on_datasource_event(message: DatasourceEvent) -> None:
        if isinstance(message, c.RecreateAccepted):
            h = handlers()
            p = message.payload
            h.claims.verify(p.grant_claim, message.datasource_id, p.grant_id, p.division)
            await usecases.switch_to_new_grant(h.store, message, h.wake)
        elif isinstance(message, c.DataSourceDisowned):
            h = handlers()
            if h.releases is not None:
                await usecases.release_disowned(h.releases, message)

    @router.subscriber(c.CHANGE_NOTIFICATIONS, **options(c.CHANGE_NOTIFICATIONS, "notifications"))  # type: ignore[untyped-decorator]
    async def on_change_notified(message: c.ExactChangeNotified) -> None:
        h = handlers()
        if h.changes is not None:
            await usecases.record_change(h.changes, message)

    return router
