"""Verifying and reading Exact's webhook deliveries (ingest.domain.notifications)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ingest.domain.notifications import Refused, event_time, read, verify
from ingest.entities import CATALOG

SECRET = "s3cret"
NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)  # 11:00 in Amsterdam
HOUR = timedelta(hours=1)


def content(**fields: object) -> bytes:
    values: dict[str, object] = {"Topic": "FinancialTransactions", "ClientId": "c",
                                 "Division": 100001, "Action": "Update",
                                 "Key": "19cee073-095e-46d1-8d2d-f3fc97ba5bc1",
                                 "ExactOnlineEndpoint": "https://x/api/v1/100001/y",
                                 "EventCreatedOn": "2025-03-03T10:59:30.587"}
    values.update(fields)
    return json.dumps(values, separators=(",", ":")).encode()


def signed(raw: bytes, secret: str = SECRET) -> bytes:
    code = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest().upper()
    return b'{"Content":' + raw + b',"HashCode":"' + code.encode() + b'"}'


def test_the_hash_covers_the_content_bytes_as_received() -> None:
    raw = content()
    assert verify(signed(raw), SECRET) == raw
    spaced = raw.replace(b'":', b'": ')  # other bytes, same JSON: its own hash
    assert verify(signed(spaced), SECRET) == spaced


@pytest.mark.parametrize("body,reason", [
    (signed(content(), "other"), "bad_signature"),
    (signed(content()).replace(b'"HashCode":"', b'"HashCode":"0'), "bad_signature"),
    (b'{"Content":' + content() + b',"HashCode":""}', "unsigned"),
    (b'{"Content":' + content() + b"}", "unsigned"),
    (signed(content()).lower(), "unsigned"),
])
def test_forged_or_unsigned_deliveries_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(Refused) as err:
        verify(body, SECRET)
    assert err.value.reason == reason and err.value.status == 401


def test_a_notification_is_read_with_dutch_wall_clock_time() -> None:
    n = read(content(), NOW, HOUR, CATALOG.topics)
    assert n.topic == "FinancialTransactions" and n.entities == ("TransactionLines",)
    assert n.key == uuid.UUID("19cee073-095e-46d1-8d2d-f3fc97ba5bc1")
    assert n.created_on == datetime(2025, 3, 3, 9, 59, 30, 587000, tzinfo=UTC)
    assert n.action == "Update" and n.digest == hashlib.sha256(content()).digest()
    assert read(content(Action="DELETE"), NOW, HOUR, CATALOG.topics).action == "Delete"
    assert event_time("2025-07-01T12:00:00") == datetime(2025, 7, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("raw,reason,status", [
    (content(EventCreatedOn="2025-03-03T08:00:00"), "stale", 422),
    (content(EventCreatedOn="2025-03-03T13:00:00"), "stale", 422),
    (content(Topic="Items"), "unknown_topic", 422),
    (content(Key="not-a-guid"), "malformed", 400),
    (content(Action="Rename"), "malformed", 400),
    (b"[1]", "malformed", 400),
])
def test_stale_unknown_or_malformed_content_is_refused(raw: bytes, reason: str,
                                                       status: int) -> None:
    with pytest.raises(Refused) as err:
        read(raw, NOW, HOUR, CATALOG.topics)
    assert (err.value.reason, err.value.status) == (reason, status)
