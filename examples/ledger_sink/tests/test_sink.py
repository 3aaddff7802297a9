"""The example sink applies ledger batches once, in any redelivery, and reconciles exactly."""

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import contracts as c
from connector_runtime.devstack.testing import Infra, eventually
from ledger_sink.consumer import LedgerSink
from ledger_sink.reconcile import against_last_run, figures

pytestmark = pytest.mark.integration


def line(amount: str, year: int = 2024, period: int = 1) -> c.Row:
    return c.ROW_MODELS[c.Entity.TRANSACTION_LINES].model_validate({
        "ID": uuid.uuid4(), "EntryID": uuid.uuid4(), "Division": 7, "Date": dt.date(year, period, 1),
        "FinancialYear": year, "FinancialPeriod": period, "AmountDC": Decimal(amount),
    })


def batch(ds: uuid.UUID, run_id: uuid.UUID, seq: int, rows: list[c.Row]) -> c.LedgerBatch:
    return c.LedgerBatch.create(datasource_id=ds, payload=c.BATCH_MODELS[c.Entity.TRANSACTION_LINES](
        run_id=run_id, kind="initial", division=7, batch_seq=seq,
        entity=c.Entity.TRANSACTION_LINES, rows=tuple(rows)))  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_sink(infra: Infra) -> AsyncIterator[tuple[LedgerSink, AsyncEngine]]:
    """A sink of its own consumer group, consuming until the block ends."""
    engine = create_async_engine(infra.database_url.replace("postgresql://", "postgresql+psycopg://"))
    sink = LedgerSink(engine, infra.kafka_bootstrap_servers, group_id=f"sink-{uuid.uuid4().hex[:8]}",
                      session_timeout_ms=2000)
    await sink.prepare()
    task = asyncio.create_task(sink.run())
    try:
        yield sink, engine
    finally:
        sink.stop()
        await task
        await engine.dispose()


async def test_batches_are_applied_once_and_reconcile_with_run_completed(infra: Infra) -> None:
    ds, run_id = uuid.uuid4(), uuid.uuid4()
    first = [line("100.10"), line("-100.10")]
    second = [line("12.34", period=2), line("-12.34", period=2), line("0.01", period=2)]
    batches = [batch(ds, run_id, 0, first), batch(ds, run_id, 1, second)]
    all_rows = first + second
    completed = c.RunCompleted.create(datasource_id=ds, payload=c.RunCompletedPayload(
        run_id=run_id, kind="initial", division=7, batches=2, calls_used=2, duration_seconds=1.0,
        totals=(c.EntityTotals(entity=c.Entity.TRANSACTION_LINES, rows=5, pages=2,
                               amount_dc_sum=Decimal("0.01"),
                               id_hash=c.id_hash(r.id for r in all_rows)),)))  # type: ignore[attr-defined]
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        for b in [*batches, batches[0], batches[1]]:  # redelivered batches
            await producer.send_and_wait(c.LEDGER_BATCHES, b.to_bytes(), key=b.key)
        await producer.send_and_wait(c.LEDGER_BATCHES, b"{garbage", key=ds.bytes)
        await producer.send_and_wait(c.RUN_EVENTS, completed.to_bytes(), key=completed.key)
    finally:
        await producer.stop()

    async with running_sink(infra) as (_sink, engine):

        async def reconciled() -> bool:
            async with engine.connect() as conn:
                checks = await against_last_run(conn, ds)
            return bool(checks) and all(ch.ok for ch in checks)

        await eventually(reconciled, timeout=30)
        async with engine.connect() as conn:
            figs = await figures(conn, ds)
    tl = figs[c.Entity.TRANSACTION_LINES]
    assert tl.rows == 5
    assert tl.amount_dc_sum == Decimal("0.01")
    assert tl.amount_dc_debit_sum == Decimal("112.45")
    assert {k: (v.rows, v.amount_dc_sum) for k, v in tl.per_period.items()} == {
        (2024, 1): (2, Decimal("0.00")), (2024, 2): (3, Decimal("0.01"))}


async def test_a_purge_drops_the_runs_rows_and_ignores_their_late_batches(infra: Infra) -> None:
    ds, purged_run, kept_run = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    purge = c.DataSourcePurged.create(datasource_id=ds, payload=c.DataSourcePurgedPayload(
        run_ids=(purged_run,), division=7, reason="not my company"))
    messages = [batch(ds, purged_run, 0, [line("1.00"), line("-1.00")]), purge,
                batch(ds, purged_run, 1, [line("5.00")]),  # late: still on its way
                batch(ds, kept_run, 0, [line("7.00", period=3)])]
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        for m in messages:
            await producer.send_and_wait(c.LEDGER_BATCHES, m.to_bytes(), key=m.key)
    finally:
        await producer.stop()
    async with running_sink(infra) as (sink, engine):

        async def kept_only() -> bool:
            async with engine.connect() as conn:
                figs = await figures(conn, ds)
            tl = figs.get(c.Entity.TRANSACTION_LINES)
            return tl is not None and sink.applied_batches >= 3 and tl.rows == 1

        await eventually(kept_only, timeout=30)
        async with engine.connect() as conn:
            tl = (await figures(conn, ds))[c.Entity.TRANSACTION_LINES]
    assert (tl.rows, tl.amount_dc_sum) == (1, Decimal("7.00"))
