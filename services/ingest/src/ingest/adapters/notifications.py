"""Exact's change notifications in PostgreSQL: accept (receiver), coalesce (consumer), plan.

``accept``: a verified notification for a division some data source syncs is published as
``ExactChangeNotified`` through the outbox, in the transaction that records its digest, so a
replayed delivery is refused and nothing is published twice. Unknown divisions are refused.

``record``: the consumer folds each event into ``pending_changes`` (one row per data source and
entity; the inbox makes a redelivered event a no-op).

``plan``: once a data source's changes have been quiet for ``debounce`` (or have waited
``max_wait``), and the data source has no active run, one incremental run reads only the
notified entities (and sync/Deleted when something was deleted) from their cursors. A burst
of 500 bookings becomes one run of a few pages. The scheduled incremental sync stays the
safety net for notifications that never came.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import contracts as c
from connector_runtime.persistence.inbox import first_delivery
from connector_runtime.persistence.outbox import add_to_outbox
from ingest import webhook_metrics as metrics
from ingest.adapters.notification_tables import pending_changes, webhook_receipts
from ingest.adapters.tables import inbox, outbox, run_checkpoints, runs, sync_states
from ingest.domain.model import ACTIVE, DELETED, INCREMENTAL, RunStatus
from ingest.domain.notifications import Notification, Refused
from ingest.entities import CATALOG

NOTIFICATIONS_CONSUMER = "ingest.change-notifications"
_ACTIVE = [s.value for s in ACTIVE]


class NotificationStore:
    def __init__(self, engine: AsyncEngine, *, notify: Callable[[], None] = lambda: None,
                 debounce: timedelta = timedelta(seconds=2),
                 max_wait: timedelta = timedelta(seconds=10)) -> None:
        self._engine = engine
        self._notify = notify
        self._debounce = debounce
        self._max_wait = max_wait

    async def accept(self, n: Notification, received_at: datetime) -> int:
        """Publish the notification for each data source of its division; refuses a replay or
        an unknown division (:class:`Refused`). Returns the number of events queued."""
        async with self._engine.begin() as conn:
            sources = (await conn.execute(
                sa.select(sync_states.c.datasource_id, sync_states.c.correlation_id)
                .where(sync_states.c.division == n.division))).all()
            if not sources:
                raise Refused("unknown_division", f"no data source syncs division {n.division}")
            fresh = await conn.execute(insert(webhook_receipts)
                                       .values(digest=n.digest, received_at=received_at)
                                       .on_conflict_do_nothing()
                                       .returning(webhook_receipts.c.digest))
            if fresh.first() is None:
                raise Refused("replayed", "this notification was accepted before")
            payload = c.ExactChangeNotifiedPayload(
                division=n.division, topic=n.topic, action=n.action,  # type: ignore[arg-type]
                key=n.key, exact_endpoint=n.endpoint, event_created_on=n.created_on,
                received_at=received_at)
            await add_to_outbox(conn, outbox, c.CHANGE_NOTIFICATIONS, *(
                c.ExactChangeNotified.create(datasource_id=s.datasource_id,
                                             correlation_id=s.correlation_id, payload=payload)
                for s in sources))
        self._notify()
        return len(sources)

    async def forget_before(self, cutoff: datetime) -> int:
        """Drop digests older than any delivery that could still be fresh."""
        async with self._engine.begin() as conn:
            done = await conn.execute(webhook_receipts.delete()
                                      .where(webhook_receipts.c.received_at < cutoff))
            return int(done.rowcount or 0)

    async def record(self, message: c.ExactChangeNotified) -> bool:
        """Fold one event into the data source's pending changes; False for a redelivery."""
        p = message.payload
        entities = CATALOG.topics.get(p.topic, ())
        async with self._engine.begin() as conn:
            if not await first_delivery(conn, inbox, NOTIFICATIONS_CONSUMER, message.message_id):
                return False
            for entity in entities:
                stmt = insert(pending_changes).values(
                    datasource_id=message.datasource_id, entity=entity,
                    first_received_at=p.received_at, last_received_at=p.received_at,
                    notifications=1, deletes=p.action == "Delete")
                await conn.execute(stmt.on_conflict_do_update(
                    index_elements=[pending_changes.c.datasource_id, pending_changes.c.entity],
                    set_={"last_received_at": sa.func.greatest(
                              pending_changes.c.last_received_at, stmt.excluded.last_received_at),
                          "first_received_at": sa.func.least(
                              pending_changes.c.first_received_at,
                              stmt.excluded.first_received_at),
                          "notifications": pending_changes.c.notifications + 1,
                          "deletes": pending_changes.c.deletes | stmt.excluded.deletes}))
        return True

    async def plan(self) -> list[uuid.UUID]:
        """Record one targeted incremental run per data source whose changes are due."""
        now = datetime.now(UTC)
        busy = sa.exists().where(runs.c.datasource_id == pending_changes.c.datasource_id,
                                 runs.c.status.in_(_ACTIVE))
        quiet = sa.or_(pending_changes.c.last_received_at <= now - self._debounce,
                       pending_changes.c.first_received_at <= now - self._max_wait)
        created: list[uuid.UUID] = []
        async with self._engine.begin() as conn:
            due = (await conn.execute(
                sa.select(pending_changes).where(quiet, ~busy)
                .order_by(pending_changes.c.first_received_at).limit(200)
                .with_for_update(skip_locked=True))).all()
            by_source: dict[uuid.UUID, list[sa.Row[tuple[object, ...]]]] = {}
            for row in due:
                by_source.setdefault(row.datasource_id, []).append(row)
            for datasource_id, rows in by_source.items():
                state = (await conn.execute(sa.select(sync_states).where(
                    sync_states.c.datasource_id == datasource_id))).first()
                if state is not None:
                    created.append(await self._record_run(conn, state, rows))
                    metrics.changes_coalesced(rows, now)
                await conn.execute(pending_changes.delete().where(
                    pending_changes.c.datasource_id == datasource_id,
                    pending_changes.c.entity.in_([r.entity for r in rows])))
        return created

    async def _record_run(self, conn: AsyncConnection, state: sa.Row[tuple[object, ...]],
                          rows: list[sa.Row[tuple[object, ...]]]) -> uuid.UUID:
        notified = {r.entity for r in rows} | ({DELETED} if any(r.deletes for r in rows) else set())
        entities = list(CATALOG.ordered(notified))
        cursors: dict[str, int] = dict(state.cursors)
        run_id = uuid.uuid4()
        await conn.execute(runs.insert().values(
            run_id=run_id, datasource_id=state.datasource_id,
            correlation_id=state.correlation_id, kind=INCREMENTAL, division=state.division,
            grant_id=state.grant_id, entities=entities, status=RunStatus.PENDING.value))
        await conn.execute(run_checkpoints.insert(), [
            {"run_id": run_id, "entity": e,
             "max_timestamp": int(cursors[e]) if e in cursors else None} for e in entities])
        return run_id
