"""Array parameters bound as PostgreSQL array literals (``{a,b,...}``).

A page's columns go to PostgreSQL as one array each (``unnest``). psycopg's list adapter walks
every element in Python and cost more than the rest of a page's commit; one literal string per
column, cast to the column's array type in SQL, costs a join."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import cast

import msgspec


def array(values: Iterable[object], text: bool = False) -> str:
    """``{a,b,...}``: the literal PostgreSQL casts to the column's array type. Numbers, dates
    and Decimals print as PostgreSQL reads them (Decimal's ``str`` is exact); text is quoted.

    Text and dates take a shortcut to the same literal, a quarter of the time or less for a
    page's column: text with nothing to escape is joined at once instead of quoted element by
    element, and dates are written by msgspec as ``str`` writes them (ISO 8601). Numbers take
    none: checking their types would cost what it saves."""
    items = list(values)
    if not items:
        return "{}"
    if text or type(items[0]) is date:
        kinds = set(map(type, items))  # in C (``None in items`` compares every element)
        if text and kinds == {str}:
            joined = '","'.join(cast("list[str]", items))
            # no element has a quote or a backslash: the separators' quotes are all there is
            if joined.count('"') == 2 * (len(items) - 1) and "\\" not in joined:
                return '{"' + joined + '"}'
        elif not text and kinds == {date}:
            return "{" + ",".join(msgspec.to_builtins(items)) + "}"
    if text:
        return "{" + ",".join(
            "NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
            for v in items) + "}"
    return "{" + ",".join("NULL" if v is None else str(v) for v in items) + "}"


def bytea_array(values: Iterable[bytes]) -> str:
    """``{"\\\\x…",…}``: bytes in PostgreSQL's hex input format, for a ``bytea[]`` cast."""
    return "{" + ",".join('"\\\\x' + v.hex() + '"' for v in values) + "}"
