"""Array parameters bound as PostgreSQL array literals (``{a,b,...}``).

A page's columns go to PostgreSQL as one array each (``unnest``). psycopg's list adapter walks
every element in Python and cost more than the rest of a page's commit; one literal string per
column, cast to the column's array type in SQL, costs a join."""

from __future__ import annotations

from collections.abc import Iterable


def array(values: Iterable[object], text: bool = False) -> str:
    """``{a,b,...}``: the literal PostgreSQL casts to the column's array type. Numbers, dates
    and Decimals print as PostgreSQL reads them (Decimal's ``str`` is exact); text is quoted."""
    if text:
        return "{" + ",".join(
            "NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
            for v in values) + "}"
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def bytea_array(values: Iterable[bytes]) -> str:
    """``{"\\\\x…",…}``: bytes in PostgreSQL's hex input format, for a ``bytea[]`` cast."""
    return "{" + ",".join('"\\\\x' + v.hex() + '"' for v in values) + "}"
