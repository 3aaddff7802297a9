"""Use cases behind the Kafka subscribers: record what was asked, never run it here.

A run can take hours, so the handler only records it (idempotently: the inbox dedupes the
message, the run_id dedupes the run) and wakes the scheduler; a replica executes it.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from contracts import (
    DataSourceDisowned,
    ExactChangeNotified,
    InitialRunRequested,
    RecreateAccepted,
)
from ingest.ports import PendingChanges, Releases, RunRequests

log = structlog.get_logger("usecases")

RUN_REQUESTS_CONSUMER = "ingest.run-requests"
RECREATE_CONSUMER = "ingest.recreates"


async def record_run_request(store: RunRequests, message: InitialRunRequested,
                             wake: Callable[[], None]) -> str:
    """Record the run (or resume a failed run asked again with the same run_id)."""
    outcome = await store.record_request(RUN_REQUESTS_CONSUMER, message)
    log.info("run_requested", run_id=str(message.payload.run_id), kind=message.payload.kind,
             division=message.payload.division, outcome=outcome)
    if outcome != "duplicate":
        wake()
    return outcome


async def switch_to_new_grant(store: RunRequests, message: RecreateAccepted,
                              wake: Callable[[], None]) -> int:
    """A recreate brought a new grant: active runs use it, runs paused for a grant resume."""
    resumed = await store.apply_recreate(RECREATE_CONSUMER, message)
    log.info("runs_switched_grant", grant_id=str(message.payload.grant_id), resumed=resumed)
    if resumed:
        wake()
    return resumed


async def record_change(changes: PendingChanges, message: ExactChangeNotified) -> bool:
    """An Exact change notification: wait for its burst to end, then sync what it touched."""
    first = await changes.record(message)
    p = message.payload
    log.info("change_notified", topic=p.topic, action=p.action, division=p.division,
             duplicate=not first)
    return first


async def release_disowned(releases: Releases, message: DataSourceDisowned) -> bool:
    """"Not my company": stop syncing the data source and remove its Exact subscriptions."""
    first = await releases.release(message)
    log.info("datasource_disowned", division=message.payload.division, duplicate=not first)
    return first
