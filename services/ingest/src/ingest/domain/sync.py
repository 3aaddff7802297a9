"""Incremental-sync planning: which entities an incremental run reads, and what a completed run
changes in a data source's sync state (cursors, next sync, next full refresh, entities owed).

A completed initial or incremental run moves the Timestamp cursors forward (never back). A run
that read every sync entity sets when the next incremental run is due; a targeted run (the
entities Exact's webhooks notified) leaves that safety net where it was. A run that read every
entity without a sync endpoint in full schedules the next refresh, later for a company whose
refresh is expensive (:meth:`ingest.domain.schedule.SyncSchedule.refresh_interval`). An entity a run could not
import is read again by the next incremental run: a sync entity from its last good cursor, an
entity without a sync endpoint in full (``retry``). The clock is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ingest.domain.catalog import DELETED, EntityCatalog
from ingest.domain.model import INCREMENTAL, Run
from ingest.domain.schedule import SyncSchedule

SYNC_FROM_KINDS = ("initial", INCREMENTAL)
"""Runs whose completion moves the cursors (a re-import reads bulk endpoints: no Timestamps)."""


@dataclass(frozen=True)
class SyncState:
    """A data source's sync state as stored."""

    cursors: dict[str, int]
    interval_seconds: float | None = None
    refresh_interval_seconds: float | None = None
    retry: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncUpdate:
    """What a completed run writes to its data source's sync state."""

    cursors: dict[str, int]
    retry: tuple[str, ...]
    next_due_at: datetime
    moves_next_due: bool
    """False for a targeted run: the scheduled sync stays where it was (the new state's first
    ``next_due_at`` is still this one)."""
    refresh_due_at: datetime | None
    """The next full refresh, when this run was one (None: unchanged)."""


def _whole(run: Run) -> bool:
    return run.date_from is None and run.date_to is None


def run_cursors(run: Run, catalog: EntityCatalog) -> dict[str, int]:
    """Timestamp cursors a completed run reached (only entities it read from sync endpoints)."""
    if not _whole(run):
        return {}
    return {cp.entity: cp.max_timestamp for cp in run.checkpoints.values()
            if not cp.failed  # read again from where the last good run left it
            and (cp.entity in catalog.sync or cp.entity == DELETED) and cp.max_timestamp}


def retry_entities(run: Run, before: Sequence[str], catalog: EntityCatalog) -> tuple[str, ...]:
    """Entities without a sync endpoint that the next incremental run must read in full: those
    this run could not import, and those still owed from before that it did not read in full.
    (Sync entities need no list: every incremental run reads them from their cursor.)"""
    read = {cp.entity for cp in run.checkpoints.values() if cp.done and _whole(run)}
    failed = {cp.entity for cp in run.checkpoints.values() if cp.failed}
    owed = (set(before) | failed) - read
    return tuple(sorted(e for e in owed if e in catalog.refresh))


def refreshed(run: Run, catalog: EntityCatalog) -> bool:
    """The run read every entity without a sync endpoint in full."""
    return _whole(run) and all(e in run.checkpoints for e in catalog.refresh)


def refresh_cost(run: Run, catalog: EntityCatalog) -> int:
    """Calls the run spent on the entities without a sync endpoint (one call a page)."""
    return sum(cp.pages for cp in run.checkpoints.values() if cp.entity in catalog.refresh)


def completed(run: Run, state: SyncState | None, schedule: SyncSchedule, now: datetime,
              catalog: EntityCatalog) -> SyncUpdate | None:
    """The sync state after ``run`` completed (None: the run does not move it)."""
    if run.kind not in SYNC_FROM_KINDS:
        return None
    reached = {e: 1 for e in (*catalog.synced, DELETED)}  # nothing read yet: from the start
    reached.update(run_cursors(run, catalog))
    merged = dict(state.cursors) if state else {}
    for entity, ts in reached.items():
        merged[entity] = max(int(merged.get(entity, 0)), ts)
    return SyncUpdate(
        cursors=merged,
        retry=retry_entities(run, state.retry if state else (), catalog),
        next_due_at=schedule.next_due(now, state.interval_seconds if state else None),
        moves_next_due=all(e in run.checkpoints for e in catalog.sync),
        refresh_due_at=schedule.next_refresh(
            now, state.refresh_interval_seconds if state else None,
            cost_calls=refresh_cost(run, catalog)) if refreshed(run, catalog) else None)


def incremental_entities(catalog: EntityCatalog, *, refresh_due: bool,
                         retry: Sequence[str] = ()) -> tuple[str, ...]:
    """An incremental run's entities, in import order: the sync entities and ``sync/Deleted``,
    the entities without a sync endpoint when their full refresh is due, and those owed."""
    entities = [*catalog.synced, DELETED, *(catalog.refresh if refresh_due else ()), *retry]
    return catalog.ordered(entities)
