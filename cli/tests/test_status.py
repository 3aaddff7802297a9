"""``status`` parts that read the broker: grants whose keep-alive fails, as auth announces them
on exact.auth.events, and the dead-letter depth less what was re-driven. The whole ``status``
against running services is in tests/e2e/test_operability.py."""

import datetime as dt
import uuid

import pytest
from aiokafka import AIOKafkaProducer

import contracts as c
from connector_cli import status
from connector_cli.settings import CliSettings
from connector_runtime.devstack.testing import Infra
from connector_runtime.messaging.broker import ensure_topics

pytestmark = pytest.mark.integration


def expiring(grant: uuid.UUID, expires_in: dt.timedelta) -> c.GrantExpiring:
    return c.GrantExpiring.create(datasource_id=uuid.uuid4(), payload=c.GrantExpiringPayload(
        grant_id=grant, division=4711, refresh_expires_at=dt.datetime.now(dt.UTC) + expires_in,
        reason="Exact unavailable"))


async def test_grants_expiring_are_those_warned_about_lately_still_alive_and_not_revoked(
        infra: Infra) -> None:
    await ensure_topics(infra.kafka_bootstrap_servers, c.ALL_TOPICS, 6)
    soon, revoked, expired = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    gone = c.GrantRevoked.create(datasource_id=uuid.uuid4(), payload=c.GrantRevokedPayload(
        grant_id=revoked, division=4711, reason="refresh token expired"))
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        for m in (expiring(soon, dt.timedelta(days=3)), expiring(soon, dt.timedelta(days=2)),
                  expiring(revoked, dt.timedelta(days=1)), gone,
                  expiring(expired, -dt.timedelta(minutes=1))):
            await producer.send_and_wait(c.AUTH_EVENTS, m.to_bytes(), key=m.key)
    finally:
        await producer.stop()
    found = await status._expiring_grants(infra.kafka_bootstrap_servers, dt.datetime.now(dt.UTC))
    ours = [g for g in found if g["grant_id"] in {str(soon), str(revoked), str(expired)}]
    assert [g["grant_id"] for g in ours] == [str(soon)]
    left = dt.datetime.fromisoformat(ours[0]["refresh_expires_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=1) < left < dt.timedelta(days=2)  # the latest warning counts


async def test_status_reports_a_part_it_cannot_reach_and_shows_the_rest(infra: Infra) -> None:
    cfg = CliSettings(KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers,
                      CONNECTOR_DATASOURCE_URL="http://127.0.0.1:9", CONNECTOR_AUTH_URL="http://127.0.0.1:9",
                      CONNECTOR_INGEST_URL="http://127.0.0.1:9",
                      CONNECTOR_DATASOURCE_METRICS_URL="http://127.0.0.1:9")
    data = await status.gather(cfg)
    assert set(data["errors"]) == {"datasource API", "datasource metrics", "auth metrics", "ingest metrics"}
    assert isinstance(data["dead_letters"], list) and isinstance(data["grants_expiring"], list)
    assert data["datasources"] == [] and data["consumer_lag"] == []
