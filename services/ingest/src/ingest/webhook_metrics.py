"""Prometheus series of Exact's webhooks (receiver and reaction), beside :mod:`ingest.metrics`.

Labels are bounded: Exact's ``topic`` (only topics that map to imported entities are counted
as received), the refusal ``reason`` (a fixed set), and ``entity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram

from ingest.domain.notifications import REFUSAL_STATUS
from ingest.entities import CATALOG

RECEIVED = Counter(
    "ingest_webhook_notifications_received_total",
    "Signed, fresh notifications accepted from Exact and published as ExactChangeNotified",
    ["topic"],
)
REFUSED = Counter(
    "ingest_webhook_notifications_refused_total",
    "Deliveries refused, per reason (unsigned, bad_signature, malformed, unknown_topic, stale, "
    "unknown_division, replayed)",
    ["reason"],
)
COALESCED = Counter(
    "ingest_webhook_notifications_coalesced_total",
    "Notifications folded into a targeted incremental run, per entity (the run count is "
    "ingest_webhook_targeted_runs_total)",
    ["entity"],
)
TARGETED_RUNS = Counter(
    "ingest_webhook_targeted_runs_total",
    "Incremental runs of only the notified entities, per entity",
    ["entity"],
)
RECEIPT_SECONDS = Histogram(
    "ingest_webhook_receipt_seconds",
    "From a delivery's arrival to its ExactChangeNotified being committed to the outbox",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
NOTIFICATION_TO_RUN_SECONDS = Histogram(
    "ingest_webhook_notification_to_run_seconds",
    "From the first notification of a burst to the targeted run that reads it (debounce "
    "included)",
    buckets=(0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60),
)

for _reason in REFUSAL_STATUS:
    REFUSED.labels(_reason)
for _topic in CATALOG.topics:
    RECEIVED.labels(_topic)


def changes_coalesced(rows: Sequence[Any], now: datetime) -> None:
    for row in rows:
        COALESCED.labels(row.entity).inc(row.notifications)
        TARGETED_RUNS.labels(row.entity).inc()
    first: datetime = min(row.first_received_at for row in rows)
    NOTIFICATION_TO_RUN_SECONDS.observe(max(0.0, (now - first).total_seconds()))
