"""Incremental-sync state per data source (schema ``ingest``, table ``sync_states``).

A completed initial or incremental run moves the data source's Timestamp cursors forward
(never back) and sets when the next incremental run is due, in the transaction that
completes the run. The planner turns due data sources into ``incremental`` runs - only for
data sources with no active run (pending, running, waiting or paused), so incremental runs
never pile up behind a slow or paused run and never overlap another run of the source.

On a slower schedule (``refresh_due_at``) an incremental run also re-reads the entities
without a sync endpoint in full, diffed against ``refresh_hashes`` (see
:mod:`ingest.domain.refresh`). The next refresh is scheduled when a run that read them all
completes (the initial run, or an incremental run with the refresh), so a failed refresh is
tried again with the next incremental run. A targeted incremental run (the entities Exact's
webhooks notified, :mod:`ingest.adapters.notifications`) moves their cursors but not the next
scheduled sync, which stays the safety net for lost notifications. An entity a run could not
import (the run completed with errors) is read again by the next incremental run: a sync
entity from its last good cursor, an entity without a sync endpoint in full
(``retry_entities``). Those rules are :mod:`ingest.domain.sync`; this module reads and writes
the state they decide on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ingest.adapters.tables import run_checkpoints, runs, sync_states
from ingest.domain import sync
from ingest.domain.model import ACTIVE, INCREMENTAL, Run, RunStatus
from ingest.domain.schedule import SyncSchedule
from ingest.domain.sync import SyncState
from ingest.entities import CATALOG

_ACTIVE = [s.value for s in ACTIVE]


async def record_completed(conn: AsyncConnection, run: Run, schedule: SyncSchedule,
                           now: datetime) -> None:
    """A run completed: merge its cursors and schedule the data source's next sync."""
    current = (await conn.execute(
        sa.select(sync_states.c.cursors, sync_states.c.interval_seconds,
                  sync_states.c.refresh_interval_seconds, sync_states.c.retry_entities)
        .where(sync_states.c.datasource_id == run.datasource_id).with_for_update())).first()
    state = SyncState(dict(current.cursors), current.interval_seconds,
                      current.refresh_interval_seconds,
                      tuple(current.retry_entities)) if current else None
    update = sync.completed(run, state, schedule, now, CATALOG)
    if update is None:
        return
    values: dict[str, Any] = {
        "correlation_id": run.correlation_id, "division": run.division,
        "grant_id": run.grant_id, "cursors": update.cursors,
        "last_run_id": run.run_id, "updated_at": sa.func.now(),
        "retry_entities": list(update.retry)}
    if update.moves_next_due:
        values["next_due_at"] = update.next_due_at
    if update.refresh_due_at is not None:
        values["refresh_due_at"] = update.refresh_due_at
    stmt = insert(sync_states).values(
        datasource_id=run.datasource_id,
        **{"refresh_due_at": now, "next_due_at": update.next_due_at, **values})
    await conn.execute(stmt.on_conflict_do_update(index_elements=[sync_states.c.datasource_id],
                                                  set_=values))


async def switch_grant(conn: AsyncConnection, datasource_id: uuid.UUID,
                       grant_id: uuid.UUID) -> None:
    await conn.execute(sync_states.update().where(sync_states.c.datasource_id == datasource_id)
                       .values(grant_id=grant_id, updated_at=sa.func.now()))


def utc_now() -> datetime:
    return datetime.now(UTC)


class SyncPlanner:
    def __init__(self, engine: AsyncEngine, schedule: SyncSchedule, *,
                 now: Callable[[], datetime] = utc_now) -> None:
        self._engine = engine
        self._schedule = schedule
        self._now = now

    async def plan(self) -> list[uuid.UUID]:
        """Record an incremental run for each due data source without an active run (with
        the entities without a sync endpoint when its full refresh is due too)."""
        busy = sa.exists().where(runs.c.datasource_id == sync_states.c.datasource_id,
                                 runs.c.status.in_(_ACTIVE))
        created: list[uuid.UUID] = []
        async with self._engine.begin() as conn:
            due = (await conn.execute(
                sa.select(sync_states).where(sync_states.c.next_due_at <= sa.func.now(),
                                             ~busy)
                .order_by(sync_states.c.next_due_at).limit(self._schedule.max_per_pass)
                .with_for_update(skip_locked=True))).all()
            now = self._now()
            for state in due:
                run_id = uuid.uuid4()
                entities = sync.incremental_entities(
                    CATALOG, refresh_due=state.refresh_due_at <= now, retry=state.retry_entities)
                await conn.execute(runs.insert().values(
                    run_id=run_id, datasource_id=state.datasource_id,
                    correlation_id=state.correlation_id, kind=INCREMENTAL,
                    division=state.division, grant_id=state.grant_id, entities=list(entities),
                    status=RunStatus.PENDING.value))
                await conn.execute(run_checkpoints.insert(), [
                    {"run_id": run_id, "entity": e,
                     "max_timestamp": int(state.cursors[e]) if e in state.cursors else None}
                    for e in entities])
                await conn.execute(
                    sync_states.update()
                    .where(sync_states.c.datasource_id == state.datasource_id)
                    .values(next_due_at=self._schedule.next_due(now, state.interval_seconds),
                            updated_at=sa.func.now()))
                created.append(run_id)
        return created

    async def refresh_now(self, datasource_id: uuid.UUID) -> bool:
        """Re-read the entities without a sync endpoint with the next incremental run, now."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                sync_states.update().where(sync_states.c.datasource_id == datasource_id)
                .values(refresh_due_at=sa.func.now(), next_due_at=sa.func.now(),
                        updated_at=sa.func.now()))
            return bool(done.rowcount)

    async def set_interval(self, datasource_id: uuid.UUID, seconds: float | None) -> bool:
        """Override (or with None reset) one data source's interval; due again at once."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                sync_states.update().where(sync_states.c.datasource_id == datasource_id)
                .values(interval_seconds=seconds, next_due_at=sa.func.now(),
                        updated_at=sa.func.now()))
            return bool(done.rowcount)
