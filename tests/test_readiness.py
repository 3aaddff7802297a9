"""/readyz follows the database: a service whose PostgreSQL dies answers 503 and says why,
while /healthz (the process is alive) stays 200 - so an orchestrator stops routing to it
instead of restarting it."""

from collections.abc import Iterator

import httpx
import pytest

from connector_runtime.devstack.embedded import EmbeddedPostgres
from connector_runtime.devstack.testing import TEST_CLAIM_SIGNING_KEY, Infra, eventually
from datasource.app import create_app
from datasource.settings import DatasourceSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres().start()
    yield pg
    pg.stop()


async def test_readyz_fails_when_the_database_is_down(infra: Infra, own_postgres: EmbeddedPostgres) -> None:
    settings = DatasourceSettings(kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
                                  database_url=own_postgres.url, kafka_session_timeout_ms=2000,
                                  consumer_lag_interval_seconds=0,
                                  run_claim_signing_key=TEST_CLAIM_SIGNING_KEY)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text

            own_postgres.kill()

            async def not_ready() -> httpx.Response | None:
                answer = await client.get("/readyz")
                return answer if answer.status_code == 503 else None

            down = await eventually(not_ready, timeout=30, interval=0.2)
            assert down.json() == {"status": "not_ready",
                                   "checks": {"database": False, "migrations": False, "broker": True}}
            assert (await client.get("/healthz")).status_code == 200
            metrics = await client.get("/metrics")  # still answers, without the database figures
            assert metrics.status_code == 200
            assert "connector_messages_consumed_total" in metrics.text
