"""The two overlaps of the page loop: the next page fetched ahead, commits behind acks.

A run's pages go through three stages at once: page n+2 is fetched (HTTP and decoding),
page n+1 is turned into batches, sent and acknowledged by the broker, and page n's
checkpoint is committed. Each stage keeps the pages in order and holds at most one, so
memory stays flat and a replica that dies has served at most :data:`PAGES_IN_FLIGHT` pages
whose checkpoint was not committed: a resumed run fetches those again (with the same
batch_seq values), never more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

PAGES_IN_FLIGHT = 3
"""Pages a run may have fetched beyond its committed checkpoint: one being committed, one
being sent, one fetched ahead. The fault suite (``bench/src/bench/access.py``) allows this
many pages fetched again per interruption."""


@contextlib.asynccontextmanager
async def fetched_ahead(pages: AsyncGenerator[T, None]) -> AsyncIterator[AsyncIterator[T]]:
    """Iterate ``pages`` while the next one is fetched in the background (one ahead).

    An error fetching a page surfaces where that page would have been read, after the
    pages before it; leaving early cancels the fetch under way and closes ``pages``."""
    pending: asyncio.Future[T] | None = None

    async def ahead() -> AsyncIterator[T]:
        nonlocal pending
        pending = asyncio.ensure_future(anext(pages))
        while True:
            try:
                page = await pending
            except StopAsyncIteration:
                pending = None
                return
            pending = asyncio.ensure_future(anext(pages))
            yield page

    try:
        yield ahead()
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
        if pending is not None:
            with contextlib.suppress(BaseException):
                await pending  # the generator must have stopped before it is closed
        await pages.aclose()


class CommitsBehind:
    """Checkpoint commits run in page order while the next page is sent: at most one
    commit under way; an error in it surfaces at the next :meth:`submit` or :meth:`drain`."""

    def __init__(self) -> None:
        self._pending: asyncio.Task[None] | None = None

    async def submit(self, commit: Coroutine[Any, Any, None]) -> None:
        """Start ``commit`` once the previous one is done (its error is raised here)."""
        try:
            await self.drain()
        except BaseException:
            commit.close()
            raise
        self._pending = asyncio.ensure_future(commit)

    async def drain(self) -> None:
        """Wait for the commit under way (raising its error)."""
        task, self._pending = self._pending, None
        if task is not None:
            await task

    async def abandon(self, cancel: bool) -> BaseException | None:
        """Leaving on an error: let the commit under way finish (or cancel it); its own
        error, if any, is returned to be raised instead."""
        task, self._pending = self._pending, None
        if task is None:
            return None
        if cancel:
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if not cancel:
                raise
        except Exception as exc:  # handed back to the caller to raise
            return exc
        return None


@contextlib.asynccontextmanager
async def commits_behind() -> AsyncIterator[CommitsBehind]:
    """Commits behind the page loop; all of them done (or their error raised) on leaving."""
    commits = CommitsBehind()
    try:
        yield commits
    except asyncio.CancelledError:
        await commits.abandon(cancel=True)
        raise
    except BaseException as exc:
        failed = await commits.abandon(cancel=False)
        if failed is not None:
            raise failed from exc
        raise
    await commits.drain()
