"""After an initial run: the sandbox changes rows, the next incremental run sends exactly
those changes (and the deletions) with one call per sync endpoint, a re-import replaces
instead of duplicating, and the example sink reconciles exactly with the sandbox throughout.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import contracts as c
from connector_runtime.devstack.testing import Infra, eventually
from ingest.entities import ENTITIES
from ledger_sink.cli import sandbox_expected
from ledger_sink.reconcile import against_expected, figures

pytestmark = pytest.mark.integration

SYNCED = ("TransactionLines", "GLAccounts", "GLClassifications", "Accounts")


async def sink_matches(engine: AsyncEngine, datasource_id: uuid.UUID, sandbox: Any) -> bool:
    """The sink holds exactly the sandbox's current rows of the synced entities."""
    expected = await sandbox.expected()
    wanted = {k: v for k, v in sandbox_expected(expected).items() if k in SYNCED}
    async with engine.connect() as conn:
        checks = against_expected(await figures(conn, datasource_id), wanted)
    return bool(checks) and all(ch.ok for ch in checks)


async def make_due(infra: Infra, datasource_id: uuid.UUID) -> None:
    engine = create_async_engine(infra.database_url.replace("postgresql://",
                                                            "postgresql+psycopg://"))
    async with engine.begin() as conn:
        done = await conn.execute(sa.text(
            "UPDATE ingest.sync_states SET next_due_at = now() WHERE datasource_id = :d"),
            {"d": datasource_id})
    await engine.dispose()
    assert done.rowcount == 1


async def test_incremental_sync_sends_exactly_the_changes_and_a_reimport_replaces(
        infra: Infra, make_sandbox: Any, make_world: Any, tails: Any,
        sink: AsyncEngine) -> None:
    runs, batches = tails
    world = make_world(make_sandbox(lines=2_000))
    await world.start_app(incremental_interval_seconds=3600, incremental_jitter=0)
    request = await world.request_run()
    ds = request.datasource_id
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted)
                                   and x.payload.run_id == request.payload.run_id for x in m))
    await eventually(lambda: sink_matches(sink, ds, world.sandbox), timeout=30)

    # the sandbox changes rows; the next incremental run sends exactly those changes
    exact = world.sandbox.admin
    division = world.sandbox.division
    tl = await exact.change(division, entity="TransactionLines", insert=2, update=3, delete=2)
    acc = await exact.change(division, entity="Accounts", insert=1, update=2, delete=1)
    await exact.reset_stats()
    await make_due(infra, ds)

    def incremental_done(msgs: list[c.Message]) -> bool:
        return any(isinstance(m, c.RunCompleted) and m.datasource_id == ds
                   and m.payload.kind == "incremental" for m in msgs)

    await runs.until(incremental_done)
    [done] = [m for m in runs.messages if isinstance(m, c.RunCompleted) and m.datasource_id == ds
              and m.payload.kind == "incremental"]
    run_id = done.payload.run_id
    await batches.until(lambda m: sum(1 for x in m if x.payload.run_id == run_id)
                        >= done.payload.batches)
    sent: dict[str, set[str]] = {}
    gone: dict[str, set[str]] = {}
    balance_years: set[int] = set()
    for m in batches.of_run(run_id):
        if isinstance(m, c.LedgerBatch):
            sent.setdefault(str(m.payload.entity), set()).update(
                str(r.id) for r in m.payload.rows)  # type: ignore[union-attr]
            balance_years.update(getattr(r, "reporting_year", 0) for r in m.payload.rows
                                 if m.payload.entity == c.Entity.REPORTING_BALANCE)
        else:
            assert m.payload.reason == "deleted"
            for row in m.payload.rows:
                gone.setdefault(str(row.entity), set()).add(row.id)
    # the check's re-read sends the ReportingBalance rows of the changed periods that changed
    [check] = runs.of_run(run_id, c.TrialBalanceChecked)
    assert sent.pop("ReportingBalance") and balance_years <= set(check.payload.years_reread)
    gone.pop("ReportingBalance", None)
    # the sandbox may pick a row it updated for deletion too: then only sync/Deleted has it
    assert sent == {"TransactionLines": set(tl["inserted"]) | set(tl["updated"]) - set(tl["deleted"]),
                    "Accounts": set(acc["inserted"]) | set(acc["updated"]) - set(acc["deleted"])}
    assert gone == {"TransactionLines": set(tl["deleted"]), "Accounts": set(acc["deleted"])}
    totals = {str(t.entity): t for t in done.payload.totals}
    assert totals["TransactionLines"].deleted == len(tl["deleted"])
    assert totals["GLAccounts"].rows == 0
    calls = dict((await world.sandbox.stats())["calls_by_endpoint"])
    # the trial-balance check reads the years of the changed lines of ReportingBalance again
    rereads = calls.pop("financial/ReportingBalance", 0)
    assert rereads >= len(check.payload.years_reread) > 0
    synced = {s.path: 1 for s in ENTITIES.values() if s.synced} | {"sync/Deleted": 1}
    assert calls == synced  # the minimum: one page per sync endpoint
    assert done.payload.calls_used == len(synced) + rereads
    await eventually(lambda: sink_matches(sink, ds, world.sandbox), timeout=30)

    # rows deleted without a sync in between: only the re-import can tell the sink
    await exact.change(division, entity="TransactionLines", delete=3)
    reimport = await world.request_run(kind="reimport", datasource_id=ds,
                                       entities=(c.Entity.TRANSACTION_LINES,))
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted)
                                   and x.payload.run_id == reimport.payload.run_id for x in m))
    await eventually(lambda: sink_matches(sink, ds, world.sandbox), timeout=30)
    await batches.until(lambda m: any(isinstance(x, c.LedgerDeletes)
                                      and x.payload.run_id == reimport.payload.run_id for x in m))
    replaced = [m for m in batches.messages if isinstance(m, c.LedgerDeletes)
                and m.payload.run_id == reimport.payload.run_id]
    assert [m.payload.replaced.entity for m in replaced] == [c.Entity.TRANSACTION_LINES]
