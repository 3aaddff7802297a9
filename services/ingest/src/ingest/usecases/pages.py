"""The page loop of a run: one entity (or ``sync/Deleted``) from its checkpoint to the end.

Per page: fetch (the Exact client waits for the rate budget and retries), turn it into
LedgerBatch messages (LedgerDeletes for a page of ``sync/Deleted``), publish them and wait for
the broker's acks, then commit the checkpoint (with a throttled RunProgress in the same
transaction). The stages overlap (:mod:`ingest.pipeline`): the next page is fetched while one
is sent, and a page's checkpoint commits while the next page is sent; checkpoints commit in
page order, each behind its page's acks, and the topic sees the batches in order (a page is
sent only after the previous page's acks). A run that is cancelled or whose replica dies
resumes from the last checkpoint: at most the pages in flight
(:data:`~ingest.pipeline.PAGES_IN_FLIGHT`) are fetched and sent again, with the same
batch_seq values.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass

from contracts import Entity, Message
from ingest import metrics
from ingest.batching import build_batches, build_deletes, build_replaced, build_vanished
from ingest.domain.budget import BudgetView
from ingest.domain.model import EntityCheckpoint, PageStats, Run
from ingest.domain.plan import BudgetShare
from ingest.domain.progress import ProgressThrottle
from ingest.domain.refresh import DELETES_PER_MESSAGE, PageHashes
from ingest.domain.trial_balance import TrialPage
from ingest.entities import CATALOG
from ingest.pipeline import CommitsBehind, commits_behind, fetched_ahead
from ingest.ports import BatchPublisher, Clock, EntityRequest, ExactApi, Outgoing, Page, RunStore
from ingest.row_hashes import page_hashes, row_key
from ingest.trial_check import trial_page

Progress = Callable[[Run, BudgetView | None], Message]
"""Builds the run's RunProgress from its state and the last budget seen."""


@dataclass
class Reading:
    """What one execution of a run carries from page to page."""

    throttle: ProgressThrottle
    budget: BudgetView | None = None


@dataclass
class _Ahead:
    """An entity's next batch_seq and highest Timestamp once every page sent is committed."""

    next_batch_seq: int
    max_timestamp: int | None
    next_year: int | None = None
    """By-year reads: the year read after this one (None: this read is the entity's last)."""


class PageLoop:
    def __init__(self, store: RunStore, exact: ExactApi, publisher: BatchPublisher, clock: Clock,
                 progress: Progress, *, max_batch_bytes: int, share: BudgetShare) -> None:
        self._store = store
        self._exact = exact
        self._publisher = publisher
        self._clock = clock
        self._progress = progress
        self._max_batch_bytes = max_batch_bytes
        self._share = share

    async def read_entity(self, run: Run, cp: EntityCheckpoint, owner: str,
                           reading: Reading) -> None:
        """The entity's pages through the pipeline (:mod:`ingest.pipeline`): fetched one
        ahead, sent in order (each page's acks awaited before the next page is sent, so the
        topic sees the batches in order), committed in order behind the acks."""
        years = run.years_to_read(cp)  # ReportingBalance: this call reads one year
        if years:
            cp.year = years[0]
        request = EntityRequest(run.division, run.grant_id, Entity(cp.entity),
                                run.date_from, run.date_to, since=run.since(cp),
                                reserve=self._share.reserve(run.kind),
                                year=years[0] if years else None)
        ahead = _Ahead(cp.next_batch_seq, cp.max_timestamp,
                       next_year=years[1] if len(years) > 1 else None)
        async with commits_behind() as commits, \
                fetched_ahead(self._exact.pages(request, cp.cursor)) as pages:
            async for page in pages:
                reading.budget = page.budget or reading.budget
                await self._take(run, cp, page, owner, reading, ahead, commits)

    async def _take(self, run: Run, cp: EntityCheckpoint, page: Page, owner: str,
                    reading: Reading, ahead: _Ahead, commits: CommitsBehind) -> None:
        """Send one page's batches and wait for their acks; its checkpoint commit is left
        to run while the next page is sent. ``ahead`` is where the entity stands once the
        pages sent so far are committed (``cp`` moves only with the commits)."""
        # the entity's last page (a by-year read has more years after this one's last page)
        last = page.stats.next_cursor is None and ahead.next_year is None
        stamps = [t for t in (ahead.max_timestamp, page.stats.max_timestamp) if t is not None]
        ahead.max_timestamp = max(stamps) if stamps else None
        reached = str(ahead.max_timestamp) if stamps else page.stats.next_cursor
        rows, stats, hashes = page.rows, page.stats, None
        if cp.entity in CATALOG.refresh:
            whole = run.date_from is None and run.date_to is None
            hashes = page_hashes(cp.entity, page.rows, sweep=last and whole)
            if run.incremental:  # a refresh: only what changed since consumers got it
                changed = await self._store.differing(run.datasource_id, hashes)
                rows = [r for r in page.rows if row_key(r) in changed]
                stats = PageStats(rows=len(rows), amount_sum=None, debit_sum=None,
                                  id_hash_sum=0, max_timestamp=None, count_sum=None,
                                  next_cursor=page.stats.next_cursor,
                                  year_rows=page.stats.year_rows)
        batches: list[Outgoing] = []
        if rows or not run.incremental:  # a sync without changes sends nothing
            batches = build_batches(run, Entity(cp.entity), rows,
                                    first_seq=ahead.next_batch_seq, checkpoint=reached,
                                    last=last, max_bytes=self._max_batch_bytes)
        if last and run.kind == "reimport":  # after the entity's last batch: the rest is gone
            batches.append(build_replaced(run, Entity(cp.entity)))
        await self._publisher.publish(batches)
        ahead.next_batch_seq += len(batches)
        gone, gone_messages = 0, 0
        if hashes is not None and hashes.sweep and run.incremental:
            await commits.drain()  # the sweep reads what the entity's earlier pages saved
            gone, gone_messages = await self._send_vanished(run, hashes)
        trial = trial_page(run, cp.entity, page.rows, last)
        next_year = ahead.next_year

        async def commit() -> None:
            cp.advance(stats, len(batches), next_year)
            cp.dropped(page.dropped)
            cp.deleted += gone
            run.calls_used += page.calls
            run.batches += len(batches) + gone_messages
            due = reading.throttle.due(self._clock.monotonic()) or last
            events = [self._progress(run, reading.budget)] if due else []
            await self._store.save_page(run, cp, owner, events, hashes=hashes, trial=trial)
            metrics.ROWS_IMPORTED.labels(cp.entity).inc(stats.rows)

        await commits.submit(commit())

    async def _send_vanished(self, run: Run, page: PageHashes) -> tuple[int, int]:
        """After a refreshed entity's last page: its rows the run did not see are gone from
        Exact; one LedgerDeletes per chunk, acknowledged before the sweep is committed."""
        rows = messages = 0
        async with aclosing(self._store.vanished(run, page, DELETES_PER_MESSAGE)) as chunks:
            async for ids in chunks:
                await self._publisher.publish([build_vanished(run, page.entity, messages, ids)])
                rows += len(ids)
                messages += 1
        return rows, messages

    async def read_deletions(self, run: Run, cp: EntityCheckpoint, owner: str,
                              reading: Reading) -> None:
        """``sync/Deleted`` from the run's cursor: each page's deletions of the run's entities
        go out as one LedgerDeletes, then the cursor and per-entity counts are committed."""
        since = run.since(cp) or 1
        pages = self._exact.deletions(run.division, run.grant_id, since, cp.cursor)
        async with fetched_ahead(pages) as deletion_pages:
            async for page in deletion_pages:
                reading.budget = page.budget or reading.budget
                gone = [(e, i) for e, i in page.deleted if e in run.checkpoints]
                stamps = [t for t in (cp.max_timestamp, page.max_timestamp) if t is not None]
                out = [build_deletes(run, cp.next_batch_seq, gone,
                                     str(max(stamps)) if stamps else None)] if gone else []
                await self._publisher.publish(out)
                cp.advance(PageStats(rows=len(gone), amount_sum=None, debit_sum=None,
                                     id_hash_sum=0, max_timestamp=page.max_timestamp,
                                     count_sum=None, next_cursor=page.next_cursor), len(out))
                touched = {e: run.checkpoints[e] for e, _ in gone}
                for entity, _ in gone:
                    touched[entity].deleted += 1
                run.calls_used += page.calls
                run.batches += len(out)
                due = reading.throttle.due(self._clock.monotonic()) or page.next_cursor is None
                events = [self._progress(run, reading.budget)] if due else []
                lines = [i.lower() for e, i in gone if e == Entity.TRANSACTION_LINES.value]
                await self._store.save_page(run, cp, owner, events, also=list(touched.values()),
                                            trial=TrialPage([], [], lines) if lines else None)
