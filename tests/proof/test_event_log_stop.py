"""The suites' event log stops cleanly when aiokafka's consumer, closing, re-raises the
cancellation of its own fetch task; a real cancellation of the stopping task still goes up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.events import EventLog


class ClosingConsumer:
    def __init__(self, stopped: asyncio.Event | None = None) -> None:
        self.stopped = stopped

    async def stop(self) -> None:
        if self.stopped is not None:
            await self.stopped.wait()  # a close that takes a while
        raise asyncio.CancelledError  # the fetcher's own task, cancelled while closing


def log_with(consumer: Any) -> EventLog:
    log = EventLog("127.0.0.1:9")
    log._consumer = consumer
    return log


async def test_a_consumer_reraising_its_fetch_tasks_cancellation_still_stops_cleanly() -> None:
    await log_with(ClosingConsumer()).stop()


async def test_cancelling_the_task_that_stops_the_log_is_not_swallowed() -> None:
    task = asyncio.create_task(log_with(ClosingConsumer(asyncio.Event())).stop())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
