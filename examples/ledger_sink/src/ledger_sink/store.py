"""The sink's PostgreSQL store: one table per entity, upserted idempotently.

A downstream team's store built only on the contracts: rows are keyed by
``(datasource_id, row_id)``; a batch is applied once (``applied_batches`` on
``(run_id, entity, batch_seq)``; LedgerDeletes on ``(run_id, "deletes",
batch_seq)``), and a row is only overwritten by a batch that is not older than
the one that wrote it, so replays and re-imports never regress data. Deletes
remove rows (deleted in Exact, or left out of a re-import's scope), so the
figures stay exact after changes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts import DataSourcePurged, Entity, LedgerBatch, LedgerDeletes, RunCompleted

SCHEMA = "ledger_sink"
metadata = sa.MetaData(schema=SCHEMA)


def _entity_table(entity: Entity) -> sa.Table:
    return sa.Table(
        f"rows_{entity.value.lower()}",
        metadata,
        sa.Column("datasource_id", sa.Uuid, primary_key=True),
        sa.Column("row_id", sa.Text, primary_key=True),
        sa.Column("financial_year", sa.Integer, nullable=True),
        sa.Column("financial_period", sa.Integer, nullable=True),
        sa.Column("amount_dc", sa.Numeric(20, 4), nullable=True),
        sa.Column("row", JSONB, nullable=False),
        sa.Column("run_id", sa.Uuid, nullable=False),
        sa.Column("source_time", sa.DateTime(timezone=True), nullable=False),
    )


ENTITY_TABLES: dict[Entity, sa.Table] = {entity: _entity_table(entity) for entity in Entity}

DELETES_KEY = "deletes"
"""``applied_batches.entity`` of LedgerDeletes messages (deduplicated like batches)."""

applied_batches = sa.Table(
    "applied_batches",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("entity", sa.Text, primary_key=True),
    sa.Column("batch_seq", sa.Integer, primary_key=True),
    sa.Column("datasource_id", sa.Uuid, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

completed_runs = sa.Table(
    "completed_runs",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("datasource_id", sa.Uuid, nullable=False, index=True),
    sa.Column("division", sa.Integer, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("totals", JSONB, nullable=False),
)

purged_runs = sa.Table(
    "purged_runs",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("datasource_id", sa.Uuid, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("purged_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)
"""Runs whose rows came from a company that was not the customer's (DataSourcePurged)."""

rejected_messages = sa.Table(
    "rejected_messages",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=True),
    sa.Column("rejected_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)


async def create_schema(conn: AsyncConnection, schema: str = SCHEMA) -> None:
    """Create the store in ``schema`` (connections translate ``SCHEMA`` to it, see
    :func:`in_schema`), so a rebuilt store can live beside the current one."""
    await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    await conn.run_sync(metadata.create_all)


def in_schema(engine: AsyncEngine, schema: str) -> AsyncEngine:
    """``engine`` whose statements address the store in ``schema`` instead of ``SCHEMA``."""
    if schema == SCHEMA:
        return engine
    return engine.execution_options(schema_translate_map={SCHEMA: schema})


def _row_values(entity: Entity, row: Any) -> dict[str, Any]:
    data = row.model_dump(mode="json")
    row_id = str(getattr(row, "id", None) if hasattr(row, "id") else row.code)
    return {
        "row_id": row_id.lower(),
        "financial_year": getattr(row, "financial_year", None) or getattr(row, "reporting_year", None),
        "financial_period": getattr(row, "financial_period", None)
        or getattr(row, "reporting_period", None),
        "amount_dc": getattr(row, "amount_dc", None),
        "row": data,
    }


async def apply_batch(conn: AsyncConnection, batch: LedgerBatch) -> bool:
    """Apply one batch in the caller's transaction; False when it was applied before."""
    p = batch.payload
    first = await conn.execute(
        insert(applied_batches)
        .values(run_id=p.run_id, entity=p.entity.value, batch_seq=p.batch_seq,
                datasource_id=batch.datasource_id, rows=len(p.rows))
        .on_conflict_do_nothing()
        .returning(applied_batches.c.run_id)
    )
    if first.first() is None:
        return False
    if not p.rows or await _purged(conn, p.run_id):
        return True
    table = ENTITY_TABLES[p.entity]
    values = [
        {**_row_values(p.entity, row), "datasource_id": batch.datasource_id, "run_id": p.run_id,
         "source_time": batch.occurred_at}
        for row in p.rows
    ]
    stmt = insert(table).values(values)
    excluded = stmt.excluded
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.c.datasource_id, table.c.row_id],
            set_={
                "financial_year": excluded.financial_year,
                "financial_period": excluded.financial_period,
                "amount_dc": excluded.amount_dc,
                "row": excluded.row,
                "run_id": excluded.run_id,
                "source_time": excluded.source_time,
            },
            where=table.c.source_time <= excluded.source_time,
        )
    )
    return True


async def _purged(conn: AsyncConnection, run_id: uuid.UUID) -> bool:
    found = await conn.execute(sa.select(purged_runs.c.run_id).where(purged_runs.c.run_id == run_id))
    return found.first() is not None


async def apply_purge(conn: AsyncConnection, message: DataSourcePurged) -> int:
    """Drop every row the purged runs wrote, and remember the runs so that their batches still
    on the way are ignored. Idempotent; returns the number of rows dropped."""
    p = message.payload
    if not p.run_ids:
        return 0
    await conn.execute(insert(purged_runs).values([
        {"run_id": run_id, "datasource_id": message.datasource_id, "reason": p.reason}
        for run_id in p.run_ids]).on_conflict_do_nothing())
    dropped = 0
    for table in ENTITY_TABLES.values():
        result = await conn.execute(table.delete().where(
            table.c.datasource_id == message.datasource_id, table.c.run_id.in_(p.run_ids)))
        dropped += result.rowcount or 0
    await conn.execute(completed_runs.delete().where(completed_runs.c.run_id.in_(p.run_ids)))
    return dropped


async def apply_deletes(conn: AsyncConnection, message: LedgerDeletes) -> bool:
    """Apply one LedgerDeletes in the caller's transaction; False when applied before.

    ``deleted``: the listed rows go (unless a later message wrote them again).
    ``replaced``: rows of the re-imported scope that the re-import run did not write go.
    """
    p = message.payload
    first = await conn.execute(
        insert(applied_batches)
        .values(run_id=p.run_id, entity=DELETES_KEY, batch_seq=p.batch_seq,
                datasource_id=message.datasource_id, rows=len(p.rows))
        .on_conflict_do_nothing()
        .returning(applied_batches.c.run_id)
    )
    if first.first() is None:
        return False
    by_entity: dict[Entity, list[str]] = {}
    for row in p.rows:
        by_entity.setdefault(row.entity, []).append(row.id.lower())
    for entity, ids in by_entity.items():
        table = ENTITY_TABLES[entity]
        await conn.execute(table.delete().where(
            table.c.datasource_id == message.datasource_id, table.c.row_id.in_(ids),
            table.c.source_time <= message.occurred_at))
    if p.replaced is not None:
        scope = p.replaced
        table = ENTITY_TABLES[scope.entity]
        where = [table.c.datasource_id == message.datasource_id, table.c.run_id != p.run_id,
                 table.c.source_time < message.occurred_at]
        if scope.date_from is not None:
            where.append(table.c.row["date"].astext >= scope.date_from.isoformat())
        if scope.date_to is not None:
            where.append(table.c.row["date"].astext <= scope.date_to.isoformat())
        year = sa.func.coalesce(table.c.financial_year,
                                table.c.row["fin_year"].astext.cast(sa.Integer))
        if scope.year_from is not None:
            where.append(year >= scope.year_from)
        if scope.year_to is not None:
            where.append(year <= scope.year_to)
        await conn.execute(table.delete().where(*where))
    return True


async def record_run_completed(conn: AsyncConnection, event: RunCompleted) -> None:
    p = event.payload
    if await _purged(conn, p.run_id):
        return
    await conn.execute(
        insert(completed_runs)
        .values(run_id=p.run_id, datasource_id=event.datasource_id, division=p.division,
                kind=p.kind, completed_at=event.occurred_at,
                totals=[t.model_dump(mode="json") for t in p.totals])
        .on_conflict_do_nothing()
    )


async def record_rejection(conn: AsyncConnection, topic: str, partition: int, offset: int,
                           reason: str, raw: bytes | None) -> None:
    await conn.execute(rejected_messages.insert().values(
        topic=topic, partition=partition, offset=offset, reason=reason, raw=raw))


async def last_completed_run(conn: AsyncConnection, datasource_id: uuid.UUID
                             ) -> dict[str, Any] | None:
    """The last run that read whole entities (incremental runs only send changes)."""
    row = (await conn.execute(
        sa.select(completed_runs).where(completed_runs.c.datasource_id == datasource_id,
                                        completed_runs.c.kind != "incremental")
        .order_by(completed_runs.c.completed_at.desc()).limit(1)
    )).mappings().first()
    return dict(row) if row else None


def utcnow() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
