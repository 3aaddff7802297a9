"""Webhooks: `webhooks/WebhookSubscriptions` and signed deliveries to the registered callbacks.

What Exact does, and where each fact comes from:

- `POST /api/v1/{division}/webhooks/WebhookSubscriptions` with `{"CallbackURL","Topic"}`,
  `DELETE .../WebhookSubscriptions(guid'ID')` to remove; they are API calls like any other
  (same token, rate limits and error budget) [EXACT_API.md section 7]. Fields: `ID`,
  `CallbackURL`, `ClientID`, `Created`, `Creator`, `CreatorFullName`, `Description`, `Division`,
  `Topic` (picqer `WebhookSubscription.php`), `UserID`, `IsInstant` (EXACT_API.md [R 28]).
- HTTPS callbacks only [EXACT_API.md R 29]; a second subscription of one app to the same topic
  and division is refused with a 500 "Data already exists" (a public integration note on
  Exact's webhooks; the sandbox answers it with the ordinary error body).
- Topics: no official list; the sandbox accepts the ones EXACT_API.md section 7 names and
  delivers for the two its data can change: FinancialTransactions (TransactionLines; the key is
  the transaction, i.e. the lines' EntryID, endpoint `financialtransaction/Transactions`, picqer
  `Transaction.php`) and Accounts (`crm/Accounts`). GLAccounts and GLClassifications have no
  known topic: their changes reach a client only through sync.
- A delivery is `{"Content":{Topic,ClientId,Division,Action,Key,ExactOnlineEndpoint,
  EventCreatedOn},"HashCode":"…"}` with HashCode the upper-case hex HMAC-SHA256 of the raw
  `Content` JSON under the app's webhook secret (picqer `Webhook/Authenticatable.php`, which
  hashes exactly the bytes between `{"Content":` and `,"HashCode"`). `Action` is "Update" or
  "Delete" and `EventCreatedOn` a zone-less Dutch wall-clock time like
  "2020-01-06T16:26:08.587" (a delivery quoted in the ExactManager of a public Symfony
  ExactOnlineBundle; leapforce-libraries' Go client `WebhookResponse`). No record data.

Delivery faults (`/_sandbox/webhooks`, PATCH `{"faults": {...}}`) decide per delivery, from a
seeded generator: lost, duplicated, delayed, sent out of order, or signed with a wrong key.
Exact's retry schedule for failed deliveries is not modelled: a refused delivery is counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from exact_sandbox.changes import ChangeResult
from exact_sandbox.config import AppRegistration

TOPICS = frozenset({"FinancialTransactions", "Accounts", "Items", "StockPositions",
                    "SalesInvoices", "SalesOrders", "GoodsDeliveries", "Documents",
                    "BankAccounts"})
TOPIC_OF_ENTITY = {"TransactionLines": "FinancialTransactions", "Accounts": "Accounts"}
_ENDPOINT_OF_TOPIC = {"FinancialTransactions": "financialtransaction/Transactions",
                      "Accounts": "crm/Accounts"}
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class SubscriptionError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class DeliveryFaults:
    seed: int = 1
    lose_rate: float = 0.0
    duplicate_rate: float = 0.0
    bad_signature_rate: float = 0.0
    delay_ms: int = 0
    reorder: bool = False
    """Send each change's notifications in a shuffled order."""


@dataclass
class Subscription:
    id: str
    division: int
    topic: str
    callback_url: str
    client_id: str
    user_id: str
    user_name: str
    created_ms: int

    def as_exact(self, app_name: str) -> dict[str, Any]:
        return {"ID": self.id, "CallbackURL": self.callback_url, "ClientID": self.client_id,
                "Created": f"/Date({self.created_ms})/", "Creator": self.user_id,
                "CreatorFullName": self.user_name, "Description": app_name,
                "Division": self.division, "Topic": self.topic, "UserID": self.user_id,
                "IsInstant": False}


def sign(content: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), content, hashlib.sha256).hexdigest().upper()


def delivery_body(content: dict[str, Any], secret: str) -> bytes:
    raw = json.dumps(content, separators=(",", ":")).encode()
    return b'{"Content":' + raw + b',"HashCode":"' + sign(raw, secret).encode() + b'"}'


@dataclass
class Webhooks:
    apps: dict[str, AppRegistration]
    http_loopback: bool = False
    faults: DeliveryFaults = field(default_factory=DeliveryFaults)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)
    _rng: random.Random = field(default_factory=lambda: random.Random(1))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def configure(self, raw: dict[str, Any]) -> None:
        known = {f.name for f in dataclasses.fields(DeliveryFaults)}
        if set(raw) - known:
            raise ValueError(f"unknown webhook faults: {sorted(set(raw) - known)}")
        self.faults = dataclasses.replace(DeliveryFaults(), **raw)
        self._rng = random.Random(self.faults.seed)

    def subscribe(self, client_id: str, user_id: str, user_name: str, division: int,
                  body: dict[str, Any], now: float) -> Subscription:
        url, topic = body.get("CallbackURL"), body.get("Topic")
        if not isinstance(url, str) or not isinstance(topic, str):
            raise SubscriptionError(400, "CallbackURL and Topic are required.")
        if topic not in TOPICS:
            raise SubscriptionError(400, f"Unknown webhook topic: {topic}")
        parts = urlsplit(url)
        loopback_http = (self.http_loopback and parts.scheme == "http"
                         and parts.hostname in _LOOPBACK)
        if parts.scheme != "https" and not loopback_http:
            raise SubscriptionError(400, "CallbackURL must be an https URL.")
        if any(s.client_id == client_id and s.division == division and s.topic == topic
               for s in self.subscriptions.values()):
            raise SubscriptionError(500, "Data already exists")
        sub = Subscription(str(uuid.uuid4()), division, topic, url, client_id, user_id,
                           user_name, int(now * 1000))
        self.subscriptions[sub.id] = sub
        return sub

    def listed(self, client_id: str, division: int) -> list[Subscription]:
        return [s for s in self.subscriptions.values()
                if s.client_id == client_id and s.division == division]

    def unsubscribe(self, client_id: str, division: int, sub_id: str) -> None:
        sub = self.subscriptions.get(sub_id.lower())
        if sub is None or sub.client_id != client_id or sub.division != division:
            raise SubscriptionError(404, "The requested entity was not found.")
        del self.subscriptions[sub.id]

    def notify(self, base_url: str, division: int, entity: str, result: ChangeResult,
               now: float) -> int:
        """Schedule the deliveries one change causes; returns how many are planned."""
        topic = TOPIC_OF_ENTITY.get(entity)
        subs = [s for s in self.subscriptions.values()
                if topic is not None and s.division == division and s.topic == topic]
        if not subs or not result.changed:
            return 0
        created = datetime.fromtimestamp(now, tz=_AMSTERDAM).strftime("%Y-%m-%dT%H:%M:%S.%f")
        planned: list[tuple[str, bytes]] = []
        for sub in subs:
            app = self.apps.get(sub.client_id)
            secret = app.webhook_secret if app is not None else ""
            for key, action in result.changed.items():
                content = {"Topic": sub.topic, "ClientId": sub.client_id,
                           "Division": division, "Action": action, "Key": key,
                           "ExactOnlineEndpoint": f"{base_url}/api/v1/{division}/"
                                                  f"{_ENDPOINT_OF_TOPIC[sub.topic]}"
                                                  f"(guid'{key}')",
                           "EventCreatedOn": created[:-3]}
                planned.extend(self._with_faults(sub.callback_url, content, secret))
        if self.faults.reorder:
            self._rng.shuffle(planned)
        task = asyncio.get_running_loop().create_task(self._deliver(planned))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return len(planned)

    def _with_faults(self, url: str, content: dict[str, Any], secret: str
                     ) -> list[tuple[str, bytes]]:
        f, rng = self.faults, self._rng
        if rng.random() < f.lose_rate:
            self.stats["lost"] += 1
            return []
        if rng.random() < f.bad_signature_rate:
            self.stats["bad_signature"] += 1
            secret = secret + "-wrong"
        body = delivery_body(content, secret)
        if rng.random() < f.duplicate_rate:
            self.stats["duplicated"] += 1
            return [(url, body), (url, body)]
        return [(url, body)]

    async def _deliver(self, planned: list[tuple[str, bytes]]) -> None:
        if self.faults.delay_ms:
            await asyncio.sleep(self.faults.delay_ms / 1000)
        async with httpx.AsyncClient(timeout=10.0) as client:
            for url, body in planned:
                try:
                    r = await client.post(url, content=body,
                                          headers={"Content-Type": "application/json"})
                except httpx.HTTPError:
                    self.stats["unreachable"] += 1
                    continue
                self.stats["delivered" if r.is_success else f"refused_{r.status_code}"] += 1

    async def drain(self) -> None:
        """Wait for deliveries in flight (tests and the bench)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def as_dict(self) -> dict[str, Any]:
        return {"subscriptions": [dataclasses.asdict(s) for s in self.subscriptions.values()],
                "faults": dataclasses.asdict(self.faults), "stats": dict(self.stats),
                "in_flight": len(self._tasks)}
