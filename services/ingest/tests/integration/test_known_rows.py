"""The rows a run's plan expects: per entity, the latest complete full read's count, read by
PostgreSQL as one row per entity from a data source's whole run history."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.adapters import tables
from ingest.adapters.repository import PostgresRunStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def _run(engine: AsyncEngine, datasource_id: uuid.UUID, kind: str, started_day: int | None,
               reads: dict[str, tuple[int, bool]], date_from: date | None = None) -> None:
    """A run of the data source started ``started_day`` days after T0 (None: not started),
    with its checkpoints: entity -> (rows, done)."""
    run_id = uuid.uuid4()
    started = None if started_day is None else T0 + timedelta(days=started_day)
    async with engine.begin() as conn:
        await conn.execute(sa.insert(tables.runs).values(
            run_id=run_id, datasource_id=datasource_id, correlation_id=uuid.uuid4(), kind=kind,
            division=4711, grant_id=uuid.uuid4(), entities=list(reads), date_from=date_from,
            status="completed", started_at=started))
        for entity, (rows, done) in reads.items():
            await conn.execute(sa.insert(tables.run_checkpoints).values(
                run_id=run_id, entity=entity, rows=rows, done=done))


async def test_the_latest_complete_full_read_of_each_entity_counts(engine: AsyncEngine) -> None:
    ds = uuid.uuid4()
    await _run(engine, ds, "initial", 0, {"GLAccounts": (10, True), "Journals": (5, True),
                                          "TransactionLines": (1_000, True)})
    # a re-import: GLAccounts read again; Journals not finished; TransactionLines failed
    await _run(engine, ds, "reimport", 7, {"GLAccounts": (12, True), "Journals": (3, False),
                                           "TransactionLines": (400, False)})
    # later reads that are not full reads, and a re-import not started yet, say nothing
    await _run(engine, ds, "incremental", 8, {"GLAccounts": (1, True), "Journals": (1, True)})
    await _run(engine, ds, "reimport", 9, {"GLAccounts": (2, True)}, date_from=date(2025, 1, 1))
    await _run(engine, ds, "reimport", None, {"GLAccounts": (99, True)})
    await _run(engine, uuid.uuid4(), "initial", 10, {"GLAccounts": (77, True)})  # another one
    store = PostgresRunStore(engine)
    assert await store.known_rows(ds) == {"GLAccounts": 12, "Journals": 5,
                                          "TransactionLines": 1_000}
    assert await store.known_rows(uuid.uuid4()) == {}
