"""Row ids and content hashes of the rows a full refresh compares (:mod:`ingest.domain.refresh`)."""

from __future__ import annotations

import hashlib

from contracts import Row
from contracts.rows import DivisionRow
from ingest.domain.refresh import PageHashes


def row_key(row: Row) -> str:
    """The row's id as consumers key it (lower case; Divisions by Code)."""
    value = row.code if isinstance(row, DivisionRow) else getattr(row, "id")  # noqa: B009
    return str(value).lower()


def row_hash(row: Row) -> bytes:
    """Content hash of everything the row carries (16 bytes of sha256 of its wire form)."""
    return hashlib.sha256(row.model_dump_json().encode()).digest()[:16]


def page_hashes(entity: str, rows: list[Row], *, sweep: bool) -> PageHashes:
    """The hashes of one page of ``entity`` (``sweep``: its last page of a full read)."""
    return PageHashes(entity, {row_key(r): row_hash(r) for r in rows}, sweep)
