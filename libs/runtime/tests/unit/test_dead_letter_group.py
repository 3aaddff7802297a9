"""A dead letter names the consumer group that gave up on the message, not the service's
group prefix: a service may read each topic in its own group."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from connector_runtime.messaging.broker import consumer_group_of


def test_the_group_of_the_subscription_that_reads_the_topic_is_named() -> None:
    broker = KafkaBroker("127.0.0.1:9")

    @broker.subscriber("exact.datasource.commands", group_id="exact-datasource.commands")
    async def commands(body: bytes) -> None: ...

    @broker.subscriber("exact.auth.events", group_id="exact-datasource.auth-events")
    async def auth_events(body: bytes) -> None: ...

    assert consumer_group_of(broker, "exact.auth.events", "exact-datasource") == \
        "exact-datasource.auth-events"
    assert consumer_group_of(broker, "exact.datasource.commands", "exact-datasource") == \
        "exact-datasource.commands"
    assert consumer_group_of(broker, "elsewhere", "exact-datasource") == "exact-datasource"
