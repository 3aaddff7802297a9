"""Prometheus series of the ingest service (on ``/metrics`` next to the runtime's ones).

Labels are bounded on purpose: ``division`` (one per connected Exact company, so it grows
with customers, not with runs or pages), HTTP ``status``, ``entity`` (a fixed list), run
``kind``/``state``/``status`` (fixed sets). Run ids, data-source ids and grant ids never
become labels: they are in the logs and events.

``ingest_runs`` is read from the database at scrape time, so every replica reports the
same fleet-wide figure (aggregate it with ``max``); the counters are per replica (``sum``).
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram

from contracts import ALL_ENTITIES, TrialBalanceCheckedPayload
from ingest.domain.budget import BudgetView
from ingest.domain.model import RunStatus

EXACT_CALLS = Counter(
    "ingest_exact_calls_total",
    "Calls to the Exact Online API per company (division) and HTTP status "
    "(status 'error': no answer - timeout or connection failure)",
    ["division", "status"],
)
EXACT_RATE_LIMITED = Counter(
    "ingest_exact_rate_limited_total",
    "429 answers from Exact Online per company and the limit that was hit (minutely, daily)",
    ["division", "limit"],
)
RATE_BUDGET_REMAINING = Gauge(
    "ingest_exact_rate_budget_remaining",
    "Calls left in Exact's current window per company (window minutely or daily), "
    "from the last X-RateLimit headers",
    ["division", "window"],
)
RATE_BUDGET_LIMIT = Gauge(
    "ingest_exact_rate_budget_limit",
    "Size of Exact's window per company (window minutely or daily)",
    ["division", "window"],
)
RUN_TRANSITIONS = Counter(
    "ingest_run_transitions_total",
    "Runs this replica moved into a state: started, completed, failed, paused, waiting",
    ["kind", "state"],
)
RUNS = Gauge(
    "ingest_runs",
    "Runs per status in the database, all replicas together",
    ["status"],
)
RUNS_EXECUTING = Gauge("ingest_runs_executing", "Runs this replica is executing now")
ROWS_IMPORTED = Counter(
    "ingest_rows_imported_total",
    "Rows published as LedgerBatch and checkpointed, per entity",
    ["entity"],
)
ENTITY_FAILURES = Counter(
    "ingest_entity_failures_total",
    "Entities a run could not import (the run went on with the others), per entity and "
    "reason code",
    ["entity", "reason"],
)
FIELDS_DROPPED = Counter(
    "ingest_exact_fields_dropped_total",
    "Selected fields Exact answered it does not know (400 'Could not find a property'), "
    "dropped from the endpoint's $select, per entity and field",
    ["entity", "field"],
)
BATCHES_PUBLISHED = Counter(
    "ingest_batches_published_total", "LedgerBatch messages acknowledged by the broker, per entity",
    ["entity"],
)
RUN_DURATION = Histogram(
    "ingest_run_duration_seconds",
    "From a run's first start to its completion, waits for the daily limit included",
    ["kind"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400, 172800,
             604800),
)
TRIAL_BALANCE_CHECKS = Counter(
    "ingest_trial_balance_checks_total",
    "Trial-balance checks of completed runs against Exact's ReportingBalance, per result "
    "(matching, differences, not_checked)",
    ["result"],
)
TRIAL_BALANCE_DIFFERING_KEYS = Gauge(
    "ingest_trial_balance_differing_keys",
    "Keys (reporting year, period, G/L account) whose ledger total differs from Exact's "
    "ReportingBalance at the company's last check",
    ["division"],
)
TRIAL_BALANCE_ABS_DIFFERENCE = Gauge(
    "ingest_trial_balance_abs_difference",
    "Sum of the absolute differences (default currency) at the company's last check",
    ["division"],
)

for _entity in ALL_ENTITIES:
    ROWS_IMPORTED.labels(_entity.value)
for _status in RunStatus:
    RUNS.labels(_status.value)
for _result in ("matching", "differences", "not_checked"):
    TRIAL_BALANCE_CHECKS.labels(_result)


def exact_call(division: int, status: int | None) -> None:
    EXACT_CALLS.labels(str(division), str(status) if status is not None else "error").inc()


def rate_limited(division: int, limit: str) -> None:
    EXACT_RATE_LIMITED.labels(str(division), limit).inc()


def budget_seen(division: int, view: BudgetView) -> None:
    d = str(division)
    if view.minutely_remaining is not None:
        RATE_BUDGET_REMAINING.labels(d, "minutely").set(view.minutely_remaining)
    RATE_BUDGET_LIMIT.labels(d, "minutely").set(view.minutely_limit)
    if view.daily_remaining is not None:
        RATE_BUDGET_REMAINING.labels(d, "daily").set(view.daily_remaining)
    if view.daily_limit is not None:
        RATE_BUDGET_LIMIT.labels(d, "daily").set(view.daily_limit)


def run_entered(kind: str, state: RunStatus) -> None:
    RUN_TRANSITIONS.labels(kind, state.value).inc()


def runs_by_status(counts: Mapping[str, int]) -> None:
    """Set ``ingest_runs``; a status without runs is 0, not missing."""
    for status in RunStatus:
        RUNS.labels(status.value).set(counts.get(status.value, 0))


def trial_balance_checked(payload: TrialBalanceCheckedPayload) -> None:
    if not payload.checked:
        TRIAL_BALANCE_CHECKS.labels("not_checked").inc()
        return
    differing = payload.keys_compared - payload.keys_matching
    TRIAL_BALANCE_CHECKS.labels("differences" if differing else "matching").inc()
    TRIAL_BALANCE_DIFFERING_KEYS.labels(str(payload.division)).set(differing)
    TRIAL_BALANCE_ABS_DIFFERENCE.labels(str(payload.division)).set(
        float(payload.total_abs_difference))
