"""Exact Online webhook deliveries: verify, read, decide (pure; no IO).

A delivery is ``{"Content":{…},"HashCode":"…"}``; HashCode is the upper-case hex
HMAC-SHA256 of the raw ``Content`` JSON under the app's webhook secret (EXACT_API.md
section 7). The bytes hashed are exactly those between ``{"Content":`` and
``,"HashCode":"`` as received (picqer ``Webhook/Authenticatable.php`` matches
``^{"Content":(.*),"HashCode":"(.*)"}$``), so the body is never re-serialised before the
check. Content fields: Topic, ClientId, Division, Action, Key, ExactOnlineEndpoint,
EventCreatedOn (a zone-less Dutch wall-clock time such as "2020-01-06T16:26:08.587", as in a
delivery quoted in public client code; leapforce-libraries' Go client ``WebhookResponse``).

Errors: :class:`Refused` with a ``reason`` (a metric label) and the HTTP ``status`` to answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_DELIVERY = re.compile(rb'^\{"Content":(.*),"HashCode":"(.*)"\}$', re.DOTALL)
_AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ACTIONS = {"create": "Create", "update": "Update", "delete": "Delete"}

REFUSAL_STATUS = {"malformed": 400, "unsigned": 401, "bad_signature": 401,
                  "unknown_topic": 422, "stale": 422, "unknown_division": 404,
                  "replayed": 409}
"""What a refused delivery is answered with; the reason is also the metric label."""


class Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.status = REFUSAL_STATUS[reason]


@dataclass(frozen=True)
class Notification:
    topic: str
    division: int
    action: str
    key: uuid.UUID
    endpoint: str
    created_on: datetime
    digest: bytes
    """SHA-256 of the signed Content: the same notification delivered again has it too."""

    entities: tuple[str, ...]
    """The imported entities the topic covers."""


def verify(body: bytes, secret: str) -> bytes:
    """The signed Content bytes of a delivery whose HashCode matches (constant-time)."""
    match = _DELIVERY.match(body.strip())
    if match is None:
        raise Refused("unsigned", "not a signed Exact delivery ({\"Content\":…,\"HashCode\":…})")
    content, given = match.group(1), match.group(2)
    if not given:
        raise Refused("unsigned", "HashCode is empty")
    expected = hmac.new(secret.encode(), content, hashlib.sha256).hexdigest().upper().encode()
    if not hmac.compare_digest(expected, given):
        raise Refused("bad_signature", "HashCode does not match the content")
    return content


def read(content: bytes, now: datetime, max_age: timedelta,
         topics: Mapping[str, tuple[str, ...]]) -> Notification:
    """Fields of a verified Content; refuses topics that cover no imported entity (``topics``:
    topic -> entities, from the entity table) and stale or future events."""
    try:
        raw = json.loads(content)
        topic, division = str(raw["Topic"]), int(raw["Division"])
        action = ACTIONS[str(raw["Action"]).lower()]
        key = uuid.UUID(str(raw["Key"]))
        endpoint = str(raw.get("ExactOnlineEndpoint") or "")[:500]
        created = event_time(str(raw["EventCreatedOn"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise Refused("malformed", f"Content is not a notification: {type(exc).__name__}"
                      ) from None
    if topic not in topics:
        raise Refused("unknown_topic", f"topic {topic!r} maps to no imported entity")
    if created < now - max_age or created > now + max_age:
        raise Refused("stale", f"EventCreatedOn {created.isoformat()} is outside "
                               f"{int(max_age.total_seconds())} s of now")
    return Notification(topic, division, action, key, endpoint, created,
                        hashlib.sha256(content).digest(), topics[topic])


def event_time(value: str) -> datetime:
    """EventCreatedOn: Dutch wall-clock time without a zone (or with one, if Exact adds it)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_AMSTERDAM)
    return parsed.astimezone(UTC)
