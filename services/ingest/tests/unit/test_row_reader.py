"""Rows decoded by msgspec straight into the contract's types (:class:`RowReader`) are the rows
pydantic's validation made of the same JSON, for every entity, and what pydantic refused is
still refused."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest
from pydantic import TypeAdapter

import contracts as c
from exact_sandbox.app import create_app
from exact_sandbox.testing import Env, fast_config
from ingest.adapters.endpoints import first_page_params
from ingest.adapters.odata import RowReader, _converter, parse_page, row_reader, split_page, to_rows
from ingest.domain.errors import InvalidData, MalformedResponse
from ingest.entities import ENTITIES

DIVISION = 300001
_NUMBERS = msgspec.json.Encoder(decimal_format="number")


def _validated(model: type[c.Row], body: bytes) -> list[c.Row]:
    """What pydantic's lax validation makes of a page (the way rows were made before)."""
    results, _ = parse_page(body, "x")
    for name, info in model.model_fields.items():
        convert = _converter(info.annotation)
        alias = str(info.validation_alias or name)
        for raw in results:
            if convert is not None and raw.get(alias) is not None:
                raw[alias] = convert(raw[alias])
    return TypeAdapter(list[model]).validate_python(results, strict=False)  # type: ignore[valid-type]


async def _first_pages() -> dict[str, bytes]:
    app = create_app(fast_config())
    pages: dict[str, bytes] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sandbox") as http:
        token = (await Env(app, http).grant("eva.large@demo.nl", divisions=[DIVISION]))[
            "access_token"]
        for entity, spec in ENTITIES.items():
            params = first_page_params(spec, DIVISION, None, None,
                                       year=2024 if spec.year_field else None)
            answer = await http.get(f"/api/v1/{DIVISION}/{spec.path}", params=params, headers={
                "Authorization": f"Bearer {token}", "Accept": "application/json"})
            assert answer.status_code == 200, (entity, answer.text[:200])
            pages[entity] = answer.content
    return pages


async def test_every_entitys_rows_are_the_rows_pydantic_validated() -> None:
    pages = await _first_pages()
    assert set(pages) == set(ENTITIES)
    for entity, body in pages.items():
        model = ENTITIES[entity].row_model
        raw, _ = split_page(body, entity)
        rows, expected = to_rows(model, raw, entity), _validated(model, body)
        assert rows, entity
        assert rows == expected, entity
        assert [r.model_dump_json() for r in rows] == [r.model_dump_json() for r in expected]
        assert all(type(r) is model for r in rows)



async def test_a_page_read_in_one_pass_is_the_page_read_in_two() -> None:
    for entity, body in (await _first_pages()).items():
        reader = row_reader(ENTITIES[entity].row_model, ENTITIES[entity].division_may_be_empty)
        raw, next_link = split_page(body, entity)
        assert reader.page(body, entity) == (reader.values(raw, entity), next_link), entity
        assert reader.page(b"\xef\xbb\xbf" + body, entity)[1] == next_link


def _error(call: Any) -> tuple[type[BaseException], str]:
    try:
        call()
    except (InvalidData, MalformedResponse) as exc:
        return type(exc), str(exc)
    raise AssertionError("no error")


@pytest.mark.parametrize("body", [
    b'{"d":{"results":{}}}', b'{"d":{"results":[],"__next":5}}', b'{"d":"x"}',
    b'{"d":{"results":[{"ID":1},]}}', b'{"d":{"results":[1]}}', b"[]", b"not json",
    b'{"d":{"results":[{"ID":"00000000-0000-0000-0000-000000000001"}]}}',
    b'{"d":[{"ID":"00000000-0000-0000-0000-000000000001","Division":1,"AmountDC":"NaN"}]}',
])
def test_a_page_read_in_one_pass_fails_as_the_two_pass_read_says(body: bytes) -> None:
    reader = row_reader(LINES)

    def two_passes() -> object:
        raw, _ = split_page(body, "x")
        return reader.values(raw, "x")

    assert _error(lambda: reader.page(body, "x")) == _error(two_passes)


def test_a_page_read_in_one_pass_takes_a_bare_list_and_an_empty_next_link() -> None:
    rows = _encode([_BASE])
    assert row_reader(LINES).page(b'{"d":%s}' % rows, "x")[1] is None
    values, next_link = row_reader(LINES).page(b'{"d":{"results":%s,"__next":""}}' % rows, "x")
    assert next_link is None
    assert values == row_reader(LINES).values(rows, "x")


def _encode(rows: list[dict[str, Any]]) -> bytes:
    return _NUMBERS.encode(rows)


LINES = c.ROW_MODELS[c.Entity.TRANSACTION_LINES]


@pytest.mark.parametrize(("values", "field", "expected"), [
    ({"FinancialPeriod": 5.0}, "financial_period", 5),
    ({"FinancialPeriod": "5"}, "financial_period", 5),
    ({"AmountDC": Decimal("-0.10")}, "amount_dc", Decimal("-0.10")),
    ({"AmountDC": "12.50"}, "amount_dc", Decimal("12.50")),
    ({"ID": "4E383ED4-D9D3-4FDB-A6C3-EFE176B918CA"}, "id",
     uuid.UUID("4e383ed4-d9d3-4fdb-a6c3-efe176b918ca")),
    ({"Created": None}, "created", None),
])
def test_values_are_read_as_pydantic_read_them(values: dict[str, Any], field: str,
                                               expected: object) -> None:
    [row] = to_rows(LINES, _encode([{**_BASE, **values}]), "x")
    assert getattr(row, field) == expected
    [before] = _validated(LINES, b'{"d":{"results":%s}}' % _encode([{**_BASE, **values}]))
    assert row == before


_BASE = {"ID": "00000000-0000-0000-0000-000000000001",
         "EntryID": "00000000-0000-0000-0000-000000000002", "Division": 1,
         "Date": "/Date(1640995200000)/", "FinancialYear": 2022, "FinancialPeriod": 1,
         "AmountDC": Decimal("1.5")}


@pytest.mark.parametrize("values", [
    {"AmountDC": "NaN"}, {"AmountDC": "Infinity"}, {"AmountDC": True}, {"AmountDC": None},
    {"FinancialPeriod": 5.5}, {"FinancialPeriod": True}, {"Division": None},
    {"ID": "not-a-guid"}, {"Date": "yesterday"}, {"Date": 1640995200000},
    {"Description": 12}, {"GLAccountCode": ["1600"]},
])
def test_what_pydantic_refused_is_invalid_data(values: dict[str, Any]) -> None:
    with pytest.raises(InvalidData, match="a row does not fit TransactionLine"):
        to_rows(LINES, _encode([{**_BASE, **values}]), "sync/Financial/TransactionLines")


def test_a_missing_required_field_is_named() -> None:
    row = dict(_BASE)
    del row["EntryID"]
    with pytest.raises(InvalidData, match="EntryID"):
        to_rows(LINES, _encode([row]), "x")


def test_a_result_that_is_not_an_object_is_a_malformed_page() -> None:
    with pytest.raises(MalformedResponse, match="not an object"):
        to_rows(LINES, b"[1]", "x")


def test_unknown_fields_are_ignored_and_missing_optional_ones_are_none() -> None:
    [row] = to_rows(LINES, _encode([{**_BASE, "NotInTheContract": 1}]), "x")
    assert row.description is None  # type: ignore[attr-defined]
    assert row.model_fields_set == set(LINES.model_fields)


def test_an_empty_division_may_be_left_for_the_caller_only_where_asked() -> None:
    model = c.ROW_MODELS[c.Entity.GL_CLASSIFICATIONS]
    body = _encode([{"ID": str(uuid.uuid4()), "Division": None}])
    with pytest.raises(InvalidData):
        row_reader(model).values(body, "x")
    [values] = row_reader(model, nullable_division=True).values(body, "x")
    assert values["division"] is None


def test_every_row_models_fields_can_be_decoded() -> None:
    for model in c.ROW_MODELS.values():
        RowReader(model)  # an unsupported field type fails here, at start-up


def test_a_page_without_a_results_list_or_with_a_bad_next_link_is_malformed() -> None:
    for body in (b'{"d":{"results":{}}}', b'{"d":{"results":[],"__next":5}}', b'{"d":"x"}',
                 b'{"d":{"results":[{"ID":1},]}}'):
        with pytest.raises(MalformedResponse):
            split_page(body, "x")
    assert split_page(b'{"d":[{"ID":1}]}', "x") == (b'[{"ID":1}]', None)
