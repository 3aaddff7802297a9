"""Array literals: the shortcuts for text and dates write the very literal the element by
element form writes (that form, PostgreSQL's reading of it: tests/integration/test_trial_arrays)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

import pytest

from ingest.adapters.pg_arrays import array


def _each(values: Iterable[object], text: bool = False) -> str:
    if text:
        return "{" + ",".join(
            "NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
            for v in values) + "}"
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


COLUMNS: list[tuple[list[object], bool]] = [
    (["4e383ed4-d9d3-4fdb-a6c3-efe176b918ca", "1600", "", "x,y", "{}", "NULL", " é€ "], True),
    (["plain", 'a"b'], True), (["c\\d", "plain"], True), (['"', "\\"], True), (['""'], True),
    (["a", None, "b"], True), ([None], True), ([1, 2], True), ([dt.date(2024, 1, 2)], True),
    ([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2024, 2, 29)], False),
    ([dt.date(2024, 1, 2), None], False),
    ([dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, tzinfo=dt.UTC)], False),
    ([dt.datetime(2024, 1, 2, 3, 4, tzinfo=dt.UTC)], False),
    ([1, -7, 2**70], False), ([1, None, -7], False),
    ([Decimal("-1.50"), Decimal("1E+2"), Decimal("0E-8")], False), ([], False), ([], True),
]


@pytest.mark.parametrize(("values", "text"), COLUMNS)
def test_a_column_is_the_literal_written_element_by_element(values: list[object],
                                                            text: bool) -> None:
    assert array(values, text=text) == _each(values, text)
    assert array(iter(values), text=text) == _each(values, text)
