"""What each infrastructure path proves (``CONNECTOR_TEST_INFRA``, connector_runtime.devstack.testing).

Every other integration and end-to-end test runs unchanged on either path: the embedded
broker (Kafka protocol, memory only) and Apache Kafka in a container (or a broker given by
address). Two Kafka features the services' configuration could use exist only on Apache
Kafka, so they are proven on the containers path and skipped, saying so, on the embedded one:
the idempotent producer (a retried send is written once) and transactions (a consumer reading
committed data never sees an aborted write). The services themselves do not depend on either:
they publish through an outbox with ``enable_idempotence=False`` and dedupe on ``message_id``.
"""

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from connector_runtime.devstack.testing import Infra, read_records, unique
from connector_runtime.messaging.broker import ensure_topics

pytestmark = pytest.mark.integration

ONLY_APACHE_KAFKA = "the embedded broker has no {}: proven by `make test-containers` (Apache Kafka)"


async def test_the_session_broker_round_trips_keys_values_and_headers_on_every_path(infra: Infra) -> None:
    assert infra.kafka in ("embedded", "containers", "given")
    topic = unique("paths")
    await ensure_topics(infra.kafka_bootstrap_servers, [topic], 3)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, acks="all",
                                enable_idempotence=False, compression_type="gzip")
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, f"v{i}".encode(), key=b"one-key", headers=[("h", b"x")])
    finally:
        await producer.stop()
    records = await read_records(infra.kafka_bootstrap_servers, topic, lambda rs: len(rs) >= 5)
    assert [r.value for r in records] == [f"v{i}".encode() for i in range(5)]  # one key, one order
    assert {r.partition for r in records} == {records[0].partition}
    assert all(dict(r.headers) == {"h": b"x"} for r in records)


async def test_the_idempotent_producer_writes_each_record_once(infra: Infra) -> None:
    if not infra.real_kafka:
        pytest.skip(ONLY_APACHE_KAFKA.format("idempotent producer"))
    topic = unique("idempotent")
    await ensure_topics(infra.kafka_bootstrap_servers, [topic], 1)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, enable_idempotence=True)
    await producer.start()
    try:
        for i in range(20):
            await producer.send(topic, str(i).encode(), key=b"k")
        await producer.flush()
    finally:
        await producer.stop()
    records = await read_records(infra.kafka_bootstrap_servers, topic, lambda rs: len(rs) >= 20, timeout=10)
    assert [int(r.value or b"") for r in records] == list(range(20))


async def test_a_reader_of_committed_data_never_sees_an_aborted_transaction(infra: Infra) -> None:
    if not infra.real_kafka:
        pytest.skip(ONLY_APACHE_KAFKA.format("transactions"))
    topic = unique("tx")
    await ensure_topics(infra.kafka_bootstrap_servers, [topic], 1)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                transactional_id=f"tx-{uuid.uuid4().hex[:8]}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(topic, b"after")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=infra.kafka_bootstrap_servers, group_id=None,
                                auto_offset_reset="earliest", isolation_level="read_committed")
    await consumer.start()
    seen: list[bytes] = []
    try:
        while b"after" not in seen:
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, f"nothing more to read; seen {seen}"
            seen += [r.value or b"" for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    assert seen == [b"committed", b"after"]
