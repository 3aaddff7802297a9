"""The trial-balance state and the refresh hashes bind a page's columns as PostgreSQL array
literals: whatever a G/L code or id holds (quotes, backslashes, commas, braces, the word NULL,
spaces), exact decimals in any notation and any bytes, PostgreSQL reads back exactly what was
written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from connector_runtime.devstack.testing import Infra
from ingest.adapters.pg_arrays import array, bytea_array

pytestmark = pytest.mark.integration


def test_array_literals_read_back_exactly(infra: Infra) -> None:
    texts = ['a"b', "c\\d", None, "x,y", "{}", "NULL", "  spaced ", "é€", ""]
    amounts = [Decimal("-1.50"), None, Decimal("1E+2"), Decimal("0.000000000000000000123"),
               Decimal("12345678901234567890.12")]
    dates = [dt.date(2024, 1, 2), None]
    # without NULL, text without quotes or backslashes and dates take a shortcut
    plain = ["4e383ed4-d9d3-4fdb-a6c3-efe176b918ca", "x,y", "{}", "NULL", "  spaced ", "é€", ""]
    days = [dt.date(1, 1, 1), dt.date(2024, 2, 29), dt.date(9999, 12, 31)]
    url = infra.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        got = conn.execute(
            "SELECT CAST(%s AS text[]), CAST(%s AS numeric[]), CAST(%s AS date[]),"
            " CAST(%s AS int[]), CAST(%s AS text[]), CAST(%s AS date[])",
            (array(texts, text=True), array(amounts), array(dates), array([1, None, -7]),
             array(plain, text=True), array(days))
        ).fetchone()
    assert got is not None
    assert got[0] == texts
    assert got[1] == amounts and [str(a) for a in got[1] if a is not None][-1] == \
        "12345678901234567890.12"
    assert got[2] == dates
    assert got[3] == [1, None, -7]
    assert got[4] == plain and got[5] == days


def test_bytea_array_literals_read_back_exactly(infra: Infra) -> None:
    hashes = [bytes(range(256)), b"", b"\x00\\\"{},", bytes.fromhex("ff" * 32)]
    url = infra.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        got = conn.execute("SELECT CAST(%s AS bytea[])", (bytea_array(hashes),)).fetchone()
    assert got is not None
    assert [bytes(h) for h in got[0]] == hashes
