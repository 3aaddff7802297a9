"""The shared producer lifecycle: started on demand, restartable, closed without raising."""

import pytest

from connector_runtime.devstack.testing import Infra, read_records, unique
from connector_runtime.messaging.broker import ensure_topics
from connector_runtime.messaging.producer import ManagedProducer, running_producer

pytestmark = pytest.mark.integration


async def test_a_managed_producer_starts_once_stops_twice_and_starts_again(infra: Infra) -> None:
    topic = unique("producer")
    await ensure_topics(infra.kafka_bootstrap_servers, [topic], 1)
    managed = ManagedProducer(infra.kafka_bootstrap_servers)
    with pytest.raises(RuntimeError, match="not started"):
        _ = managed.running
    first = await managed.start()
    assert await managed.start() is first  # a running producer is reused
    await first.send_and_wait(topic, b"one")
    await managed.stop()
    await managed.stop()  # stopping a stopped producer is a no-op
    with pytest.raises(RuntimeError, match="not started"):
        _ = managed.running
    async with running_producer(infra.kafka_bootstrap_servers) as again:
        await again.send_and_wait(topic, b"two")
    records = await read_records(infra.kafka_bootstrap_servers, topic, lambda rs: len(rs) >= 2)
    assert [r.value for r in records] == [b"one", b"two"]


async def test_a_producer_that_cannot_reach_the_broker_is_not_kept() -> None:
    managed = ManagedProducer("127.0.0.1:9", request_timeout_ms=1000)
    with pytest.raises(Exception):  # noqa: B017 - aiokafka's connection error, whichever it is
        await managed.start()
    with pytest.raises(RuntimeError, match="not started"):
        _ = managed.running
