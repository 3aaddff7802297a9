"""Benchmark of the ingest service against the Exact sandbox (not a test; run it by hand).

    uv run python bench/ingest_bench.py                 # 10k and 1M TransactionLines
    uv run python bench/ingest_bench.py --large 200000  # quicker

It starts the broker and PostgreSQL (embedded, or from KAFKA_BOOTSTRAP_SERVERS /
DATABASE_URL), the sandbox and the ingest service as separate processes (so the ingest
process's CPU and memory are its own), and a stand-in for auth's internal token API in this
process. Then, in one run, it reports:

1. API calls used vs the minimum, and wall time vs the rate-limit bound: a full initial run
   (every entity) of a 10,000-line division under Exact's real limits (60 calls a minute,
   5,000 a day), once at real speed (the sandbox's clock is real time, as Exact's is) and
   once with the sandbox clock running 10x (ingest must learn that clock from the headers).
   The bound is the fixed-window minimum from the instant the run starts (the rest of the
   current minute, then whole minutes).
2. rows/s of ingest vs a raw baseline on the same sandbox (httpx + json + aiokafka: page
   through sync/Financial/TransactionLines, one gzip message a page, acks awaited), with
   the rate limits lifted.
3. ingest's peak memory (RSS) during a TransactionLines run of 10k and of 1M rows, each in a
   fresh ingest process.

Size: a script run by hand that stands alone (its own processes, token stand-in and report,
which ``bench/webhook_bench.py`` reuses); splitting it would only spread one procedure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import contracts as c
from bench.calls import minimum_calls
from connector_runtime.devstack.embedded import EmbeddedKafka, EmbeddedPostgres
from connector_runtime.devstack.testing import TEST_CLAIM_VERIFY_KEYS, signed_claim
from connector_runtime.messaging.broker import ensure_topics
from exact_sandbox.client import SandboxAdmin
from exact_sandbox.testing import serve_in_thread

SMALL, LARGE = 790_001, 790_002
SPEEDS = (1.0, 10.0)  # sandbox clock in the rate-limited runs (x10: a window lasts 6 s)
TOKEN = "bench-internal-token"
FIELDS = ",".join(c.exact_fields(c.ROW_MODELS[c.Entity.TRANSACTION_LINES]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer")
        time.sleep(0.1)


# ---- infrastructure -----------------------------------------------------------------------------

@contextlib.contextmanager
def infrastructure() -> Iterator[tuple[str, str]]:
    kafka = pg = None
    bootstrap, database = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    try:
        if not bootstrap:
            kafka = EmbeddedKafka().start()
            bootstrap = kafka.bootstrap_servers
        if not database:
            pg = EmbeddedPostgres().start()
            database = pg.url
        yield bootstrap, database
    finally:
        if pg is not None:
            pg.stop()
        if kafka is not None:
            kafka.stop()


@contextlib.contextmanager
def sandbox_process(large: int, options: tuple[str, ...] | None = None) -> Iterator[str]:
    """The sandbox with limits lifted and the SMALL and LARGE divisions (or ``options``)."""
    port = free_port()
    if options is None:
        options = ("--extra-division", f"{SMALL}=10000", "--extra-division", f"{LARGE}={large}")
    cmd = [sys.executable, "-c", "from exact_sandbox.cli import app; app()", "--port", str(port),
           "--minutely-limit", "1000000000", "--daily-limit", "1000000000", *options]
    proc = subprocess.Popen(cmd)  # noqa: S603 - our own interpreter and module
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/_sandbox/health")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class TokenStandIn:
    """auth's internal token API over sandbox grants (a new sandbox grant when one is refused)."""

    sandbox: str
    grants: dict[uuid.UUID, tuple[int, str]] = field(default_factory=dict)

    async def mint(self, division: int) -> str:
        async with SandboxAdmin(self.sandbox) as admin:
            grant = await admin.grant("eva.large@demo.nl", divisions=[division])
        return str(grant["access_token"])

    async def add(self, division: int) -> uuid.UUID:
        grant_id = uuid.uuid4()
        self.grants[grant_id] = (division, await self.mint(division))
        return grant_id

    def app(self) -> Starlette:
        async def token(request: Request) -> Response:
            division, access = self.grants[uuid.UUID(request.path_params["grant_id"])]
            expires = datetime.now(UTC) + timedelta(seconds=600)
            return JSONResponse({"access_token": access, "expires_at": expires.isoformat(),
                                 "division": division})

        async def rejected(request: Request) -> Response:
            grant_id = uuid.UUID(request.path_params["grant_id"])
            division, _ = self.grants[grant_id]
            access = await self.mint(division)
            self.grants[grant_id] = (division, access)
            return Response(status_code=202)

        return Starlette(routes=[
            Route("/internal/grants/{grant_id}/access-token", token),
            Route("/internal/grants/{grant_id}/access-token/rejected", rejected,
                  methods=["POST"])])


def ingest_env(bootstrap: str, database: str, sandbox: str, auth: str, port: int,
               **extra: str) -> dict[str, str]:
    """The environment of an ingest process of a benchmark (``extra``: more settings)."""
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database,
            "EXACT_BASE_URL": sandbox, "INGEST_AUTH_INTERNAL_URL": auth,
            "INGEST_AUTH_INTERNAL_TOKEN": TOKEN, "INGEST_HTTP_PORT": str(port),
            "INGEST_INTERNAL_HTTP_PORT": str(free_port()),
            "INGEST_RUN_CLAIM_VERIFY_KEYS": TEST_CLAIM_VERIFY_KEYS,
            "INGEST_CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:8]}",
            "KAFKA_SESSION_TIMEOUT_MS": "3000", "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
            **extra}


@contextlib.contextmanager
def ingest_process(bootstrap: str, database: str, sandbox: str, auth: str) -> Iterator[psutil.Process]:
    port = free_port()
    env = ingest_env(bootstrap, database, sandbox, auth, port)
    proc = subprocess.Popen([sys.executable, "-m", "ingest"], env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz")
        yield psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(20)


# ---- running and measuring ----------------------------------------------------------------------

@dataclass
class Measured:
    completed: c.RunCompleted
    wall: float
    peak_rss: int
    rss_before: int


async def run_once(bootstrap: str, ingest: psutil.Process, division: int, grant_id: uuid.UUID,
                   entities: tuple[c.Entity, ...]) -> Measured:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    tps = [TopicPartition(c.RUN_EVENTS, p) for p in consumer.partitions_for_topic(c.RUN_EVENTS) or ()]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)
    datasource_id = uuid.uuid4()
    request = c.InitialRunRequested.create(datasource_id=datasource_id, payload=c.InitialRunRequestedPayload(
        run_id=uuid.uuid4(), division=division, grant_id=grant_id, entities=entities,
        grant_claim=signed_claim(datasource_id, grant_id, division)))
    peak = before = ingest.memory_info().rss
    stop = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, ingest.memory_info().rss)
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    start = time.monotonic()
    await producer.send_and_wait(c.INGEST_REQUESTS, request.to_bytes(), key=request.key)
    await producer.stop()
    try:
        while True:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    msg = c.parse_message(c.RUN_EVENTS, record.value or b"")
                    if msg.payload.run_id != request.payload.run_id:
                        continue
                    if isinstance(msg, c.RunFailed):
                        raise RuntimeError(f"run failed: {msg.payload.reason}")
                    if isinstance(msg, c.RunCompleted):
                        return Measured(msg, time.monotonic() - start, peak, before)
    finally:
        stop.set()
        await sampler
        await consumer.stop()


async def raw_baseline(bootstrap: str, sandbox: str, token: str, division: int) -> tuple[int, float]:
    """httpx + json + aiokafka: the least any importer must do with the same pages."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic], 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type="gzip",
                                max_request_size=4_000_000, acks="all")
    await producer.start()
    rows = 0
    start = time.monotonic()
    async with httpx.AsyncClient(base_url=sandbox, timeout=60,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Accept": "application/json"}) as http:
        url: str | None = f"/api/v1/{division}/sync/Financial/TransactionLines"
        params: dict[str, str] | None = {"$select": FIELDS, "$filter": "Timestamp gt 1"}
        while url:
            r = await http.get(url, params=params)
            r.raise_for_status()
            d = json.loads(r.content)["d"]
            rows += len(d["results"])
            await (await producer.send(topic, json.dumps(d["results"]).encode()))
            url, params = d.get("__next"), None
    wall = time.monotonic() - start
    await producer.stop()
    return rows, wall


def rate_bound(calls: int, limit: int, server_now: float) -> float:
    """Least sandbox seconds ``calls`` need under fixed minute windows of ``limit`` calls,
    starting at ``server_now`` with a full window: the last call can go at the start of the
    window it falls in (call latency ignored)."""
    extra_windows = math.ceil(calls / limit) - 1
    if extra_windows <= 0:
        return 0.0
    left_in_first = 60 - server_now % 60
    return left_in_first + (extra_windows - 1) * 60



async def bench(large: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with infrastructure() as (bootstrap, database), sandbox_process(large) as sandbox:
        await ensure_topics(bootstrap, c.ALL_TOPICS, 6)
        tokens = TokenStandIn(sandbox)
        with serve_in_thread(tokens.app()) as auth:
            admin = SandboxAdmin(sandbox, timeout=120)

            # 1. calls vs minimum, wall time vs the rate-limit bound (real limits); the clock
            #    at real speed, then at 10x (Exact's clock must be learned)
            limit = 60
            for speed in SPEEDS:
                await admin.limits(minutely=limit, daily=5000)
                await admin.reset_limits()
                await admin.clock(speed=speed)
                with ingest_process(bootstrap, database, sandbox, auth) as ingest:
                    await admin.reset_stats()
                    grant = await tokens.add(SMALL)
                    now = (await admin.clock())["now"]
                    m = await run_once(bootstrap, ingest, SMALL, grant, c.ALL_ENTITIES)
                stats = await admin.stats()
                expected = (await admin.expected(SMALL))["entities"]
                minimum = minimum_calls(expected)
                results[f"rate_limited_full_run_clock_x{speed:g}"] = {
                    "division_lines": 10_000, "minutely_limit": limit, "clock_speed": speed,
                    "calls_used": m.completed.payload.calls_used, "calls_minimum": minimum,
                    "sandbox_calls": stats["calls_by_division"].get(str(SMALL)),
                    "responses_429": stats["responses_429"],
                    "rule_violations": stats["rule_violations"],
                    "wall_seconds": round(m.wall, 2),
                    "rate_bound_seconds": round(rate_bound(minimum, limit, now) / speed, 2),
                    "rows": {str(t.entity): t.rows for t in m.completed.payload.totals},
                }

            # 2./3. throughput and memory: limits lifted, TransactionLines only
            await admin.limits(minutely=10**9, daily=10**9)
            await admin.clock(speed=1.0)
            for label, division, rows in (("10k", SMALL, 10_000), ("large", LARGE, large)):
                with ingest_process(bootstrap, database, sandbox, auth) as ingest:
                    m = await run_once(bootstrap, ingest, division, await tokens.add(division),
                                       (c.Entity.TRANSACTION_LINES,))
                results[f"ingest_{label}"] = {
                    "rows": rows, "wall_seconds": round(m.wall, 2),
                    "rows_per_second": round(rows / m.wall),
                    "rss_idle_mb": round(m.rss_before / 2**20, 1),
                    "rss_peak_mb": round(m.peak_rss / 2**20, 1),
                    "batches": m.completed.payload.batches,
                    "calls": m.completed.payload.calls_used,
                }
            rows, wall = await raw_baseline(bootstrap, sandbox, await tokens.mint(LARGE), LARGE)
            results["raw_baseline_large"] = {"rows": rows, "wall_seconds": round(wall, 2),
                                             "rows_per_second": round(rows / wall)}
            await admin.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", type=int, default=1_000_000,
                        help="TransactionLines of the large division")
    args = parser.parse_args()
    results = asyncio.run(bench(args.large))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

