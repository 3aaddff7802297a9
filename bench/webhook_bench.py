"""Benchmark of Exact's webhooks path (not a test; run it alone, by hand):

    uv run python bench/webhook_bench.py                  # 20 bookings, a burst of 500, 1,000 forgeries
    uv run python bench/webhook_bench.py --bookings 10 --lost 3 --sync-interval 30

Starts the broker and PostgreSQL (embedded, or from KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL),
the sandbox (real-time clock, limits lifted, http callbacks on loopback allowed) and the ingest
service with its webhook listener as separate processes, and auth's token API as a stand-in in
this process (``ingest_bench.TokenStandIn``). After the initial run of a 10,000-line division
and once ingest's subscriptions are active at the sandbox, it measures:

1. latency: a booking (one new entry) made at the sandbox -> the LedgerBatch carrying its lines
   read from Kafka (what a sink consumes); one booking at a time; p50/p95/max;
2. a burst: 500 new entries in one change (500 notifications) -> every line in a LedgerBatch;
   the API calls the sandbox answered for it vs 500 (one fetch of each notification's
   ExactOnlineEndpoint, the naive reaction);
3. 1,000 hostile deliveries straight to the listener: forged (wrong secret), replays of an
   accepted one, unsigned; the share refused and the ExactChangeNotified events they caused
   (must be 0);
4. healing: the sandbox loses every notification (delivery fault ``lose_rate`` 1.0) while
   bookings are made one at a time; each booking's lines must come with the next scheduled
   sync (``--sync-interval``, which runs all along, as in production): the heal time of each
   against the interval; then the ledger on Kafka (every TransactionLines row of every batch
   from the start of the topic, latest version per id, as a sink holds it) must reconcile
   exactly with the sandbox's expected figures (row count, AmountDC sum and debit sum, id
   hash).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

import contracts as c
from connector_runtime.devstack.testing import signed_claim
from connector_runtime.messaging.broker import ensure_topics
from contracts.rows import TransactionLine
from exact_sandbox.aggregates import id_hash
from exact_sandbox.client import SandboxAdmin
from exact_sandbox.testing import serve_in_thread

sys.path.insert(0, os.path.dirname(__file__))
from ingest_bench import (
    TokenStandIn,
    free_port,
    infrastructure,
    ingest_env,
    sandbox_process,
    wait_http,
)

DIVISION = 790_101
SECRET = "sandbox-webhook-secret"  # the sandbox's demo app (sandbox README)


@contextlib.contextmanager
def ingest_process(bootstrap: str, database: str, sandbox: str, auth: str, interval: int
                   ) -> Iterator[tuple[str, str]]:
    port, hook_port = free_port(), free_port()
    hook = f"http://127.0.0.1:{hook_port}/webhooks/exact"
    env = ingest_env(bootstrap, database, sandbox, auth, port, INGEST_WEBHOOK_SECRET=SECRET,
                     INGEST_WEBHOOK_PORT=str(hook_port), INGEST_WEBHOOK_CALLBACK_URL=hook,
                     INGEST_INCREMENTAL_INTERVAL_SECONDS=str(interval),
                     INGEST_INCREMENTAL_JITTER="0")
    proc = subprocess.Popen([sys.executable, "-m", "ingest"], env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz")
        yield f"http://127.0.0.1:{port}", hook
    finally:
        proc.terminate()
        proc.wait(20)


class Reader:
    """Everything on one topic from now on."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                         fetch_max_bytes=50 * 1024 * 1024)

    async def start(self, *, from_start: bool = False) -> Reader:
        await self.consumer.start()
        tps = [TopicPartition(self.topic, p)
               for p in self.consumer.partitions_for_topic(self.topic) or ()]
        self.consumer.assign(tps)
        await (self.consumer.seek_to_beginning if from_start else self.consumer.seek_to_end)(*tps)
        for tp in tps:
            await self.consumer.position(tp)
        return self

    async def poll(self, timeout: float = 0.2) -> list[c.Message]:
        out: list[c.Message] = []
        batch = await self.consumer.getmany(timeout_ms=int(timeout * 1000))
        for records in batch.values():
            out += [c.parse_message(self.topic, r.value or b"") for r in records]
        return out


async def wait_lines(batches: Reader, ids: set[str], timeout: float = 120.0) -> float:
    """Seconds until every line id was seen in a LedgerBatch."""
    start, left = time.monotonic(), set(ids)
    while left:
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"{len(left)} lines never arrived")
        for m in await batches.poll():
            if isinstance(m, c.LedgerBatch):
                left -= {str(r.id) for r in m.payload.rows}  # type: ignore[union-attr]
    return time.monotonic() - start


def delivery(secret: str, division: int) -> bytes:
    now = datetime.now(UTC).astimezone(ZoneInfo("Europe/Amsterdam")).replace(tzinfo=None)
    content = json.dumps({"Topic": "FinancialTransactions", "ClientId": str(uuid.uuid4()),
                          "Division": division, "Action": "Update", "Key": str(uuid.uuid4()),
                          "ExactOnlineEndpoint": "https://start.exactonline.nl/",
                          "EventCreatedOn": now.isoformat(timespec="milliseconds")},
                         separators=(",", ":")).encode()
    code = hmac.new(secret.encode(), content, hashlib.sha256).hexdigest().upper()
    return b'{"Content":' + content + b',"HashCode":"' + code.encode() + b'"}'


async def book_one(admin: SandboxAdmin, batches: Reader) -> float:
    """Seconds from a booking (one new entry) at the sandbox to all its lines on Kafka."""
    t0 = time.monotonic()
    change = await admin.change(DIVISION, entity="TransactionLines", insert=1)
    await wait_lines(batches, set(change["inserted"]))
    return time.monotonic() - t0


async def ledger_on_kafka(bootstrap: str) -> dict[str, Any]:
    """TransactionLines as a sink holds them after every batch so far: count, AmountDC sum
    and debit sum, and the id hash (the sandbox's definition)."""
    reader = await Reader(bootstrap, c.LEDGER_BATCHES).start(from_start=True)
    lines: dict[str, Decimal] = {}
    try:
        while batch := await reader.poll(2.0):
            for m in batch:
                if isinstance(m, c.LedgerBatch) and m.payload.entity == c.Entity.TRANSACTION_LINES:
                    lines.update((str(r.id), r.amount_dc) for r in m.payload.rows
                                 if isinstance(r, TransactionLine))
                elif isinstance(m, c.LedgerDeletes):
                    for row in m.payload.rows:
                        if row.entity == c.Entity.TRANSACTION_LINES:
                            lines.pop(str(row.id), None)
    finally:
        await reader.consumer.stop()
    return {"count": len(lines), "sum_amount_dc": str(sum(lines.values(), Decimal(0))),
            "sum_debit_dc": str(sum((a for a in lines.values() if a > 0), Decimal(0))),
            "id_hash": id_hash(lines)}


async def heal(admin: SandboxAdmin, batches: Reader, bootstrap: str, lost: int,
               interval: int) -> dict[str, Any]:
    """Every notification lost: each booking waits for the next scheduled sync."""
    await admin.webhook_faults(lose_rate=1.0)
    try:
        times = [await book_one(admin, batches) for _ in range(lost)]
        stats = (await admin.webhooks())["stats"]
    finally:
        await admin.webhook_faults()
    await asyncio.sleep(2)
    expected = await admin.expected(DIVISION)
    exp = expected["entities"]["TransactionLines"]
    held = await ledger_on_kafka(bootstrap)
    return {"bookings": lost, "notifications_lost": stats.get("lost", 0),
            "sync_interval_seconds": interval,
            "heal_seconds": {"mean": round(statistics.mean(times), 1),
                             "max": round(max(times), 1)},
            "ledger_on_kafka": held,
            "sandbox_expected": {k: exp[k] for k in held},
            "reconciles": all(Decimal(str(held[k])) == Decimal(str(exp[k])) if k != "id_hash"
                              else held[k] == exp[k] for k in held)}


async def bench(bookings: int, burst: int, hostile: int, lost: int, interval: int
                ) -> dict[str, Any]:
    with infrastructure() as (bootstrap, database), sandbox_process(0, (
            "--extra-division", f"{DIVISION}=10000", "--webhook-http-loopback")) as sandbox:
        await ensure_topics(bootstrap, c.ALL_TOPICS, 6)
        tokens = TokenStandIn(sandbox)
        grant_id = await tokens.add(DIVISION)
        with serve_in_thread(tokens.app()) as auth, \
                ingest_process(bootstrap, database, sandbox, auth, interval) as (_api, hook):
            runs = await Reader(bootstrap, c.RUN_EVENTS).start()
            batches = await Reader(bootstrap, c.LEDGER_BATCHES).start()
            notes = await Reader(bootstrap, c.CHANGE_NOTIFICATIONS).start()
            datasource_id = uuid.uuid4()
            request = c.InitialRunRequested.create(
                datasource_id=datasource_id, payload=c.InitialRunRequestedPayload(
                    run_id=uuid.uuid4(), division=DIVISION, grant_id=grant_id,
                    entities=c.ALL_ENTITIES,
                    grant_claim=signed_claim(datasource_id, grant_id, DIVISION)))
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
            await producer.start()
            await producer.send_and_wait(c.INGEST_REQUESTS, request.to_bytes(), key=request.key)
            await producer.stop()
            while not any(isinstance(m, c.RunCompleted) for m in await runs.poll()):
                pass
            async with SandboxAdmin(sandbox, timeout=60) as admin:
                deadline = time.monotonic() + 60
                while len((await admin.webhooks())["subscriptions"]) < 2:
                    if time.monotonic() > deadline:
                        raise RuntimeError("ingest did not subscribe")
                    await asyncio.sleep(0.5)
                await batches.poll(1.0)  # drain the initial run's batches
                latencies = []
                for _ in range(bookings):
                    latencies.append(await book_one(admin, batches))
                    await asyncio.sleep(0.5)
                await asyncio.sleep(3)
                await batches.poll(1.0)
                await admin.reset_stats()
                t0 = time.monotonic()
                change = await admin.change(DIVISION, entity="TransactionLines", insert=burst)
                await wait_lines(batches, set(change["inserted"]), timeout=300)
                burst_seconds = time.monotonic() - t0
                await asyncio.sleep(3)  # stragglers' runs, if any, are counted too
                calls = (await admin.stats())["calls_by_endpoint"]
                notified = change["webhook_deliveries"]
                healing = await heal(admin, batches, bootstrap, lost, interval)
            for _ in range(10):
                await notes.poll(0.5)  # the burst's events, before counting
            refused = accepted = 0
            async with httpx.AsyncClient(timeout=30) as client:
                good = delivery(SECRET, DIVISION)
                assert (await client.post(hook, content=good)).status_code == 200
                bodies = [delivery("forged-secret", DIVISION) for _ in range(hostile // 3)]
                bodies += [good] * (hostile // 3)
                unsigned = json.dumps({"Content": json.loads(good)["Content"]}).encode()
                bodies += [unsigned] * (hostile - len(bodies))
                for body in bodies:
                    status = (await client.post(hook, content=body)).status_code
                    refused += status >= 400
                    accepted += status < 400
            keys = {json.loads(b)["Content"]["Key"] for b in bodies}
            published = 0
            for _ in range(10):
                published += sum(str(m.payload.key) in keys for m in await notes.poll(0.5)
                                 if isinstance(m, c.ExactChangeNotified))
            for reader in (runs, batches, notes):
                await reader.consumer.stop()
    lat = sorted(latencies)
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "latency_seconds": {"n": len(lat), "p50": round(statistics.median(lat), 2),
                            "p95": round(lat[max(0, int(len(lat) * 0.95) - 1)], 2),
                            "max": round(lat[-1], 2)},
        "burst": {"entries": burst, "notifications": notified, "calls": calls,
                  "calls_total": sum(calls.values()),
                  "share_of_single_fetches": round(sum(calls.values()) / notified, 4),
                  "seconds_to_last_line": round(burst_seconds, 2)},
        "hostile": {"sent": hostile, "refused": refused, "accepted": accepted,
                    "published": published - 1},  # the one good delivery itself is not one
        "healing": healing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bookings", type=int, default=20)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--hostile", type=int, default=1000)
    parser.add_argument("--lost", type=int, default=4,
                        help="bookings whose notifications are all lost (healing)")
    parser.add_argument("--sync-interval", type=int, default=30,
                        help="INGEST_INCREMENTAL_INTERVAL_SECONDS of the scheduled sync")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bench(args.bookings, args.burst, args.hostile, args.lost,
                                       args.sync_interval)), indent=2))


if __name__ == "__main__":
    main()
