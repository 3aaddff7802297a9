"""Row ids and content hashes of the rows a full refresh compares (:mod:`ingest.domain.refresh`).

A row's hash is persisted and compared with the next refresh's, so its input is pinned: the
bytes of pydantic's ``row.model_dump_json()``. :func:`row_json` writes those bytes with msgspec
(a struct per row model with the model's fields, in order, by name; a test holds them equal to
pydantic's for every entity, with awkward values) in a fraction of pydantic's time."""

from __future__ import annotations

import hashlib
from functools import cache
from operator import itemgetter
from typing import Any

import msgspec

from contracts import Row, id_texts
from contracts.rows import DivisionRow
from ingest.domain.refresh import PageHashes

_JSON = msgspec.json.Encoder()


def row_key(row: Row) -> str:
    """The row's id as consumers key it (lower case; Divisions by Code)."""
    return str(_key_value(row)).lower()


def _key_value(row: Row) -> object:
    return row.code if isinstance(row, DivisionRow) else getattr(row, "id")  # noqa: B009


def row_json(row: Row) -> bytes:
    """``row.model_dump_json().encode()``, byte for byte."""
    struct, values = _wire(type(row))
    return _JSON.encode(struct(*values(row.__dict__)))


def row_hash(row: Row) -> bytes:
    """Content hash of everything the row carries (16 bytes of sha256 of its wire form)."""
    return hashlib.sha256(row_json(row)).digest()[:16]


def page_hashes(entity: str, rows: list[Row], *, sweep: bool) -> PageHashes:
    """The hashes of one page of ``entity`` (``sweep``: its last page of a full read): each
    row's :func:`row_key` (the keys' texts in one call) -> :func:`row_hash`."""
    keys = id_texts([_key_value(r) for r in rows])
    return PageHashes(entity, dict(zip(keys, map(row_hash, rows), strict=True)), sweep)


@cache
def _wire(model: type[Row]) -> tuple[type[msgspec.Struct], Any]:
    """A struct whose JSON is the model's ``model_dump_json()`` (the model's fields, in order,
    by name), and what takes a row's field values in that order from its ``__dict__``."""
    names = tuple(model.model_fields)
    struct = msgspec.defstruct(f"{model.__name__}Json", [(n, Any) for n in names])
    values = itemgetter(*names) if len(names) > 1 else (lambda d: (d[names[0]],))
    return struct, values
