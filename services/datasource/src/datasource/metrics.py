"""Prometheus series of the datasource service (on ``/metrics`` next to the runtime's ones).

Labels are fixed sets: command types, outcomes (``applied``, ``duplicate`` or the
``CommandRejected`` reason code), data-source states, run kinds and statuses. Data-source
ids never become labels (they are in the logs and events).

``datasource_datasources`` and ``datasource_runs`` are read from the database at scrape
time, so every replica reports the same figure (aggregate with ``max``); the command
counter is per replica (``sum``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import get_args

from prometheus_client import Counter, Gauge

from contracts import RunKind
from datasource.domain.runs import RunStatus
from datasource.domain.values import State

RUN_KINDS: tuple[str, ...] = get_args(RunKind)

COMMANDS = Counter(
    "datasource_commands_total",
    "Portal commands handled, by type and outcome: applied, duplicate (redelivery), or the "
    "reason code of CommandRejected",
    ["command", "outcome"],
)
DATASOURCES = Gauge("datasource_datasources", "Data sources by lifecycle state", ["state"])
RUNS = Gauge("datasource_runs", "Data runs by kind and status, as ingest reported them",
             ["kind", "status"])


def command(command_type: str, outcome: str) -> None:
    COMMANDS.labels(command_type, outcome).inc()


def datasources(counts: Mapping[str, int]) -> None:
    for state in State:
        DATASOURCES.labels(state.value).set(counts.get(state.value, 0))


def runs(counts: Mapping[tuple[str, str], int]) -> None:
    kinds = {*RUN_KINDS, *(kind for kind, _ in counts)}
    for kind in kinds:
        for status in RunStatus:
            RUNS.labels(kind, status.value).set(counts.get((kind, status.value), 0))
