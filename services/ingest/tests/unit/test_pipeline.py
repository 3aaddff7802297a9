"""The page loop's overlaps: one page fetched ahead, never more; commits in order behind the
page loop, their errors never lost; leaving early stops the fetch under way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from ingest.pipeline import commits_behind, fetched_ahead


class Source:
    """Pages 0..n-1; records how far it was asked; ``fail_at`` raises instead of a page."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.produced: list[int] = []
        self.closed = False
        self.gate = asyncio.Event()
        self.gate.set()

    async def pages(self) -> AsyncGenerator[int, None]:
        try:
            for i in range(self.n):
                await self.gate.wait()
                if i == self.fail_at:
                    raise ConnectionError(f"page {i}")
                self.produced.append(i)
                yield i
        finally:
            self.closed = True


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_the_next_page_is_fetched_while_one_is_handled_but_never_two_ahead() -> None:
    source, seen = Source(5), []
    async with fetched_ahead(source.pages()) as pages:
        async for page in pages:
            await settle()  # a page takes a while to handle
            assert source.produced[-1] <= page + 1  # at most the next page is fetched
            if page < 4:
                assert source.produced[-1] == page + 1  # and it is, meanwhile
            seen.append(page)
    assert seen == [0, 1, 2, 3, 4] and source.closed


async def test_a_failed_fetch_surfaces_after_the_pages_before_it() -> None:
    source, seen = Source(5, fail_at=2), []
    with pytest.raises(ConnectionError, match="page 2"):
        async with fetched_ahead(source.pages()) as pages:
            async for page in pages:
                await settle()
                seen.append(page)
    assert seen == [0, 1] and source.closed


async def test_leaving_early_stops_the_fetch_under_way_and_closes_the_pages() -> None:
    source = Source(5)
    async with fetched_ahead(source.pages()) as pages:
        async for page in pages:
            source.gate.clear()  # the next fetch hangs
            await settle()
            assert page == 0
            break
    assert source.closed and source.produced == [0]


async def test_commits_run_in_order_and_one_at_a_time() -> None:
    log: list[str] = []

    async def commit(n: int) -> None:
        log.append(f"start {n}")
        await settle()
        log.append(f"end {n}")

    async with commits_behind() as commits:
        for n in range(3):
            log.append(f"sent {n}")
            await commits.submit(commit(n))
    assert log == ["sent 0", "sent 1", "start 0", "end 0", "sent 2", "start 1", "end 1",
                   "start 2", "end 2"]


async def test_a_failed_commit_stops_the_loop_at_the_next_page() -> None:
    committed: list[int] = []

    async def commit(n: int) -> None:
        await settle()
        if n == 1:
            raise ConnectionError("database gone")
        committed.append(n)

    sent = []
    with pytest.raises(ConnectionError, match="database gone"):
        async with commits_behind() as commits:
            for n in range(5):
                sent.append(n)
                await commits.submit(commit(n))
    assert committed == [0] and sent == [0, 1, 2]


async def test_leaving_on_an_error_first_finishes_the_commit_under_way() -> None:
    committed: list[int] = []

    async def commit(n: int) -> None:
        await settle()
        committed.append(n)

    with pytest.raises(ValueError, match="grant gone"):
        async with commits_behind() as commits:
            await commits.submit(commit(0))
            raise ValueError("grant gone")
    assert committed == [0]  # the acknowledged page's checkpoint is kept


async def test_a_commit_error_wins_over_the_loop_error_it_hid() -> None:
    async def commit() -> None:
        await settle()
        raise ConnectionError("database gone")

    with pytest.raises(ConnectionError) as caught:
        async with commits_behind() as commits:
            await commits.submit(commit())
            raise ValueError("grant gone")
    assert isinstance(caught.value.__cause__, ValueError)
