"""P7's runs per replica (:mod:`bench.perf.companies`): the survivors of a killed replica
have a slot for every company, unless the run sets its own figure."""

from __future__ import annotations

import dataclasses

import pytest

from bench.perf.companies import FULL, QUICK, ScaleSetup


@pytest.mark.parametrize(("setup", "replicas", "runs"), [
    (FULL, 1, 1_000), (FULL, 2, 1_000), (FULL, 3, 500),
    (QUICK, 1, 30), (QUICK, 2, 30), (QUICK, 3, 15),
    (ScaleSetup("odd", companies=201), 3, 101),
])
def test_by_default_the_survivors_of_a_killed_replica_can_hold_every_company(
        setup: ScaleSetup, replicas: int, runs: int) -> None:
    assert setup.runs_per_replica(replicas) == runs
    survivors = max(replicas - 1, 1)
    assert survivors * runs >= setup.companies


def test_a_set_number_of_runs_per_replica_holds_in_every_round() -> None:
    setup = dataclasses.replace(FULL, max_concurrent_runs=40)
    assert [setup.runs_per_replica(r) for r in setup.replicas] == [40, 40, 40]
