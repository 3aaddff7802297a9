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
(``retry_entities``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ingest.adapters.tables import run_checkpoints, runs, sync_states
from ingest.domain.model import ACTIVE, DELETED, INCREMENTAL, Run, RunStatus
from ingest.domain.schedule import SyncSchedule
from ingest.entities import CATALOG

SYNC_ENTITIES = CATALOG.synced
REFRESH_ENTITIES = CATALOG.refresh

_ACTIVE = [s.value for s in ACTIVE]
SYNC_FROM_KINDS = ("initial", INCREMENTAL)
"""Runs whose completion moves the cursors (a re-import reads bulk endpoints: no Timestamps)."""


def run_cursors(run: Run) -> dict[str, int]:
    """Timestamp cursors a completed run reached (only entities it read from sync endpoints)."""
    out: dict[str, int] = {}
    if run.date_from is not None or run.date_to is not None:
        return out
    for cp in run.checkpoints.values():
        if cp.failed:  # read again from where the last good run left it
            continue
        if (cp.entity in SYNC_ENTITIES or cp.entity == DELETED) and cp.max_timestamp:
            out[cp.entity] = cp.max_timestamp
    return out


async def record_completed(conn: AsyncConnection, run: Run, schedule: SyncSchedule) -> None:
    """A run completed: merge its cursors and schedule the data source's next sync."""
    if run.kind not in SYNC_FROM_KINDS:
        return
    cursors = run_cursors(run)
    for entity in (*SYNC_ENTITIES, DELETED):
        cursors.setdefault(entity, 1)  # nothing read yet: from the start ("Timestamp gt 1")
    current = (await conn.execute(
        sa.select(sync_states.c.cursors, sync_states.c.interval_seconds,
                  sync_states.c.refresh_interval_seconds, sync_states.c.retry_entities)
        .where(sync_states.c.datasource_id == run.datasource_id).with_for_update())).first()
    merged: dict[str, int] = dict(current.cursors) if current else {}
    for entity, ts in cursors.items():
        merged[entity] = max(int(merged.get(entity, 0)), ts)
    now = datetime.now(UTC)
    due = schedule.next_due(now, current.interval_seconds if current else None)
    values: dict[str, Any] = {
        "correlation_id": run.correlation_id, "division": run.division,
        "grant_id": run.grant_id, "cursors": merged,
        "last_run_id": run.run_id, "updated_at": sa.func.now(),
        "retry_entities": retry_entities(run, tuple(current.retry_entities) if current else ())}
    if all(e in run.checkpoints for e in SYNC_ENTITIES):
        # a targeted run (notified entities only) leaves the safety-net sync where it was
        values["next_due_at"] = due
    if refreshed(run):
        values["refresh_due_at"] = schedule.next_refresh(
            now, current.refresh_interval_seconds if current else None)
    stmt = insert(sync_states).values(datasource_id=run.datasource_id,
                                      **{"refresh_due_at": now, "next_due_at": due, **values})
    await conn.execute(stmt.on_conflict_do_update(index_elements=[sync_states.c.datasource_id],
                                                  set_=values))


def retry_entities(run: Run, before: tuple[str, ...]) -> list[str]:
    """Entities without a sync endpoint that the next incremental run must read in full: those
    this run could not import, and those still owed from before that it did not read in full.
    (Sync entities need no list: every incremental run reads them from their cursor.)"""
    whole = run.date_from is None and run.date_to is None
    read = {cp.entity for cp in run.checkpoints.values() if cp.done and whole}
    failed = {cp.entity for cp in run.checkpoints.values() if cp.failed}
    owed = (set(before) | failed) - read
    return sorted(e for e in owed if e in REFRESH_ENTITIES)


def refreshed(run: Run) -> bool:
    """The run read every entity without a sync endpoint in full."""
    whole = run.date_from is None and run.date_to is None
    return whole and all(e in run.checkpoints for e in REFRESH_ENTITIES)


async def switch_grant(conn: AsyncConnection, datasource_id: uuid.UUID,
                       grant_id: uuid.UUID) -> None:
    await conn.execute(sync_states.update().where(sync_states.c.datasource_id == datasource_id)
                       .values(grant_id=grant_id, updated_at=sa.func.now()))


class SyncPlanner:
    def __init__(self, engine: AsyncEngine, schedule: SyncSchedule) -> None:
        self._engine = engine
        self._schedule = schedule

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
            now = datetime.now(UTC)
            for state in due:
                run_id = uuid.uuid4()
                entities = [*SYNC_ENTITIES, DELETED]
                if state.refresh_due_at <= now:
                    entities += REFRESH_ENTITIES
                entities = list(CATALOG.ordered([*entities, *state.retry_entities]))
                await conn.execute(runs.insert().values(
                    run_id=run_id, datasource_id=state.datasource_id,
                    correlation_id=state.correlation_id, kind=INCREMENTAL,
                    division=state.division, grant_id=state.grant_id, entities=entities,
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
