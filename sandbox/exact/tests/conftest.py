"""Fixtures: in-process apps over httpx.ASGITransport (fast) and one real uvicorn server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from exact_sandbox.app import create_app
from exact_sandbox.testing import Env, Live, MakeEnv, fast_config, serve_in_thread


@pytest.fixture
async def make_env() -> AsyncIterator[MakeEnv]:
    clients: list[httpx.AsyncClient] = []

    def factory(**overrides: Any) -> Env:
        app = create_app(fast_config(**overrides))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="http://sandbox.test")
        clients.append(client)
        return Env(app, client)

    yield factory
    for client in clients:
        await client.aclose()


@pytest.fixture
async def env(make_env: MakeEnv) -> Env:
    return make_env()


@pytest.fixture(scope="session")
def live() -> Iterator[Live]:
    """A real uvicorn server on a free loopback port, shared by the session."""
    app = create_app(fast_config())
    with serve_in_thread(app) as url:
        yield Live(url, app)
