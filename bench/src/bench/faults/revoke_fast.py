"""R11: a grant withdrawn mid-run is noticed in seconds, with Exact's real token lifetime.

Tokens live 600 s here (Exact's ``expires_in``), so nothing refreshes by itself during the
run: the withdrawal shows only as API calls answered 401. Ingest retries a 401 twice with
the same token (after 2 s and 4 s: most of the ~6 s measured, as in R4), then reports the
token refused; auth asks Exact for a new
one at once, Exact answers ``invalid_grant``, the grant is revoked and the data source
needs re-authorization. Goal: < 60 s from the withdrawal (and from Exact's refusal of the
refresh) to ``DataSourceNeedsReauthorization``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bench.faults.result import ScenarioResult
from bench.faults.stack import R11_DIVISION, FaultStack
from bench.faults.watch import set_limits
from bench.harness import EVA, Harness
from contracts import DataSourceNeedsReauthorization, GrantRevoked, RunFailed, RunProgress

NAME = "revocation noticed fast"
GOAL_S = 60.0


async def run(h: Harness, stack: FaultStack) -> ScenarioResult:
    result = ScenarioResult(11, NAME)
    old = await set_limits(h, access_token_lifetime_s=600)
    try:
        conn = await h.connect(EVA, R11_DIVISION)
        ds, run_id = conn.datasource_id, conn.run_id
        await h.log.wait(lambda m: isinstance(m, RunProgress) and m.payload.run_id == run_id
                         and m.payload.calls_used >= 3, 120, "the run under way")
        ours = [g for g in await h.exact.grants()
                if g["username"] == EVA.username and R11_DIVISION in g["divisions"]
                and not g["withdrawn"]][-1:]
        result.expect(len(ours) == 1, "the run's grant is not at the sandbox")
        at = datetime.now(UTC)
        for grant in ours:
            await h.exact.withdraw(grant_id=grant["id"])
        needs = await h.log.wait(lambda m: isinstance(m, DataSourceNeedsReauthorization)
                                 and m.datasource_id == ds, 300, "DataSourceNeedsReauthorization")
        revoked = await h.log.wait(lambda m: isinstance(m, GrantRevoked)
                                   and m.payload.grant_id == conn.grant_id, 60, "GrantRevoked")
        paused = await h.log.wait(lambda m: isinstance(m, RunFailed)
                                  and m.payload.run_id == run_id, 120, "the run paused")
    finally:
        await set_limits(h, **old)
    detail = await h.datasource(ds)
    since_withdrawal = (needs.occurred_at - at).total_seconds()
    since_refusal = (needs.occurred_at - revoked.occurred_at).total_seconds()
    assert isinstance(paused, RunFailed)
    result.figures.update({
        "token_lifetime_s": 600,
        "withdrawal_to_needs_reauthorization_s": round(since_withdrawal, 1),
        "refresh_refused_to_needs_reauthorization_s": round(max(0.0, since_refusal), 1),
        "state": detail["state"], "run": paused.payload.reason_code,
    })
    result.expect(detail["state"] == "needs_reauthorization",
                  f"data source state {detail['state']!r}")
    result.expect(paused.payload.reason_code == "grant_revoked",
                  f"the run ended with {paused.payload.reason_code}")
    result.expect(since_withdrawal < GOAL_S,
                  f"needs re-authorization {since_withdrawal:.0f} s after the withdrawal "
                  f"(goal < {GOAL_S:.0f} s)")
    return result
