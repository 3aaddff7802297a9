"""Each service starts against the real broker and database: topics, migrations, readiness."""

import importlib
import uuid
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

import contracts as c
from connector_runtime.devstack.embedded import EmbeddedKafka
from connector_runtime.devstack.testing import TEST_CLAIM_SIGNING_KEY, TEST_CLAIM_VERIFY_KEYS, Infra
from connector_runtime.persistence.db import create_engine

pytestmark = pytest.mark.integration

# Settings a service requires (secrets have no defaults); throwaway values for this test.
REQUIRED_ENV: dict[str, dict[str, str]] = {
    "auth": {
        "AUTH_EXACT_CLIENT_ID": "start-test-client",
        "AUTH_EXACT_CLIENT_SECRET": "start-test-secret",
        "AUTH_TOKEN_ENCRYPTION_KEY": "sRWD0ClqvXdflC0V6v1Qn0HW7ChJ2W3nDbB7R5C9yv8=",
        "AUTH_LINK_SIGNING_KEY": "start-test-signing-key",
    },
    "datasource": {"DATASOURCE_RUN_CLAIM_SIGNING_KEY": TEST_CLAIM_SIGNING_KEY},
    "ingest": {"INGEST_RUN_CLAIM_VERIFY_KEYS": TEST_CLAIM_VERIFY_KEYS},
}


GROUP_ENV = {"auth": "AUTH_CONSUMER_GROUP", "datasource": "DATASOURCE_GROUP_ID",
             "ingest": "INGEST_CONSUMER_GROUP"}


@pytest.fixture(scope="module")
def empty_broker() -> Iterator[str]:
    """A broker of this module's own: a fresh group on the shared one would first replay every
    message the other suites left there, which is not what this test is about."""
    kafka = EmbeddedKafka().start()
    yield kafka.bootstrap_servers
    kafka.stop()


@pytest.mark.parametrize("service", ["auth", "datasource", "ingest"])
async def test_service_starts_migrates_and_reports_ready(infra: Infra, service: str, empty_broker: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", empty_broker)
    monkeypatch.setenv("DATABASE_URL", infra.database_url)
    monkeypatch.setenv("KAFKA_SESSION_TIMEOUT_MS", "2000")
    for name, value in REQUIRED_ENV.get(service, {}).items():
        monkeypatch.setenv(name, value)
    # A group of its own: members other tests left on the shared broker must not delay the join.
    monkeypatch.setenv(GROUP_ENV[service], f"start-test-{service}-{uuid.uuid4().hex[:8]}")
    app_module = importlib.import_module(f"{service}.app")
    app = app_module.create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            assert (await client.get("/healthz")).json()["status"] == "alive"
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": True, "migrations": True, "broker": True}
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
            assert f'connector_outbox_lag_seconds{{service="{service}"}}' in metrics.text
    engine = create_engine(infra.database_url, pool_size=1)
    async with engine.connect() as conn:
        tables = set(
            (await conn.execute(
                sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": service},
            )).scalars()
        )
    await engine.dispose()
    assert {"outbox", "inbox", "alembic_version"} <= tables


async def test_topics_and_dead_letter_topics_exist_after_start(infra: Infra) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from connector_runtime.messaging.broker import ensure_topics

    await ensure_topics(infra.kafka_bootstrap_servers, c.ALL_TOPICS, 3)
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        assert set(c.ALL_TOPICS) <= set(await admin.list_topics())
    finally:
        await admin.close()
