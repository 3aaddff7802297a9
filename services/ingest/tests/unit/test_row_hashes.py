"""Row hashes are persisted and compared with the next full refresh's: a row's hash must stay
what it was, i.e. sha256 of pydantic's ``model_dump_json()`` of the row, whichever way it is
written (msgspec, for speed) and however the row was built."""

from __future__ import annotations

import hashlib
import typing
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import AwareDatetime

import contracts as c
from contracts import Row
from ingest.adapters.odata import to_rows
from ingest.row_hashes import page_hashes, row_hash, row_json, row_key

_EVERY_CHARACTER = "".join(chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF)

_AWKWARD: dict[object, list[object]] = {
    uuid.UUID: [uuid.UUID("4E383ED4-D9D3-4FDB-A6C3-EFE176B918CA"), uuid.UUID(int=0)],
    Decimal: [Decimal("-12345678901234567890.123456789E-3"), Decimal("1E+3"), Decimal("-0"),
              Decimal("0E-8"), Decimal("0.10"), Decimal("-1.5E+30"), Decimal("0.000001"),
              Decimal("1E-7"), Decimal("123456789012345678901234567890")],
    AwareDatetime: [datetime(2024, 3, 31, 1, 2, 3, 4500, tzinfo=UTC),
                    datetime(2024, 3, 31, 1, 2, 3, 123000, tzinfo=UTC),
                    datetime(2024, 3, 31, 1, 2, 3, tzinfo=UTC),
                    datetime(1, 1, 1, tzinfo=UTC),
                    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                    datetime(2024, 3, 31, 1, 2, 3, 1, tzinfo=timezone(timedelta(hours=2))),
                    datetime(2024, 3, 31, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
                    datetime(2024, 3, 31, tzinfo=timezone(timedelta(0))),
                    datetime(2024, 7, 1, 12, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))],
    date: [date(1, 1, 1), date(9999, 12, 31), date(2024, 2, 29)],
    bool: [True, False],
    int: [-(2**70), 0, 2**63, -1, 34466345255080216],
    str: ['Café 😀 "x"\\\n\u2028\x7f', "", "NULL", "\x00\x1f\ud7ff\U0010ffff"],
}


def _kind(annotation: object) -> object:
    kinds = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    kind = kinds[0]
    if typing.get_origin(kind) is typing.Annotated:
        kind = typing.get_args(kind)[0]
    return kind


def _rows(model: type[Row]) -> list[Row]:
    """Rows of ``model`` with each awkward value of each field's type, and bare ones."""
    fields = model.model_fields
    rows = []
    for i in range(max(len(v) for v in _AWKWARD.values())):
        values = {n: _AWKWARD[_kind(f.annotation)][i % len(_AWKWARD[_kind(f.annotation)])]
                  for n, f in fields.items()}
        rows.append(model.model_validate(values))
        rows.append(model.model_validate({n: v for n, v in values.items()
                                          if fields[n].is_required()}))
    return rows


@pytest.mark.parametrize("entity", list(c.Entity))
def test_a_row_is_written_as_pydantic_writes_it(entity: c.Entity) -> None:
    rows = _rows(c.ROW_MODELS[entity])
    for row in rows:
        assert row_json(row) == row.model_dump_json().encode()
        assert row_hash(row) == hashlib.sha256(row.model_dump_json().encode()).digest()[:16]
    assert page_hashes(entity.value, rows, sweep=True).hashes == {
        row_key(r): hashlib.sha256(r.model_dump_json().encode()).digest()[:16] for r in rows}


def test_a_row_with_every_character_is_written_as_pydantic_writes_it() -> None:
    row = c.ROW_MODELS[c.Entity.GL_ACCOUNTS].model_validate(
        {"ID": uuid.uuid4(), "Code": _EVERY_CHARACTER, "Division": 1})
    assert row_json(row) == row.model_dump_json().encode()


def test_rows_as_a_page_is_decoded_are_written_as_pydantic_writes_them() -> None:
    """Rows made from Exact's JSON (numbers in their literal text, /Date(ms)/ values)."""
    lines = to_rows(c.ROW_MODELS[c.Entity.TRANSACTION_LINES], rb"""[
        {"ID": "4E383ED4-D9D3-4FDB-A6C3-EFE176B918CA", "EntryID": "60351b13-c1d3-4aa0-b4b4-0fc93fa4f473",
         "Division": 300001, "Date": "/Date(1640995200000)/", "Created": "/Date(1719829800123)/",
         "Modified": "/Date(1704067200000)/", "FinancialYear": 2022, "FinancialPeriod": 1.0,
         "AmountDC": -810.650, "AmountFC": 1E+3, "ExchangeRate": 0.92, "Description": "a\\\"\u00e9\ud83d\ude00\u2028",
         "Type": "30", "Status": 50, "Timestamp": 10000000001},
        {"ID": "e9c2ae65-d7d1-4766-99ff-8943dccd7f37", "EntryID": "60351b13-c1d3-4aa0-b4b4-0fc93fa4f473",
         "Division": 300001, "Date": "/Date(1640995200000)/", "FinancialYear": 2022,
         "FinancialPeriod": 1, "AmountDC": -0.0, "AmountFC": 12345678901234567890.123456789,
         "ExchangeRate": 1e-7}]""", "sync/Financial/TransactionLines")
    balances = to_rows(c.ROW_MODELS[c.Entity.REPORTING_BALANCE], rb"""[
        {"ID": 34466345255080216, "ReportingYear": 2024, "ReportingPeriod": 1, "Amount": 0.00,
         "AmountDebit": 59828.52, "AmountCredit": -0, "Division": 300001, "Count": 41}]""",
                       "financial/ReportingBalance")
    assert lines[0].description == 'a\\"\u00e9\U0001f600\u2028'
    for row in [*lines, *balances]:
        assert row_json(row) == row.model_dump_json().encode()


def test_a_row_built_with_its_values_in_another_order_hashes_the_same() -> None:
    """The hash reads the fields by name, in the model's order, not the row's ``__dict__``'s."""
    row = _rows(c.ROW_MODELS[c.Entity.REPORTING_BALANCE])[0]
    shuffled = row.model_copy()
    items = list(row.__dict__.items())
    object.__setattr__(shuffled, "__dict__", dict(items[::-1]))
    assert list(shuffled.__dict__) != list(row.__dict__)
    assert row_json(shuffled) == row.model_dump_json().encode()


def test_row_hashes_stay_what_they_were() -> None:
    """Hashes persisted by earlier versions (sha256 of pydantic's JSON), pinned."""
    balance = c.ROW_MODELS[c.Entity.REPORTING_BALANCE].model_validate({
        "ID": 34466345255080216, "ReportingYear": 2024, "ReportingPeriod": 1,
        "GLAccount": uuid.UUID("8e200dc4-d80d-4807-b420-8bd4da034483"), "GLAccountCode": "1000",
        "GLAccountDescription": "Kas", "Amount": Decimal("59828.52"),
        "AmountDebit": Decimal("59828.52"), "AmountCredit": Decimal("0.00"), "BalanceType": "B",
        "Type": 40, "Status": 50, "Count": 41, "Division": 300001})
    budget = c.ROW_MODELS[c.Entity.BUDGETS].model_validate({
        "ID": uuid.UUID(int=1), "ReportingYear": 2024, "ReportingPeriod": 1,
        "AmountDC": Decimal("-1E+3"), "Costcenter": 'Café 😀 "x"\\', "Division": 1,
        "Created": datetime(2024, 3, 31, 1, 2, 3, 123000, tzinfo=UTC)})
    assert page_hashes("ReportingBalance", [balance], sweep=False).hashes == {
        "34466345255080216": bytes.fromhex("cf7e8db0eff5ed6fc2616da888732014")}
    assert page_hashes("Budgets", [budget], sweep=False).hashes == {
        "00000000-0000-0000-0000-000000000001": bytes.fromhex("8c39c67f00a681db4c54f92a1dfec771")}


def test_page_keys_are_the_row_keys_and_a_repeated_id_keeps_its_last_hash() -> None:
    model = c.ROW_MODELS[c.Entity.DIVISIONS]
    a = model.model_validate({"Code": 12, "Description": "a"})
    b = model.model_validate({"Code": 12, "Description": "b"})
    d = model.model_validate({"Code": 7})
    hashes = page_hashes("Divisions", [a, d, b], sweep=False).hashes
    assert list(hashes) == ["12", "7"] == [row_key(a), row_key(d)]
    assert hashes["12"] == row_hash(b) != row_hash(a)

