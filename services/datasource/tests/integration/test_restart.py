"""Restarts and redelivery: nothing is lost, nothing is done twice."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

import contracts as c
from connector_runtime.devstack.testing import eventually, unique

pytestmark = pytest.mark.integration

TOPICS = (c.DATASOURCE_COMMANDS, c.AUTH_EVENTS, c.RUN_EVENTS)


async def emitted_counts(service: Any, topic: str, ds_ids: list[uuid.UUID]) -> Counter[tuple[uuid.UUID, str]]:
    """How many messages of each type the service emitted per data source, read from Kafka."""
    wanted = {str(i).encode() for i in ds_ids}
    records = await service.everything(topic)
    return Counter(
        (uuid.UUID(r.key.decode()), c.parse_message(topic, r.value).type) for r in records if r.key in wanted
    )


async def test_restarts_in_the_middle_and_a_full_replay_lose_and_duplicate_nothing(start_service: Any) -> None:
    async with start_service() as first:
        commands = [first.create_command() for _ in range(20)]
        # every command delivered twice, as after a producer retry
        await first.send(c.DATASOURCE_COMMANDS, *[m for cmd in commands for m in (cmd, cmd)])

        async def first_handled() -> bool:
            response = await first.client.get(f"/datasources/{commands[0].datasource_id}")
            return response.status_code == 200

        await eventually(first_handled)
        # leave at once: some commands are handled, some are not yet
    ds_ids = [cmd.datasource_id for cmd in commands]

    async with start_service() as second:
        requests = await second.each(c.AUTH_REQUESTS, c.AuthorizationRequested, ds_ids)
        authorized = [second.exact_authorized(requests[i], division=5000 + n) for n, i in enumerate(ds_ids)]
        await second.send(c.AUTH_EVENTS, *authorized, *authorized)
        await second.one(c.INGEST_REQUESTS, ds_ids[0], c.InitialRunRequested)
        # leave again in the middle of the authorizations

    # A new consumer group reads every topic again from the start, as after a crash
    # before any offset was committed: what was handled is skipped, the rest is done once.
    async with start_service(group_id=unique("replay")) as replay:
        await replay.each(c.INGEST_REQUESTS, c.InitialRunRequested, ds_ids)
        await _all_partitions_caught_up(replay)
        outgoing = (await emitted_counts(replay, c.AUTH_REQUESTS, ds_ids)
                    + await emitted_counts(replay, c.DATASOURCE_EVENTS, ds_ids)
                    + await emitted_counts(replay, c.INGEST_REQUESTS, ds_ids))
        states = {(await replay.datasource(i))["state"] for i in ds_ids}
    assert states == {"connected"}
    for ds_id in ds_ids:
        for kind in ("DataSourceCreated", "AuthorizationRequested", "DataSourceConnected", "InitialRunRequested"):
            assert outgoing[(ds_id, kind)] == 1, (ds_id, kind, outgoing[(ds_id, kind)])
        assert outgoing[(ds_id, "CommandRejected")] == 0


async def _all_partitions_caught_up(service: Any) -> None:
    """Send a traced message down every partition of every consumed topic and wait for each.

    Partitions are consumed in order, so once a marker is handled, everything sent
    to that partition before it was handled too.
    """
    partitioner = DefaultPartitioner()
    partitions = {t: sorted(await service.producer.partitions_for(t)) for t in TOPICS}
    uncovered = {(t, p) for t, ps in partitions.items() for p in ps}
    markers: list[uuid.UUID] = []
    while uncovered:
        candidate = uuid.uuid4()
        hits = {(t, partitioner(str(candidate).encode(), ps, ps)) for t, ps in partitions.items()}
        if hits & uncovered:
            markers.append(candidate)
            uncovered -= hits
    for ds_id in markers:
        await service.send(c.DATASOURCE_COMMANDS, service.create_command(datasource_id=ds_id))
    requests = await service.each(c.AUTH_REQUESTS, c.AuthorizationRequested, markers)
    await service.send(c.AUTH_EVENTS, *[service.exact_authorized(requests[i], division=9000) for i in markers])
    runs = await service.each(c.INGEST_REQUESTS, c.InitialRunRequested, markers)
    await service.send(c.RUN_EVENTS, *[
        c.RunStarted.create(datasource_id=i, payload=c.RunStartedPayload(
            run_id=runs[i].payload.run_id, kind="initial", division=9000, entities=c.ALL_ENTITIES))
        for i in markers])
    for ds_id in markers:
        await service.until_datasource(ds_id, lambda d: d["run_status"] == "running")
