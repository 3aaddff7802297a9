"""One fault stack for the module: Kafka behind a cuttable proxy, PostgreSQL, the sandbox, the
three services and the sink, each in its own process; the small scale of every scenario."""

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bench.faults.stack import SMALL, FaultStack, start_stack
from bench.harness import Harness


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[FaultStack]:
    work_dir: Path = tmp_path_factory.mktemp("faults")
    started = start_stack(work_dir, SMALL)
    yield started
    started.stop()
    artifacts = Path(".data/test-artifacts") / request.node.name
    artifacts.mkdir(parents=True, exist_ok=True)
    for log in work_dir.glob("*.log"):
        shutil.copyfile(log, artifacts / log.name)


@pytest.fixture(scope="module")
async def harness(stack: FaultStack) -> AsyncIterator[Harness]:
    async with Harness(stack.system) as h:
        yield h
