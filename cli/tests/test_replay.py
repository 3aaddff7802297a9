"""Replay rebuilds a fresh sink (new schema, the same consumer group rewound) to the same
figures, and re-publishing copies exactly one data source's messages."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import contracts as c
from connector_cli.replay import republish, rewind_group
from connector_runtime.devstack.testing import Infra, eventually, read_records
from connector_runtime.messaging.broker import ensure_topics
from ledger_sink.consumer import LedgerSink
from ledger_sink.reconcile import figures

pytestmark = pytest.mark.integration


def _line(amount: str) -> c.Row:
    return c.ROW_MODELS[c.Entity.TRANSACTION_LINES].model_validate({
        "ID": uuid.uuid4(), "EntryID": uuid.uuid4(), "Division": 7, "Date": dt.date(2024, 1, 1),
        "FinancialYear": 2024, "FinancialPeriod": 1, "AmountDC": Decimal(amount)})


def _messages(ds: uuid.UUID) -> list[c.Message]:
    run_id = uuid.uuid4()
    rows = [[_line("10.00"), _line("-10.00")], [_line("5.55"), _line("-5.55"), _line("1.00")]]
    out: list[c.Message] = [c.LedgerBatch.create(datasource_id=ds, payload=c.BATCH_MODELS[c.Entity.TRANSACTION_LINES](
        run_id=run_id, kind="initial", division=7, batch_seq=i,
        entity=c.Entity.TRANSACTION_LINES, rows=tuple(r))) for i, r in enumerate(rows)]  # type: ignore[arg-type]
    gone = rows[1][2]
    out.append(c.LedgerDeletes.create(datasource_id=ds, payload=c.LedgerDeletesPayload(
        run_id=uuid.uuid4(), kind="incremental", division=7, batch_seq=0, reason="deleted",
        rows=(c.DeletedRow(entity=c.Entity.TRANSACTION_LINES, id=str(gone.id)),))))  # type: ignore[attr-defined]
    return out


async def _produce(infra: Infra, messages: list[c.Message]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        for m in messages:
            await producer.send_and_wait(c.LEDGER_BATCHES, m.to_bytes(), key=m.key)
    finally:
        await producer.stop()


async def _sink_until(engine: AsyncEngine, infra: Infra, group: str, schema: str,
                      ds: uuid.UUID, rows: int, timeout: float = 30) -> dict[c.Entity, object]:
    sink = LedgerSink(engine, infra.kafka_bootstrap_servers, group_id=group, schema=schema,
                      session_timeout_ms=2000)
    await sink.prepare()
    task = asyncio.create_task(sink.run())
    view = sink._engine  # the engine addressing ``schema``

    async def holds() -> bool:
        async with view.connect() as conn:
            return (await figures(conn, ds))[c.Entity.TRANSACTION_LINES].rows == rows

    try:
        await eventually(holds, timeout=timeout)
        async with view.connect() as conn:
            return dict(await figures(conn, ds))
    finally:
        sink.stop()
        await task


async def test_a_rewound_group_rebuilds_a_fresh_store_to_the_same_figures(infra: Infra) -> None:
    await ensure_topics(infra.kafka_bootstrap_servers, c.ALL_TOPICS, 6)
    ds, other = uuid.uuid4(), uuid.uuid4()
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await _produce(infra, _messages(ds) + _messages(other))
    engine = create_async_engine(infra.database_url.replace("postgresql://",
                                                            "postgresql+psycopg://"))
    group = f"sink-{uuid.uuid4().hex[:8]}"
    try:
        # a new group reads the shared ledger topic from its start, with every batch the
        # session's earlier tests sent: in the whole suite on a slow machine that took over 30 s
        first = await _sink_until(engine, infra, group, f"sink_a_{uuid.uuid4().hex[:8]}", ds, 4,
                                  timeout=180)
        start = await rewind_group(infra.kafka_bootstrap_servers, group, ds, since=before)
        assert start.offset < start.end_offset
        rebuilt = await _sink_until(engine, infra, group, f"sink_b_{uuid.uuid4().hex[:8]}",
                                    ds, 4)
    finally:
        await engine.dispose()
    assert rebuilt == first


async def test_republish_copies_only_the_data_source(infra: Infra) -> None:
    await ensure_topics(infra.kafka_bootstrap_servers, c.ALL_TOPICS, 6)
    ds, other = uuid.uuid4(), uuid.uuid4()
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await _produce(infra, _messages(ds) + _messages(other))
    target = f"replay-{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap_servers, (target,), 1)
    copied = await republish(infra.kafka_bootstrap_servers, ds, target, since=before)
    assert copied == 3
    records = await read_records(infra.kafka_bootstrap_servers, target,
                                 until=lambda recs: len(recs) >= 3, timeout=20)
    assert {r.key for r in records} == {str(ds).encode()}
