"""The raw baseline of P3: what a plain script does with the same pages.

httpx fetches every page of every entity of a division (the same endpoints, ``$select``
and filters the connector asks, following ``__next``), ``json`` parses it, and aiokafka
sends the page's rows as one message and waits for the broker's ack. No validation, no
checkpoints, no rate budget, no outbox, no reconciliation figures: an upper bound of what
the same machine can move from this sandbox into this broker, one page at a time.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaProducer

from connector_runtime.messaging.broker import ensure_topics
from contracts import ROW_MODELS, Entity, exact_fields

TOPIC = "bench.baseline"
# The entities of P3's workload, with the endpoints ingest reads them from (an entity added to
# ingest later is not read here: the figure compares rows per second, not totals).
SYNC = {Entity.TRANSACTION_LINES: "sync/Financial/TransactionLines",
        Entity.GL_ACCOUNTS: "sync/Financial/GLAccounts",
        Entity.GL_CLASSIFICATIONS: "sync/Financial/GLClassifications",
        Entity.ACCOUNTS: "sync/CRM/Accounts"}
REGULAR = {Entity.JOURNALS: "financial/Journals",
           Entity.FINANCIAL_PERIODS: "financial/FinancialPeriods",
           Entity.REPORTING_BALANCE: "financial/ReportingBalance",
           Entity.BUDGETS: "budget/Budgets",
           Entity.COST_CENTERS: "hrm/Costcenters",
           Entity.COST_UNITS: "hrm/Costunits",
           Entity.DIVISIONS: "system/Divisions"}


@dataclass
class BaselineRun:
    rows: int
    pages: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _first_page(division: int, entity: Entity) -> tuple[str, dict[str, str]]:
    params = {"$select": ",".join(exact_fields(ROW_MODELS[entity]))}
    if entity in SYNC:
        params["$filter"] = "Timestamp gt 1"
        return f"/api/v1/{division}/{SYNC[entity]}", params
    if entity is Entity.DIVISIONS:
        params["$filter"] = f"Code eq {division}"
    return f"/api/v1/{division}/{REGULAR[entity]}", params


async def run_baseline(sandbox_url: str, bootstrap: str, access_token: str, division: int
                       ) -> BaselineRun:
    await ensure_topics(bootstrap, [TOPIC], 6)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False,
                                max_request_size=8 << 20)
    await producer.start()
    rows = pages = 0
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(base_url=sandbox_url, headers=headers, timeout=60) as http:
            for entity in (*SYNC, *REGULAR):
                url, first = _first_page(division, entity)
                params: dict[str, str] | None = first
                next_url: str | None = url
                while next_url:
                    response = await http.get(next_url, params=params)
                    response.raise_for_status()
                    body = json.loads(response.content)["d"]
                    results = body["results"] if isinstance(body, dict) else body
                    await producer.send_and_wait(TOPIC, json.dumps(results).encode(),
                                                 key=str(division).encode())
                    rows += len(results)
                    pages += 1
                    next_url = body.get("__next") if isinstance(body, dict) else None
                    params = None
    finally:
        await producer.stop()
    return BaselineRun(rows, pages, time.monotonic() - started)
