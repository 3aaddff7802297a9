"""Reading Exact's OData JSON: dates, amounts, GUIDs, pages and rows that do not fit."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import msgspec
import pytest

import contracts as c
from ingest.adapters.odata import parse_page, split_page, to_date, to_rows, to_utc
from ingest.domain.errors import InvalidData, MalformedResponse

_NUMBERS = msgspec.json.Encoder(decimal_format="number")


def _json(results: list[dict[str, object]]) -> bytes:
    """A ``results`` array as Exact writes it (Decimals as JSON numbers)."""
    return _NUMBERS.encode(results)


def test_calendar_dates_come_from_midnight_milliseconds() -> None:
    assert to_date("/Date(1640995200000)/") == date(2022, 1, 1)
    assert to_date("/Date(-86400000)/") == date(1969, 12, 31)
    assert to_date(None) is None


def test_created_and_modified_are_dutch_wall_clock_time_stored_in_utc() -> None:
    # 2022-01-01 06:00 in Amsterdam (winter, UTC+1) is 05:00 UTC
    assert to_utc("/Date(1641016800000)/") == datetime(2022, 1, 1, 5, 0, tzinfo=UTC)
    # 2024-07-01 12:00 in Amsterdam (summer, UTC+2) is 10:00 UTC
    assert to_utc("/Date(1719835200000)/") == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)


def test_an_explicit_offset_wins_over_the_dutch_default() -> None:
    assert to_utc("/Date(1719835200000+0200)/") == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)


def test_a_value_that_is_no_odata_date_is_refused() -> None:
    with pytest.raises(ValueError):
        to_utc("/Date(abc)/")


def test_amounts_stay_exact_decimals() -> None:
    rows, nxt = parse_page(b'{"d":{"results":[{"AmountDC":0.1},{"AmountDC":0.2}]}}', "x")
    assert nxt is None
    assert rows[0]["AmountDC"] + rows[1]["AmountDC"] == Decimal("0.3")


def test_a_page_gives_its_rows_and_next_link() -> None:
    rows, nxt = parse_page(b'{"d":{"results":[{"ID":1}],"__next":"https://e/api/v1/1/x?$skiptoken=5L"}}',
                           "x")
    assert rows == [{"ID": 1}]
    assert nxt == "https://e/api/v1/1/x?$skiptoken=5L"


@pytest.mark.parametrize("body", [b'{"d":{"results":[{"ID":1},', b"<html>busy</html>", b'{"d":{}}',
                                  b'{"error":{}}', b'{"d":{"results":[1]}}', b"\xff\xfe"])
def test_a_broken_page_is_a_malformed_response(body: bytes) -> None:
    with pytest.raises(MalformedResponse):
        parse_page(body, "sync/Financial/TransactionLines")


def test_a_transaction_line_becomes_the_typed_contract_row() -> None:
    raw = {"ID": "4E383ED4-D9D3-4FDB-A6C3-EFE176B918CA", "EntryID": str(uuid.uuid4()),
           "Division": 200003, "Date": "/Date(1640995200000)/",
           "Created": "/Date(1641016800000)/", "Modified": None, "FinancialYear": 2022,
           "FinancialPeriod": Decimal("1"), "AmountDC": Decimal("-1958.09"), "AmountFC": 12,
           "ExchangeRate": Decimal("1.0"), "Timestamp": 10000000001, "Unknown": "ignored"}
    [row] = to_rows(c.ROW_MODELS[c.Entity.TRANSACTION_LINES], _json([raw]),
                    "sync/Financial/TransactionLines")
    assert row.id == uuid.UUID("4e383ed4-d9d3-4fdb-a6c3-efe176b918ca")  # type: ignore[attr-defined]
    assert row.date == date(2022, 1, 1)  # type: ignore[attr-defined]
    assert row.created == datetime(2022, 1, 1, 5, tzinfo=UTC)  # type: ignore[attr-defined]
    assert row.amount_dc == Decimal("-1958.09")  # type: ignore[attr-defined]
    assert row.amount_fc == Decimal(12)  # type: ignore[attr-defined]
    assert row.financial_period == 1  # type: ignore[attr-defined]
    assert '"amount_dc":"-1958.09"' in row.model_dump_json()


def test_a_row_missing_a_required_field_is_invalid_data() -> None:
    with pytest.raises(InvalidData, match="GLAccount"):
        to_rows(c.ROW_MODELS[c.Entity.GL_ACCOUNTS],
                _json([{"ID": str(uuid.uuid4()), "Division": 1}]), "x")


def test_a_bad_guid_is_invalid_data() -> None:
    with pytest.raises(InvalidData):
        to_rows(c.ROW_MODELS[c.Entity.GL_ACCOUNTS],
                _json([{"ID": "not-a-guid", "Code": "1", "Division": 1}]), "x")


def test_a_page_of_rows_is_read_in_order_and_one_bad_row_fails_it() -> None:
    model = c.ROW_MODELS[c.Entity.TRANSACTION_LINES]

    def line(n: int, day: str = "/Date(1640995200000)/") -> dict[str, object]:
        return {"ID": str(uuid.UUID(int=n + 1)), "EntryID": str(uuid.UUID(int=99)),
                "Division": 1, "Date": day, "FinancialYear": 2022, "FinancialPeriod": 1,
                "AmountDC": Decimal(f"{n}.10")}

    rows = to_rows(model, _json([line(0), line(1, "/Date(1641081600000)/"), line(2)]), "x")
    assert [r.amount_dc for r in rows] == [Decimal("0.10"), Decimal("1.10"), Decimal("2.10")]  # type: ignore[attr-defined]
    assert [r.date for r in rows] == [date(2022, 1, 1), date(2022, 1, 2), date(2022, 1, 1)]  # type: ignore[attr-defined]
    with pytest.raises(InvalidData, match="TransactionLine"):
        to_rows(model, _json([line(0), {**line(1), "Date": "yesterday"}, line(2)]), "x")


AWKWARD_NUMBERS = ["12345678901234567890.123456789", "-0.0", "-0", "0.000000000000000000001",
                   "1E+400", "1e-400", "-1.5e-7", "3014.76", "1.10", "5e0", "1.0",
                   "99999999999999999999999999", "-9223372036854775809",
                   "123456789012345678901234567890.0000000000000000000001"]


@pytest.mark.parametrize("text", AWKWARD_NUMBERS)
def test_a_number_is_read_exactly_as_the_stdlib_reads_it_with_decimals(text: str) -> None:
    [row], _ = parse_page(b'{"d":{"results":[{"AmountDC":%s}]}}' % text.encode(), "x")
    expected = json.loads(text, parse_float=Decimal)
    value = row["AmountDC"]
    assert type(value) is type(expected)
    assert str(value) == str(expected)  # same digits, exponent and sign (-0.0 stays -0.0)


def test_awkward_values_reach_the_contract_row_exactly() -> None:
    body = ('{"d":{"results":[{"ID":"4E383ED4-D9D3-4FDB-A6C3-EFE176B918CA",'
            '"EntryID":"00000000-0000-0000-0000-000000000001","Division":200003,'
            '"Date":"/Date(-62135596800000)/","Created":"/Date(1711854000000)/",'
            '"Modified":null,"FinancialYear":2024,"FinancialPeriod":3,'
            '"AmountDC":-12345678901234567890.123456789,"AmountFC":-0.0,'
            '"ExchangeRate":1.5E-7,"Description":"Caf\\u00e9 \\ud83d\\ude00 \u20ac \\"x\\"\\n",'
            '"GLAccountCode":"\u00e9\u00e8","CostCenter":null,"Timestamp":9007199254740993}],'
            '"__next":null}}').encode()
    results, nxt = split_page(body, "sync/Financial/TransactionLines")
    [row] = to_rows(c.ROW_MODELS[c.Entity.TRANSACTION_LINES], results, "x")
    assert nxt is None
    assert row.amount_dc == Decimal("-12345678901234567890.123456789")  # type: ignore[attr-defined]
    assert str(row.amount_fc) == "-0.0"  # type: ignore[attr-defined]
    assert str(row.exchange_rate) == "1.5E-7"  # type: ignore[attr-defined]
    assert row.date == date(1, 1, 1)  # type: ignore[attr-defined]
    # 2024-03-31 03:00 in Amsterdam, an hour after the clocks went forward: 01:00 UTC
    assert row.created == datetime(2024, 3, 31, 1, tzinfo=UTC)  # type: ignore[attr-defined]
    assert row.modified is None and row.cost_center is None  # type: ignore[attr-defined]
    assert row.description == 'Café 😀 € "x"\n'  # type: ignore[attr-defined]
    assert row.gl_account_code == "éè"  # type: ignore[attr-defined]
    assert row.timestamp == 9007199254740993  # type: ignore[attr-defined]  # beyond a float
    wire = json.loads(row.model_dump_json())
    assert wire["amount_dc"] == "-12345678901234567890.123456789"
    assert wire["amount_fc"] == "-0.0"


def test_a_page_may_start_with_a_byte_order_mark() -> None:
    rows, _ = parse_page(b'\xef\xbb\xbf{"d":{"results":[{"AmountDC":0.1}]}}', "x")
    assert rows == [{"AmountDC": Decimal("0.1")}]


@pytest.mark.parametrize("body", [b'{"d":{"results":[{"AmountDC":NaN}]}}',
                                  b'{"d":{"results":[{"AmountDC":Infinity}]}}',
                                  b'{"d":{"results":[{"Description":"\\ud800"}]}}',
                                  b'{"d":{"results":[{"ID":1},]}}'])
def test_what_json_does_not_allow_is_a_malformed_response(body: bytes) -> None:
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        parse_page(body, "x")


def _by_zoneinfo(ms: int) -> datetime:
    """Amsterdam wall-clock milliseconds to UTC the plain way (zoneinfo, fold 0)."""
    wall = datetime(1970, 1, 1) + timedelta(milliseconds=ms)
    return wall.replace(tzinfo=ZoneInfo("Europe/Amsterdam")).astimezone(UTC)


def test_dutch_wall_clock_time_is_read_as_zoneinfo_reads_it_around_every_clock_change() -> None:
    hour = 3_600_000
    checked = 0
    for start in range(0, 131 * 365 * 24 * hour, 24 * hour):  # every day, 1970-2100
        day = datetime(1970, 1, 1) + timedelta(milliseconds=start)
        if day.month not in (3, 4, 9, 10) or day.weekday() != 6:
            continue  # the clocks change on Sundays in spring and autumn
        for ms in (start + h * hour + d for h in range(5) for d in (0, 1, hour // 2, hour - 1)):
            assert to_utc(f"/Date({ms})/") == _by_zoneinfo(ms), ms
            checked += 1
    assert checked > 10_000
    rng = random.Random(7)
    for ms in (rng.randrange(0, 4_102_444_800_000) for _ in range(5_000)):
        assert to_utc(f"/Date({ms})/") == _by_zoneinfo(ms)


def test_other_forms_of_a_date_time_take_the_general_path() -> None:
    assert to_utc("/Date(-1)/") == _by_zoneinfo(-1)  # before 1970
    assert to_utc("/Date(1719835200000+0200)/") == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    for text in ("/Date(+5)/", "/Date()/", "/Date(253402300800000)/"):  # the last: year 10000
        with pytest.raises((ValueError, OverflowError)):
            to_utc(text)


def test_a_date_time_beyond_the_calendar_is_invalid_data() -> None:
    row = {"ID": str(uuid.uuid4()), "EntryID": str(uuid.uuid4()), "Division": 1,
           "Date": "/Date(1640995200000)/", "FinancialYear": 2022, "FinancialPeriod": 1,
           "AmountDC": 1, "Created": "/Date(253402300800000)/"}
    with pytest.raises(InvalidData, match="does not fit"):
        to_rows(c.ROW_MODELS[c.Entity.TRANSACTION_LINES], _json([row]), "x")
