"""Prometheus metrics every service exposes on ``/metrics``.

Service-specific series (Exact calls, rate budget, token refreshes, runs) live
in the services; these are the messaging ones every service shares.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

MESSAGES_CONSUMED = Counter(
    "connector_messages_consumed_total", "Messages handled by a subscriber", ["topic", "outcome"]
)
MESSAGES_DEAD_LETTERED = Counter(
    "connector_messages_dead_lettered_total", "Messages sent to a dead-letter topic", ["topic"]
)
MESSAGES_PUBLISHED = Counter(
    "connector_messages_published_total", "Messages the outbox relay published", ["topic"]
)
OUTBOX_LAG = Gauge(
    "connector_outbox_lag_seconds", "Age of the oldest unsent outbox row", ["service"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "connector_outbox_publish_failures_total", "Outbox relay rounds that failed", ["service"]
)
CONSUMER_LAG = Gauge(
    "connector_consumer_lag_messages", "Messages not yet consumed, per topic", ["group", "topic"]
)
HANDLER_SECONDS = Histogram(
    "connector_handler_seconds", "Time spent handling one message", ["topic"]
)


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
