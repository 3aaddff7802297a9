"""Full refresh of the entities without a sync endpoint: after an initial run, new
TransactionLines change ReportingBalance in the sandbox; the refresh sends exactly the
ReportingBalance rows that changed (one full read per entity, no more calls), the sink then
matches the sandbox for every entity, and a refresh without changes sends nothing.
"""

from __future__ import annotations

import math
import uuid
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import contracts as c
from connector_runtime.devstack.testing import Infra, eventually
from ingest.entities import CATALOG, ENTITIES
from ledger_sink.cli import sandbox_expected
from ledger_sink.reconcile import against_expected, figures
from ledger_sink.store import ENTITY_TABLES

pytestmark = pytest.mark.integration

RB = c.Entity.REPORTING_BALANCE
SYNC_PATHS = (*(s.path for s in ENTITIES.values() if s.synced), "sync/Deleted")


def _url(infra: Infra) -> str:
    return infra.database_url.replace("postgresql://", "postgresql+psycopg://")


async def sink_matches(engine: AsyncEngine, datasource_id: uuid.UUID, sandbox: Any) -> bool:
    """Every entity of the sink has the sandbox's rows, and ReportingBalance its amounts."""
    expected = await sandbox.expected()
    async with engine.connect() as conn:
        checks = against_expected(await figures(conn, datasource_id), sandbox_expected(expected))
        amounts = (await conn.execute(sa.text(
            "SELECT coalesce(sum((row->>'amount')::numeric), 0) AS amount, "
            "coalesce(sum((row->>'amount_debit')::numeric), 0) AS debit "
            "FROM ledger_sink.rows_reportingbalance WHERE datasource_id = :d"),
            {"d": datasource_id})).one()
    rb = expected["ReportingBalance"]
    checked = {ch.entity for ch in checks}
    return (checked == {e for e in c.Entity if e.value in expected} and all(ch.ok for ch in checks)
            and amounts.amount == Decimal(rb["sum_amount"])
            and amounts.debit == Decimal(rb["sum_amount_debit"]))


async def balances(engine: AsyncEngine, datasource_id: uuid.UUID) -> dict[str, Any]:
    table = ENTITY_TABLES[RB]
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(table.c.row_id, table.c.row)
                                   .where(table.c.datasource_id == datasource_id))).all()
    return {r.row_id: r.row for r in rows}


async def refresh_now(infra: Infra, datasource_id: uuid.UUID) -> None:
    engine = create_async_engine(_url(infra))
    async with engine.begin() as conn:
        done = await conn.execute(sa.text(
            "UPDATE ingest.sync_states SET next_due_at = now(), refresh_due_at = now() "
            "WHERE datasource_id = :d"), {"d": datasource_id})
        hashes = await conn.scalar(sa.text(
            "SELECT count(*) FROM ingest.refresh_hashes WHERE datasource_id = :d"),
            {"d": datasource_id})
    await engine.dispose()
    assert done.rowcount == 1 and hashes  # seeded by the initial run


async def test_a_refresh_sends_only_the_changed_rows_and_nothing_without_changes(
        infra: Infra, make_sandbox: Any, make_world: Any, tails: Any,
        sink: AsyncEngine) -> None:
    runs, batches = tails
    world = make_world(make_sandbox(lines=1_500))
    await world.start_app(incremental_interval_seconds=3600, incremental_jitter=0,
                          full_refresh_interval_seconds=7200)
    request = await world.request_run()
    ds = request.datasource_id
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted)
                                   and x.payload.run_id == request.payload.run_id for x in m))
    await eventually(lambda: sink_matches(sink, ds, world.sandbox), timeout=30)
    before = await balances(sink, ds)

    division = world.sandbox.division
    tl = await world.sandbox.admin.change(division, entity="TransactionLines", insert=3, delete=1)
    await world.sandbox.admin.reset_stats()
    expected = await world.sandbox.expected()

    async def refresh() -> c.RunCompleted:
        seen = {m.payload.run_id for m in runs.messages if isinstance(m, c.RunCompleted)}
        await refresh_now(infra, ds)

        def new_completed(msgs: list[c.Message]) -> bool:
            return any(isinstance(m, c.RunCompleted) and m.datasource_id == ds
                       and m.payload.run_id not in seen for m in msgs)

        await runs.until(new_completed)
        [done] = [m for m in runs.messages if isinstance(m, c.RunCompleted)
                  and m.datasource_id == ds and m.payload.run_id not in seen]
        assert done.payload.kind == "incremental"
        assert {str(t.entity) for t in done.payload.totals} >= set(CATALOG.refresh)
        await batches.until(lambda m: sum(1 for x in m if x.payload.run_id == done.payload.run_id)
                            >= done.payload.batches)
        return done

    done = await refresh()
    sent: dict[str, dict[str, Any]] = {}
    gone: set[tuple[str, str]] = set()
    for m in batches.of_run(done.payload.run_id):
        if isinstance(m, c.LedgerBatch):
            for r in m.payload.rows:  # type: ignore[union-attr]
                sent.setdefault(str(m.payload.entity), {})[str(getattr(r, "id")).lower()] = r  # noqa: B009
        else:
            assert m.payload.reason == "deleted"
            gone |= {(str(r.entity), r.id) for r in m.payload.rows}
    await eventually(lambda: sink_matches(sink, ds, world.sandbox), timeout=30)
    after = await balances(sink, ds)
    changed = {k for k in after if before.get(k) != after[k]}
    vanished = set(before) - set(after)
    assert changed  # the new lines moved some balances
    assert set(sent) == {"TransactionLines", "ReportingBalance"}
    assert set(sent["TransactionLines"]) == set(tl["inserted"])
    assert set(sent["ReportingBalance"]) == changed  # only the balances that changed
    assert len(changed) < len(after)
    assert gone == {("TransactionLines", i) for i in tl["deleted"]} | {
        ("ReportingBalance", i) for i in vanished}
    calls = (await world.sandbox.stats())["calls_by_endpoint"]
    rb_pages = sum(max(1, math.ceil(y["count"] / 60))  # read a year at a time
                   for y in expected["ReportingBalance"]["by_year"])
    assert calls["financial/ReportingBalance"] == rb_pages  # one full read, nothing more
    assert {p: calls[p] for p in SYNC_PATHS} == dict.fromkeys(SYNC_PATHS, 1)
    assert calls["system/Divisions"] == 1

    # nothing changed since: the refresh reads everything again and sends nothing
    quiet = await refresh()
    assert quiet.payload.batches == 0
    assert [m for m in batches.of_run(quiet.payload.run_id)] == []
    assert all(t.rows == 0 and not t.deleted for t in quiet.payload.totals)
    await eventually(lambda: sink_matches(sink, ds, world.sandbox), timeout=10)
