"""R3: Exact misbehaves during a run - 5% 5xx, 1% timeouts, 1% malformed JSON, 1% dropped
connections - and the run still completes and reconciles, without ever tripping Exact's
error budget (more than 10 answers 400/401/403/404 per endpoint and hour blocks it)."""

from __future__ import annotations

from typing import Any

from bench.faults.checks import run_reconciles
from bench.faults.result import ScenarioResult
from bench.faults.stack import R3_DIVISION, FaultStack
from bench.harness import EVA, Harness

NAME = "Exact API faults"
FAULTS: dict[str, Any] = {"error_5xx_rate": 0.05, "timeout_rate": 0.01, "malformed_json_rate": 0.01,
          "drop_rate": 0.01, "hang_seconds": 30.0, "seed": 7}
CLIENT_ERRORS = ("400", "401", "403", "404")


async def run(h: Harness, stack: FaultStack) -> ScenarioResult:
    result = ScenarioResult(3, NAME)
    # faults start once the connection is made (auth's sign-in checks are not under test)
    conn = await h.connect(EVA, R3_DIVISION)
    before = await h.stats()
    await h.exact.patch_faults(**FAULTS, divisions=[R3_DIVISION])
    try:
        await run_reconciles(h, conn, result, stack.scale.run_timeout)
    finally:
        await h.exact.clear_faults()
    after = await h.stats()
    injected = {k: after["faults_injected"].get(k, 0) - before["faults_injected"].get(k, 0)
                for k in after["faults_injected"]}
    calls = after["calls_by_division"].get(str(R3_DIVISION), 0) - \
        before["calls_by_division"].get(str(R3_DIVISION), 0)
    client_errors = sum(after["status_counts"].get(s, 0) - before["status_counts"].get(s, 0)
                        for s in CLIENT_ERRORS)
    blocked = after["rule_violations"].get("error_budget_blocked", 0) - \
        before["rule_violations"].get("error_budget_blocked", 0)
    result.figures.update({
        "calls": calls,
        **{f"injected_{k}": v for k, v in sorted(injected.items()) if v},
        "answers_4xx": client_errors,
        "error_budget_blocks": blocked,
        "responses_429": after["responses_429"] - before["responses_429"],
    })
    result.expect(sum(injected.values()) > 0, "no fault was injected")
    result.expect(blocked == 0, f"Exact blocked an endpoint {blocked} times (error budget)")
    return result
