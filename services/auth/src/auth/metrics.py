"""Prometheus series of the auth service (on ``/metrics`` next to the runtime's ones).

Labels are fixed sets: refresh outcomes, internal-API answers, authorization statuses and
failure reason codes (the ``AuthorizationFailed`` codes), grant statuses. Grant ids,
authorization ids and data-source ids never become labels.

``auth_authorizations`` and ``auth_grants`` are read from the database at scrape time, so
every replica reports the same figure (aggregate with ``max``); the counters are per
replica (``sum``).
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge

from auth.domain.grants import GrantStatus

REFRESH_OUTCOMES = ("refreshed", "too_early", "refused", "unavailable")
TOKEN_REFRESHES = Counter(
    "auth_token_refreshes_total",
    "Access-token refreshes at Exact's token endpoint by outcome: refreshed; too_early "
    "(Exact's 570 s rule); refused (the grant is revoked); unavailable (Exact failed, retried)",
    ["outcome"],
)
ACCESS_TOKEN_REQUESTS = Counter(
    "auth_access_token_requests_total",
    "Answers of the internal access-token endpoint: served, unknown_grant, grant_revoked, "
    "unavailable (503 + Retry-After)",
    ["result"],
)
AUTHORIZATIONS = Gauge(
    "auth_authorizations",
    "Authorizations (sign-in sessions) by status, and failure reason code for failed ones",
    ["status", "reason"],
)
GRANTS = Gauge("auth_grants", "Grants (stored Exact tokens) by status", ["status"])
KEEPALIVE_OUTCOMES = ("refreshed", "failed", "refused")
GRANT_KEEPALIVES = Counter(
    "auth_grant_keepalives_total",
    "Refreshes of idle grants before their refresh token expires (Exact: unused 30 days): "
    "refreshed; failed (Exact unavailable or too early, GrantExpiring emitted, tried again "
    "next round); refused (the grant is revoked, GrantRevoked emitted)",
    ["outcome"],
)

for _outcome in REFRESH_OUTCOMES:
    TOKEN_REFRESHES.labels(_outcome)
for _outcome in KEEPALIVE_OUTCOMES:
    GRANT_KEEPALIVES.labels(_outcome)
for _result in ("served", "unknown_grant", "grant_revoked", "unavailable"):
    ACCESS_TOKEN_REQUESTS.labels(_result)


def refresh(outcome: str) -> None:
    TOKEN_REFRESHES.labels(outcome).inc()


def keepalive(outcome: str) -> None:
    GRANT_KEEPALIVES.labels(outcome).inc()


def access_token_answer(result: str) -> None:
    ACCESS_TOKEN_REQUESTS.labels(result).inc()


def authorizations(counts: Mapping[tuple[str, str], int]) -> None:
    """Set ``auth_authorizations``; series seen before but gone now drop to 0."""
    for labels in list(_seen_authorizations):
        if labels not in counts:
            AUTHORIZATIONS.labels(*labels).set(0)
    for labels, count in counts.items():
        AUTHORIZATIONS.labels(*labels).set(count)
        _seen_authorizations.add(labels)


def grants(counts: Mapping[str, int]) -> None:
    for status in GrantStatus:
        GRANTS.labels(status.value).set(counts.get(status.value, 0))


_seen_authorizations: set[tuple[str, str]] = set()
