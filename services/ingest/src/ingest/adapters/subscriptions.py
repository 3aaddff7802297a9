"""Keeps each data source's webhook subscriptions at Exact as they should be.

Subscription management lives in ingest: ingest alone makes the company's data calls, so
these calls share its rate limiter and its tokens, and ingest knows which data sources it
syncs (``sync_states``) and which grant each uses.

Each pass (:meth:`SubscriptionKeeper.keep`):

* a data source ingest syncs gets a ``wanted`` row per topic that covers an imported entity
  (``webhook_topic`` in :mod:`ingest.entities`): after its initial run, so also after
  a recreate that needed one;
* a data source re-authorized with another grant gets its rows marked ``renew``: the old
  subscription (made by the person who lost access) is deleted and a new one made with the
  new grant;
* rows that are due - ``wanted``/``renew`` at once, ``active`` every ``check_every`` - are
  settled against Exact's list: a missing one is created again, ours is recorded ``active``;
  a failed call leaves the reason in ``error``, and a failed creation or removal is tried
  again after a back-off, counted from the failure (``checked_at``), that doubles with each
  failure in a row (``retry_first``, 2 s, up to ``retry_max``, a minute): a passing outage
  is over in seconds, a lasting one costs a call a minute; a company whose calls to Exact
  take over ``per_company`` (20 s) together is given up on for the pass the same way (only
  those calls are timed: the rows' updates are never cut off);
* a disowned data source (:func:`release`, on DataSourceDisowned) stops being synced and its rows become
  ``removing``: each subscription is deleted at Exact with the data source's last grant, then
  the rows go (ingest usually still holds an access token of the grant). When auth has
  discarded the grant first (it does on the same event) and no token is left, Exact cannot be
  asked any more: the rows go all the same and the listener refuses the
  division's deliveries as unknown (404) - the subscription is adopted again if the division
  is ever connected again, since it names our callback URL.

Replicas share the work: rows are taken ``FOR UPDATE SKIP LOCKED``. After a pass the
companies it called are told to ``calls_ended``: the rate limiter gives back their unused
permits, which no run's end would, unless a run of the company executes in the replica.

Size: the row states above, their back-off and the per-company time limit are one pass over
the rows taken under lock; the listener and the Exact calls already live elsewhere.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import contracts as c
from connector_runtime.observability.logs import redact_text
from connector_runtime.persistence.inbox import first_delivery
from ingest.adapters.exact_webhooks import ExactSubscription, ExactWebhooks
from ingest.adapters.notification_tables import pending_changes
from ingest.adapters.notification_tables import webhook_subscriptions as subs
from ingest.adapters.tables import (
    inbox,
    sync_states,
    trial_exact,
    trial_lines,
    trial_rereads,
    trial_stale,
)
from ingest.domain.errors import GrantRevoked, GrantUnknown
from ingest.entities import CATALOG

log = structlog.get_logger("webhook_subscriptions")

_T = TypeVar("_T")

ACTIVE, WANTED, RENEW, FAILED, REMOVING = "active", "wanted", "renew", "failed", "removing"
DISOWN_CONSUMER = "ingest.disowned"


class SubscriptionKeeper:
    def __init__(self, engine: AsyncEngine, exact: ExactWebhooks, callback_url: str, *,
                 check_every: timedelta = timedelta(hours=1),
                 retry_first: timedelta = timedelta(seconds=2),
                 retry_max: timedelta = timedelta(minutes=1),
                 per_company: timedelta = timedelta(seconds=20),
                 calls_ended: Callable[[frozenset[int]], Awaitable[None]] | None = None
                 ) -> None:
        self._engine = engine
        self._exact = exact
        self._url = callback_url
        self._check_every = check_every
        self._retry_first = retry_first.total_seconds()
        self._retry_max = retry_max.total_seconds()
        # one company's calls to Exact (its budget busy, Exact slow for it) may not hold the
        # pass longer, all of them together
        self._per_company = per_company.total_seconds()
        # told the companies a pass called: the rate limiter gives back their unused permits
        # (PostgresRateLimiter.when_calls_end), which no run's end would do for these calls
        self._calls_ended = calls_ended

    async def keep(self) -> int:
        """One pass; returns how many data sources were settled with Exact.

        A pass settles each data source at most once: with short back-offs, companies whose
        calls keep failing became due again before a long pass ended, so the pass never ended
        and new data sources (added by :meth:`_want` at the start of a pass) waited for it."""
        await self._want()
        settled: set[uuid.UUID] = set()
        called: set[int] = set()
        try:
            while (done := await self._settle_one(settled)) is not None:
                settled.add(done[0])
                called.add(done[1])
        finally:
            if called and self._calls_ended is not None:
                await self._calls_ended(frozenset(called))
        return len(settled)

    async def run(self, every: float) -> None:
        """Keep subscriptions until cancelled; a database or Exact outage is tried again."""
        while True:
            try:
                await self.keep()
            except (OSError, sa.exc.SQLAlchemyError) as exc:
                log.warning("webhook_subscriptions_pass_failed", error=type(exc).__name__)
            except Exception as exc:  # one company's surprise must not end the keeper
                # An error no pass expects (a token source or Exact answering in a way not
                # mapped) killed the task silently before: no data source was subscribed after.
                log.error("webhook_subscriptions_pass_failed", error=type(exc).__name__,
                          detail=redact_text(str(exc), 300))
            await asyncio.sleep(every)

    async def _want(self) -> None:
        async with self._engine.begin() as conn:
            for topic in CATALOG.topics:
                stmt = insert(subs).from_select(
                    ["datasource_id", "topic", "division", "grant_id", "callback_url", "state"],
                    sa.select(sync_states.c.datasource_id, sa.literal(topic),
                              sync_states.c.division, sync_states.c.grant_id,
                              sa.literal(self._url), sa.literal(WANTED)))
                await conn.execute(stmt.on_conflict_do_nothing())
            newer = sa.select(sync_states.c.grant_id).where(
                sync_states.c.datasource_id == subs.c.datasource_id).scalar_subquery()
            await conn.execute(subs.update().where(subs.c.grant_id != newer,
                                                   subs.c.state != REMOVING)
                               .values(grant_id=newer, state=RENEW, updated_at=sa.func.now()))
            await conn.execute(subs.update().where(subs.c.callback_url != self._url,
                                                   subs.c.state.not_in([RENEW, REMOVING]))
                               .values(state=RENEW, updated_at=sa.func.now()))

    async def _settle_one(self, settled: set[uuid.UUID]) -> tuple[uuid.UUID, int] | None:
        """Settle the most urgent due data source not in ``settled``; its id and division,
        or None."""
        now = datetime.now(UTC)
        # retry_first after the first failure, doubled for each further one, retry_max at most
        back_off = sa.func.least(self._retry_max, self._retry_first * sa.func.power(
            2, sa.func.greatest(subs.c.failures - 1, 0)))
        retry = sa.or_(subs.c.checked_at.is_(None), subs.c.checked_at
                       <= now - sa.func.make_interval(0, 0, 0, 0, 0, 0, back_off))
        due = sa.or_(subs.c.state.in_([WANTED, RENEW]),
                     sa.and_(subs.c.state.in_([FAILED, REMOVING]), retry),
                     sa.and_(subs.c.state == ACTIVE,
                             subs.c.checked_at <= now - self._check_every))
        async with self._engine.begin() as conn:
            # Removals and new or renewed subscriptions before retries of failed ones and
            # hourly checks, oldest first: a company whose calls keep failing (Exact down for
            # it, its grant gone) must not hold up every other company's subscriptions.
            urgency = sa.case((subs.c.state == REMOVING, 0),
                              (subs.c.state.in_([WANTED, RENEW]), 1),
                              (subs.c.state == FAILED, 2), else_=3)
            pending = sa.select(subs.c.datasource_id).where(due)
            if settled:
                pending = pending.where(subs.c.datasource_id.not_in(settled))
            first = (await conn.execute(pending.order_by(urgency, subs.c.updated_at).limit(1)
                                        .with_for_update(skip_locked=True))).first()
            if first is None:
                return None
            rows = (await conn.execute(sa.select(subs).where(
                subs.c.datasource_id == first.datasource_id).with_for_update())).all()
            # Only the calls to Exact are timed, never this connection's statements: a
            # timeout landing in one left the connection mid-statement for the failure's
            # own updates below.
            exact = _TimedCalls(self._exact, self._per_company)
            try:
                removing = [r for r in rows if r.state == REMOVING]
                if removing:
                    await self._remove(conn, exact, removing)
                else:
                    await self._settle(conn, exact, rows, now)
            except Exception as exc:
                # Any failure is kept on this company's rows (FAILED, retried after a back-off),
                # so a company that keeps failing never holds the keeper on itself. The
                # back-off counts from the failure: from the attempt's start, a slow attempt
                # (up to ``per_company``) used up most of it.
                failed_at = datetime.now(UTC)
                log.warning("webhook_subscription_failed", datasource_id=str(first.datasource_id),
                            error=type(exc).__name__, detail=redact_text(str(exc), 200))
                await conn.execute(subs.update().where(
                    subs.c.datasource_id == first.datasource_id,
                    subs.c.state.not_in([ACTIVE, REMOVING]))
                    .values(state=FAILED, error=redact_text(str(exc), 300),
                            checked_at=failed_at, failures=subs.c.failures + 1,
                            updated_at=sa.func.now()))
                await conn.execute(subs.update().where(
                    subs.c.datasource_id == first.datasource_id,
                    subs.c.state.in_([ACTIVE, REMOVING]))
                    .values(error=redact_text(str(exc), 300), checked_at=failed_at,
                            failures=sa.case((subs.c.state == REMOVING, subs.c.failures + 1),
                                             else_=subs.c.failures),
                            updated_at=sa.func.now()))
            return uuid.UUID(str(first.datasource_id)), rows[0].division

    async def _settle(self, conn: AsyncConnection, exact: _TimedCalls, rows: Sequence[Any],
                      now: datetime) -> None:
        division, grant_id = rows[0].division, rows[0].grant_id
        for row in rows:  # the old grant's subscriptions go first
            if row.state == RENEW and row.subscription_id is not None:
                await exact.delete(division, grant_id, row.subscription_id)
        at_exact = await exact.list(division, grant_id)
        for row in rows:
            mine = _ours(at_exact, row.topic, self._url)
            if mine is None:
                mine = await exact.create(division, grant_id, row.topic, self._url)
                log.info("webhook_subscribed", datasource_id=str(row.datasource_id),
                         topic=row.topic, division=division, renewed=row.state == RENEW)
            await conn.execute(subs.update().where(
                subs.c.datasource_id == row.datasource_id, subs.c.topic == row.topic)
                .values(state=ACTIVE, subscription_id=mine.id, callback_url=self._url,
                        error=None, checked_at=now, failures=0, updated_at=sa.func.now()))

    async def _remove(self, conn: AsyncConnection, exact: _TimedCalls,
                      rows: Sequence[Any]) -> None:
        """Delete a disowned data source's subscriptions at Exact, then its rows."""
        division, grant_id = rows[0].division, rows[0].grant_id
        try:
            for row in rows:
                if row.subscription_id is not None:
                    await exact.delete(division, grant_id, row.subscription_id)
            log.info("webhook_unsubscribed", datasource_id=str(rows[0].datasource_id),
                     division=division, topics=[r.topic for r in rows])
        except (GrantRevoked, GrantUnknown) as exc:
            log.warning("webhook_subscription_left_at_exact",
                        datasource_id=str(rows[0].datasource_id), division=division,
                        error=type(exc).__name__,
                        detail="the grant was revoked first; the listener refuses the "
                               "division's deliveries")
        await conn.execute(subs.delete().where(subs.c.datasource_id == rows[0].datasource_id,
                                               subs.c.state == REMOVING))


class _TimedCalls:
    """One company's calls to Exact in a pass, sharing ``seconds`` between them: the time
    spent between calls (the database's) is not counted, and is never cut off."""

    def __init__(self, exact: ExactWebhooks, seconds: float) -> None:
        self._exact = exact
        self._left = seconds
        self._budget = seconds

    async def list(self, division: int, grant_id: uuid.UUID) -> list[ExactSubscription]:
        return await self._timed(self._exact.list(division, grant_id))

    async def create(self, division: int, grant_id: uuid.UUID, topic: str,
                     callback_url: str) -> ExactSubscription:
        return await self._timed(self._exact.create(division, grant_id, topic, callback_url))

    async def delete(self, division: int, grant_id: uuid.UUID, sub_id: uuid.UUID) -> bool:
        return await self._timed(self._exact.delete(division, grant_id, sub_id))

    async def _timed(self, call: Coroutine[Any, Any, _T]) -> _T:
        loop = asyncio.get_running_loop()
        started = loop.time()
        timeout = asyncio.timeout(max(self._left, 0.0))
        try:
            async with timeout:
                return await call
        except TimeoutError as exc:
            if not timeout.expired():
                raise
            raise TimeoutError(f"Exact's calls for the company took over {self._budget:g} s"
                               ) from exc
        finally:
            self._left -= loop.time() - started


class DisownedSources:
    """The :class:`ingest.ports.Releases` port on PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def release(self, message: c.DataSourceDisowned) -> bool:
        return await release(self._engine, message)


async def release(engine: AsyncEngine, message: c.DataSourceDisowned) -> bool:
    """A disowned data source: ingest stops syncing it and forgets its ledger copy and
    pending changes, and its subscriptions are to be removed at Exact. False when the event
    was handled before."""
    ds, p = message.datasource_id, message.payload
    async with engine.begin() as conn:
        if not await first_delivery(conn, inbox, DISOWN_CONSUMER, message.message_id):
            return False
        await conn.execute(sync_states.delete().where(sync_states.c.datasource_id == ds,
                                                      sync_states.c.division == p.division))
        await conn.execute(pending_changes.delete().where(pending_changes.c.datasource_id == ds))
        for table in (trial_lines, trial_exact, trial_stale, trial_rereads):
            await conn.execute(table.delete().where(table.c.datasource_id == ds))
        await conn.execute(subs.update().where(subs.c.datasource_id == ds, subs.c.division ==
                                               p.division)
                           .values(state=REMOVING, grant_id=p.grant_id, error=None,
                                   checked_at=None, failures=0, updated_at=sa.func.now()))
    log.info("datasource_released", datasource_id=str(ds), division=p.division)
    return True


def _ours(found: list[ExactSubscription], topic: str, url: str) -> ExactSubscription | None:
    return next((s for s in found if s.topic == topic and s.callback_url == url), None)


async def subscriptions_of(engine: AsyncEngine, datasource_id: uuid.UUID) -> list[dict[str, Any]]:
    """The read model: one entry per topic with its state at Exact."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(subs).where(subs.c.datasource_id == datasource_id)
                                   .order_by(subs.c.topic))).all()
    return [{"topic": r.topic, "division": r.division, "state": r.state,
             "subscription_id": str(r.subscription_id) if r.subscription_id else None,
             "callback_url": r.callback_url, "error": r.error,
             "checked_at": r.checked_at.isoformat() if r.checked_at else None} for r in rows]
