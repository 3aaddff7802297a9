"""The demo's call and 429 figures are the sandbox's, and a 429 under Exact's real limits
fails the demo (README: "without a single 429")."""

from __future__ import annotations

from connector_demo.sandbox_counts import SandboxCount, rate_limit_failure


def test_a_429_under_real_limits_fails_the_demo() -> None:
    failure = rate_limit_failure(SandboxCount(calls=500, responses_429=1, unauthorized=0), True)
    assert failure is not None and "1 of the run's 500 calls" in failure


def test_no_429_passes_and_lifted_limits_only_report() -> None:
    assert rate_limit_failure(SandboxCount(499, 0, 0), real_limits=True) is None
    assert rate_limit_failure(SandboxCount(499, 3, 0), real_limits=False) is None
