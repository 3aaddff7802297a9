"""Prometheus metrics every service exposes on ``/metrics``.

Service-specific series (Exact calls, rate budget, token refreshes, runs) live in each
service's ``metrics.py``; these are the messaging ones every service shares. Labels stay
bounded: topics, consumer groups, message types and outcomes - never ids.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# no `*_created` twin of every counter and histogram: half the series, nothing lost
disable_created_metrics()  # type: ignore[no-untyped-call]

MESSAGES_CONSUMED = Counter(
    "connector_messages_consumed_total",
    "Messages a subscriber finished with: outcome ok, retry (redelivered) or dead_lettered",
    ["topic", "outcome"],
)
MESSAGES_REDELIVERED = Counter(
    "connector_messages_redelivered_total",
    "Messages a consumer had handled before (the inbox made them a no-op)",
    ["consumer"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "connector_messages_dead_lettered_total", "Messages sent to a dead-letter topic", ["topic"]
)
MESSAGES_PUBLISHED = Counter(
    "connector_messages_published_total",
    "Messages published (outbox relay, ingest's batch publisher) and acknowledged by the broker",
    ["topic", "type"],
)
OUTBOX_LAG = Gauge(
    "connector_outbox_lag_seconds", "Age of the oldest unsent outbox row", ["service"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "connector_outbox_publish_failures_total", "Outbox relay rounds that failed", ["service"]
)
CONSUMER_LAG = Gauge(
    "connector_consumer_lag_messages",
    "Messages a consumer group has not consumed yet (end offsets minus committed offsets)",
    ["group", "topic"],
)
HANDLER_SECONDS = Histogram(
    "connector_handler_seconds", "Time spent handling one message", ["topic"]
)


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
