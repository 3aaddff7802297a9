"""The fault suite at small scale (``make faults`` runs it at full scale): each scenario
against the whole system, ending in an exact reconciliation or an exact count."""

import pytest

from bench.faults.result import ScenarioResult
from bench.faults.stack import FaultStack
from bench.faults.suite import run_scenario
from bench.harness import Harness

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def scenario(harness: Harness, stack: FaultStack, number: int) -> ScenarioResult:
    result = await run_scenario(harness, stack, number)
    assert result.ok, f"{result.line()}\n" + "\n".join(result.failures)
    return result


async def test_r1_kill_9_ingest_sink_datasource_auth_then_the_run_reconciles(harness: Harness, stack: FaultStack) -> None:
    result = await scenario(harness, stack, 1)
    assert result.figures["ingest_kills"] == stack.scale.ingest_kills


async def test_r2_broker_connections_cut_services_recover_outbox_delivered(harness: Harness, stack: FaultStack) -> None:
    result = await scenario(harness, stack, 2)
    assert result.figures["outbox_unsent"] == 0 and result.figures["cuts"] >= stack.scale.partition_cuts


async def test_r3_exact_5xx_timeouts_malformed_dropped_run_reconciles_within_error_budget(harness: Harness, stack: FaultStack) -> None:
    result = await scenario(harness, stack, 3)
    assert result.figures["error_budget_blocks"] == 0


async def test_r4_grant_withdrawn_mid_run_needs_reauthorization_recreate_resumes(harness: Harness, stack: FaultStack) -> None:
    result = await scenario(harness, stack, 4)
    assert result.figures["state"] == "needs_reauthorization"


async def test_r5_hostile_messages_all_dead_lettered_while_valid_traffic_flows(harness: Harness, stack: FaultStack) -> None:
    result = await scenario(harness, stack, 5)
    assert result.figures["dead_lettered_pct"] == 100.0


async def test_r6_tampered_expired_reused_links_forged_replayed_state_swapped_redirect_refused(harness: Harness, stack: FaultStack) -> None:
    result = await scenario(harness, stack, 6)
    assert result.figures["refused_pct"] == 100.0


async def test_r8_twenty_concurrent_token_requests_on_two_auth_processes_one_refresh(harness: Harness, stack: FaultStack) -> None:
    result = await scenario(harness, stack, 8)
    assert result.figures["refresh_calls"] == 1 and result.figures["served"] == 20


async def test_r9_everyday_faults_and_a_spurious_401_cost_seconds_not_minutes(harness: Harness, stack: FaultStack) -> None:
    result = await scenario(harness, stack, 9)
    # the fault mix's ratio (goal <= 1.5) is a speed figure, judged by `make faults`
    assert result.figures["spurious_401_cost_s"] < 10 and "mix_ratio" in result.figures
    assert result.figures["token_refused_reports"] == 0


async def test_r10_sign_in_through_transient_faults_succeeds_without_the_person_retrying(harness: Harness, stack: FaultStack) -> None:
    result = await scenario(harness, stack, 10)
    assert result.figures["success_pct"] >= 99


async def test_r11_a_withdrawn_grant_needs_reauthorization_within_a_minute(harness: Harness, stack: FaultStack) -> None:
    result = await scenario(harness, stack, 11)
    assert result.figures["withdrawal_to_needs_reauthorization_s"] < 60


async def test_r12_a_long_run_refreshes_on_time_without_idling_or_breaking_token_rules(harness: Harness, stack: FaultStack) -> None:
    result = await scenario(harness, stack, 12)
    lifetime = f"{stack.scale.token_lifetime_s}s"
    assert result.figures[f"{lifetime}_rule_violations"] == 0


async def test_r7_no_secret_in_logs_topics_or_database_dump(harness: Harness, stack: FaultStack) -> None:
    """Last: it looks through everything the scenarios above left behind."""
    result = await scenario(harness, stack, 7)
    assert result.figures["occurrences"] == 0 and result.figures["secrets"] > 0
