"""Runs, checkpoints and leases in PostgreSQL (schema ``ingest``).

Every write of a run's executor is fenced by its lease: the statement only touches the
run while ``owner`` is still the caller, else :class:`LeaseLost` - a replica whose lease
expired can never move a checkpoint that another replica now owns. Run events go to the
outbox in the same transaction as the state they announce.

Size: the ``RunStore`` port's one PostgreSQL implementation; the page statement, the refresh
hashes and the trial-balance rows already live in their own modules, and what is left are the
run's fenced transactions, which share the lease rule.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connector_runtime.persistence.inbox import first_delivery
from connector_runtime.persistence.outbox import add_to_outbox
from contracts import RUN_EVENTS, InitialRunRequested, Message, RecreateAccepted
from ingest.adapters import refresh_store, trial_store
from ingest.adapters.page_statement import (
    CHECKPOINT_UPDATE,
    checkpoint_params,
    page_statement,
    run_alone,
)
from ingest.adapters.sync_states import record_completed, switch_grant, utc_now
from ingest.adapters.tables import inbox, outbox, run_checkpoints, runs
from ingest.domain.errors import LeaseLost
from ingest.domain.lifecycle import RESUMED_ON_GRANT, RESUMED_ON_REQUEST, TAKES_NEW_GRANT
from ingest.domain.model import CLAIMABLE, INCREMENTAL, EntityCheckpoint, Run, RunStatus
from ingest.domain.refresh import PageHashes
from ingest.domain.schedule import SyncSchedule
from ingest.domain.trial_balance import TrialPage
from ingest.domain.years import BY_YEAR
from ingest.entities import CATALOG

_CLAIMABLE = [s.value for s in CLAIMABLE]
_CLAIM_LOCK = 0x1E57_C1A1
"""Advisory lock key serialising the claims of all replicas (one company, one replica)."""


class PostgresRunStore:
    def __init__(self, engine: AsyncEngine, *, notify: Callable[[], None] = lambda: None,
                 schedule: SyncSchedule | None = None,
                 now: Callable[[], datetime] = utc_now) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._notify = notify
        self._schedule = schedule or SyncSchedule()
        self._now = now

    # ---- requests (one transaction per message, deduplicated by message_id) ------------------

    async def record_request(self, consumer: str, message: InitialRunRequested) -> str:
        """Record a requested run: 'recorded', 'resumed' (a failed run asked again,
        :func:`ingest.domain.lifecycle.requested_again`), 'duplicate'."""
        p = message.payload
        async with self._engine.begin() as conn:
            if not await first_delivery(conn, inbox, consumer, message.message_id):
                return "duplicate"
            inserted = await conn.execute(
                insert(runs).values(
                    run_id=p.run_id, datasource_id=message.datasource_id,
                    correlation_id=message.correlation_id, kind=p.kind, division=p.division,
                    grant_id=p.grant_id, entities=list(CATALOG.ordered(p.entities)),
                    date_from=p.date_from, date_to=p.date_to, status=RunStatus.PENDING.value,
                ).on_conflict_do_nothing().returning(runs.c.run_id))
            if inserted.first() is not None:
                await conn.execute(insert(run_checkpoints),
                                   [{"run_id": p.run_id, "entity": str(e)} for e in p.entities])
                return "recorded"
            resumed = await conn.execute(
                runs.update().where(runs.c.run_id == p.run_id,
                                    runs.c.status.in_([s.value for s in RESUMED_ON_REQUEST]))
                .values(status=RunStatus.PENDING.value, grant_id=p.grant_id, error_code=None,
                        error_reason=None, finished_at=None, owner=None, updated_at=sa.func.now()))
            if not resumed.rowcount:
                return "duplicate"
            # asked again: the entities that failed are tried again (from where they stopped)
            await conn.execute(run_checkpoints.update()
                               .where(run_checkpoints.c.run_id == p.run_id)
                               .values(failed_code=None, failed_reason=None))
            return "resumed"

    async def apply_recreate(self, consumer: str, message: RecreateAccepted) -> int:
        """The data source has a new grant: active runs use it; paused runs resume
        (:func:`ingest.domain.lifecycle.granted_again`)."""
        async with self._engine.begin() as conn:
            if not await first_delivery(conn, inbox, consumer, message.message_id):
                return 0
            active = runs.c.status.in_([s.value for s in TAKES_NEW_GRANT])
            await conn.execute(runs.update().where(runs.c.datasource_id == message.datasource_id,
                                                   active)
                               .values(grant_id=message.payload.grant_id,
                                       updated_at=sa.func.now()))
            await switch_grant(conn, message.datasource_id, message.payload.grant_id)
            resumed = await conn.execute(
                runs.update().where(runs.c.datasource_id == message.datasource_id,
                                    runs.c.status.in_([s.value for s in RESUMED_ON_GRANT]))
                .values(status=RunStatus.PENDING.value, error_code=None, error_reason=None,
                        updated_at=sa.func.now()))
            return int(resumed.rowcount)

    # ---- leases ----------------------------------------------------------------------------

    async def claim(self, owner: str, limit: int, lease: timedelta) -> list[uuid.UUID]:
        """Take up to ``limit`` runs nobody holds (or whose lease expired).

        A company (division) is driven by one replica at a time: a run whose company has a
        run under another replica's live lease is left alone. Claims are serialised by a
        transaction-scoped advisory lock, so two replicas claiming at once cannot each take
        a run of the same company (a claim is one short statement, once a second or so per
        replica)."""
        if limit <= 0:
            return []
        other = runs.alias("other")
        held_elsewhere = sa.exists().where(
            other.c.division == runs.c.division, other.c.run_id != runs.c.run_id,
            other.c.owner.is_not(None), other.c.owner != owner,
            other.c.lease_expires_at >= sa.func.now())
        free = (sa.select(runs.c.run_id)
                .where(runs.c.status.in_(_CLAIMABLE),
                       sa.or_(runs.c.owner.is_(None), runs.c.lease_expires_at < sa.func.now()),
                       sa.or_(runs.c.not_before.is_(None), runs.c.not_before <= sa.func.now()),
                       ~held_elsewhere)
                # initial runs and re-imports first: scheduled syncs never starve them
                .order_by(sa.case((runs.c.kind == INCREMENTAL, 1), else_=0), runs.c.created_at)
                .limit(limit)
                .with_for_update(of=runs, skip_locked=True).scalar_subquery())
        async with self._engine.begin() as conn:
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CLAIM_LOCK)))
            claimed = await conn.execute(
                runs.update().where(runs.c.run_id.in_(free))
                .values(owner=owner, lease_expires_at=sa.func.now() + lease,
                        updated_at=sa.func.now())
                .returning(runs.c.run_id))
            return list(claimed.scalars())

    async def renew(self, owner: str, run_ids: Sequence[uuid.UUID], lease: timedelta
                    ) -> set[uuid.UUID]:
        """Extend the leases still ours; the ids missing from the answer were lost."""
        if not run_ids:
            return set()
        async with self._engine.begin() as conn:
            kept = await conn.execute(
                runs.update().where(runs.c.run_id.in_(list(run_ids)), runs.c.owner == owner)
                .values(lease_expires_at=sa.func.now() + lease).returning(runs.c.run_id))
            return set(kept.scalars())

    async def release(self, owner: str, run_ids: Sequence[uuid.UUID]) -> None:
        """Give runs back (shutdown): another replica may take them at once."""
        if not run_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(runs.update().where(runs.c.run_id.in_(list(run_ids)),
                                                   runs.c.owner == owner)
                               .values(owner=None, lease_expires_at=None))

    async def divisions(self, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """The company (division) of each run."""
        async with self._engine.connect() as conn:
            found = await conn.execute(sa.select(runs.c.run_id, runs.c.division)
                                       .where(runs.c.run_id.in_(list(run_ids))))
            return {row.run_id: row.division for row in found}

    # ---- the executor's reads and fenced writes ----------------------------------------------

    async def load(self, run_id: uuid.UUID) -> Run | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(runs).where(runs.c.run_id == run_id))).first()
            if row is None:
                return None
            cps = (await conn.execute(sa.select(run_checkpoints)
                                      .where(run_checkpoints.c.run_id == run_id))).all()
        run = Run(run_id=row.run_id, datasource_id=row.datasource_id,
                  correlation_id=row.correlation_id, kind=row.kind, division=row.division,
                  grant_id=row.grant_id, entities=tuple(row.entities), date_from=row.date_from,
                  date_to=row.date_to, status=RunStatus(row.status), calls_used=row.calls_used,
                  batches=row.batches, started_at=row.started_at, finished_at=row.finished_at,
                  error_code=row.error_code, error_reason=row.error_reason,
                  waiting_reason=row.waiting_reason)
        for cp in cps:
            run.checkpoints[cp.entity] = EntityCheckpoint(
                entity=cp.entity, cursor=cp.cursor, next_batch_seq=cp.next_batch_seq,
                rows=cp.rows, pages=cp.pages, amount_sum=cp.amount_sum, debit_sum=cp.debit_sum,
                id_hash=int(cp.id_hash), max_timestamp=cp.max_timestamp, count_sum=cp.count_sum,
                deleted=cp.deleted, done=cp.done, failed_code=cp.failed_code,
                failed_reason=cp.failed_reason, dropped_fields=tuple(cp.dropped_fields),
                year=cp.year, year_rows={int(y): int(n) for y, n in cp.year_rows.items()})
        return run

    async def known_rows(self, datasource_id: uuid.UUID) -> dict[str, int]:
        """Rows per entity of the data source's latest complete full read (an initial run or
        a re-import without dates): what a run's plan expects, without asking Exact."""
        # one row per entity, the latest-started read's (a run not started yet counts oldest)
        reads = (sa.select(run_checkpoints.c.entity, run_checkpoints.c.rows)
                 .ext(distinct_on(run_checkpoints.c.entity))
                 .join(runs, runs.c.run_id == run_checkpoints.c.run_id)
                 .where(runs.c.datasource_id == datasource_id,
                        runs.c.kind != INCREMENTAL, runs.c.date_from.is_(None),
                        runs.c.date_to.is_(None), run_checkpoints.c.done)
                 .order_by(run_checkpoints.c.entity, runs.c.started_at.desc().nulls_last()))
        async with self._engine.connect() as conn:
            return {row.entity: row.rows for row in await conn.execute(reads)}

    async def known_year_rows(self, datasource_id: uuid.UUID) -> dict[str, dict[int, int]]:
        """Rows per year of the by-year entities (ReportingBalance) in the data source's latest
        complete full read that read them by year: what their per-year reads will cost."""
        reads = (sa.select(run_checkpoints.c.entity, run_checkpoints.c.year_rows)
                 .ext(distinct_on(run_checkpoints.c.entity))
                 .join(runs, runs.c.run_id == run_checkpoints.c.run_id)
                 .where(runs.c.datasource_id == datasource_id,
                        runs.c.kind != INCREMENTAL, runs.c.date_from.is_(None),
                        runs.c.date_to.is_(None), run_checkpoints.c.done,
                        run_checkpoints.c.year.is_not(None),
                        run_checkpoints.c.entity.in_(sorted(BY_YEAR)))
                 .order_by(run_checkpoints.c.entity, runs.c.started_at.desc().nulls_last()))
        async with self._engine.connect() as conn:
            return {row.entity: {int(y): int(n) for y, n in row.year_rows.items()}
                    for row in await conn.execute(reads)}

    async def current_grant(self, run_id: uuid.UUID) -> uuid.UUID | None:
        async with self._engine.connect() as conn:
            grant: uuid.UUID | None = await conn.scalar(
                sa.select(runs.c.grant_id).where(runs.c.run_id == run_id))
            return grant

    async def start(self, run: Run, owner: str, events: Sequence[Message]) -> None:
        async with self._engine.begin() as conn:
            started_at = await self._fenced(
                conn, run, owner, status=RunStatus.RUNNING.value,
                started_at=sa.func.coalesce(runs.c.started_at, sa.func.now()),
                not_before=None, waiting_reason=None, error_code=None, error_reason=None)
            await add_to_outbox(conn, outbox, RUN_EVENTS, *events)
        run.status, run.started_at = RunStatus.RUNNING, started_at
        self._sent(events)

    async def save_page(self, run: Run, checkpoint: EntityCheckpoint, owner: str,
                        events: Sequence[Message],
                        also: Sequence[EntityCheckpoint] = (),
                        hashes: PageHashes | None = None,
                        trial: TrialPage | None = None) -> None:
        # one statement moves the run, the page's checkpoint and the page's upserts (of hashes
        # and trial rows); each part writes only if the run was updated, so when the lease is
        # lost none of them does
        params = checkpoint_params(run, checkpoint)
        params.update(owner=owner, calls_used=run.calls_used, batches=run.batches)
        parts: list[str] = []
        if hashes is not None and hashes.hashes:
            parts.append(refresh_store.UPSERT_HASHES)
            params.update(refresh_store.upsert_params(run, hashes))
        for sql, values in trial_store.upserts(run, trial) if trial is not None else ():
            parts.append(sql)
            params.update(values)
        statement = page_statement(tuple(parts))
        alone = not also and not events and not (hashes is not None and hashes.sweep) and (
            trial is None or trial_store.upserts_are_all(trial))
        if alone:  # most pages: the statement is all, and atomic by itself (no BEGIN, COMMIT)
            async with self._autocommit.connect() as conn:
                if not await run_alone(conn, statement, params):
                    raise LeaseLost(f"run {run.run_id} is no longer owned by {owner}")
            return
        async with self._engine.begin() as conn:
            if (await conn.execute(statement, params)).first() is None:
                raise LeaseLost(f"run {run.run_id} is no longer owned by {owner}")
            for cp in also:
                await conn.execute(CHECKPOINT_UPDATE, checkpoint_params(run, cp))
            if hashes is not None:
                await refresh_store.sweep_hashes(conn, run, hashes)
            if trial is not None:
                await trial_store.write_trial(conn, run, trial, upserted=True)
            await add_to_outbox(conn, outbox, RUN_EVENTS, *events)
        self._sent(events)

    # ---- refresh hashes (entities without a sync endpoint) ---------------------------------

    async def differing(self, datasource_id: uuid.UUID, page: PageHashes) -> set[str]:
        return await refresh_store.differing(self._engine, datasource_id, page)

    def vanished(self, run: Run, page: PageHashes, chunk: int
                 ) -> AsyncGenerator[list[str], None]:
        return refresh_store.vanished(self._engine, run, page, chunk)

    async def finish(self, run: Run, owner: str, status: RunStatus, events: Sequence[Message],
                     not_before: datetime | None = None) -> None:
        values: dict[str, Any] = {
            "status": status.value, "owner": None, "lease_expires_at": None,
            "not_before": not_before, "calls_used": run.calls_used, "batches": run.batches,
            "error_code": run.error_code, "error_reason": run.error_reason,
            "waiting_reason": run.waiting_reason,
        }
        if status.finished:
            values["finished_at"] = sa.func.now()
        async with self._engine.begin() as conn:
            await self._fenced(conn, run, owner, **values)
            if status is RunStatus.COMPLETED:
                await record_completed(conn, run, self._schedule, self._now())
            await add_to_outbox(conn, outbox, RUN_EVENTS, *events)
        run.status = status
        self._sent(events)

    async def _fenced(self, conn: AsyncConnection, run: Run, holder: str, **values: Any
                      ) -> datetime:
        """Update the run while ``holder`` owns it; returns its ``started_at``."""
        statement = (runs.update().where(runs.c.run_id == run.run_id, runs.c.owner == holder)
                     .values(updated_at=sa.func.now(), **values).returning(runs.c.started_at))
        done = (await conn.execute(statement)).first()
        if done is None:
            raise LeaseLost(f"run {run.run_id} is no longer owned by {holder}")
        started: datetime = done.started_at
        return started

    def _sent(self, events: Sequence[Message]) -> None:
        if events:
            self._notify()
