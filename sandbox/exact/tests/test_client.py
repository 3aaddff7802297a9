"""The typed admin client: each call reaches its admin path and a refusal raises."""

from __future__ import annotations

import pytest

from exact_sandbox.client import SandboxAdminError
from exact_sandbox.testing import T0, Env


async def test_the_admin_client_sets_and_reads_what_the_sandbox_serves(env: Env) -> None:
    admin = env.admin
    assert (await admin.health())["ok"] is True
    assert (await admin.clock(advance=60))["now_ms"] == int((T0 + 60) * 1000)
    assert (await admin.limits(minutely=7))["minutely"] == 7
    assert (await admin.limits())["minutely"] == 7
    await admin.reset_limits()
    assert (await admin.set_faults(error_5xx_rate=0.5))["error_5xx_rate"] == 0.5
    assert (await admin.patch_faults(division=200003, latency_ms=5))["latency_ms"] == 5
    await admin.clear_faults(division=200003)
    await admin.clear_faults()
    assert (await admin.faults())["error_5xx_rate"] == 0.0
    assert (await admin.model(int64_as_string=True))["int64_as_string"] is True
    await admin.reset_model()
    assert (await admin.model())["int64_as_string"] is False
    grant = await admin.grant("anna.admin@demo.nl")
    assert any(g["id"] == grant["grant_id"] for g in await admin.grants())
    assert grant["access_token"] in (await admin.tokens())["access_tokens"]
    changed = await admin.change(100001, entity="TransactionLines", insert=2)
    assert changed["inserted"]  # the lines of two new entries
    assert (await admin.expected(100001))["data_version"] == 1
    assert await admin.withdraw(grant_id=grant["grant_id"]) == [grant["grant_id"]]
    assert (await admin.stats())["calls_total"] == 0  # admin calls are not API calls
    assert {d["code"] for d in await admin.divisions()} >= {100001, 200003}
    assert any(u["username"] == "anna.admin@demo.nl" for u in await admin.users())


async def test_a_refused_admin_call_raises_with_the_sandbox_text(env: Env) -> None:
    with pytest.raises(SandboxAdminError, match="unknown division 999") as refused:
        await env.admin.expected(999)
    assert refused.value.status == 404
