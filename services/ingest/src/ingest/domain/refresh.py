"""Full refresh of the entities without a sync endpoint: read in full, diffed, only changes sent.

Per (data source, entity, row id) ingest keeps a content hash of the row consumers last got.
Each page of a refresh is compared with those hashes: new and changed rows go out as
LedgerBatch upserts; the page's hashes are written in the transaction that commits the
page's checkpoint, and every row the run saw is stamped with the run's id. After the
entity's last page, the rows the run did not see are gone from Exact: they go out as
LedgerDeletes ``deleted`` and their hashes are dropped in the transaction that completes
the entity. A refresh that crashes resumes at the checkpoint with the hashes as they were
at that checkpoint, so the page in flight is compared and sent again identically.

The hashes are seeded by the initial run (and kept by full re-imports): the first refresh
after an initial run sends nothing when nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DELETES_PER_MESSAGE = 1000
"""Vanished rows per LedgerDeletes (a few dozen bytes a row)."""

_SEQ_SPACE = 1_000_000


def vanished_seq(position: int, chunk: int) -> int:
    """``batch_seq`` of a refresh's n-th LedgerDeletes of the entity at ``position`` in the
    entity table.

    LedgerDeletes are deduplicated per run on ``batch_seq``: ``sync/Deleted`` numbers its
    pages from 0, each refreshed entity gets its own block above that, so the numbers never
    meet and a resumed run sends the same ones.
    """
    if chunk >= _SEQ_SPACE:
        raise ValueError(f"entity {position}: more than {_SEQ_SPACE} deletion messages in one run")
    return (position + 1) * _SEQ_SPACE + chunk


@dataclass
class PageHashes:
    """What one page leaves in the refresh hashes, written with the page's checkpoint."""

    entity: str
    hashes: dict[str, bytes] = field(default_factory=dict)
    """Row id -> hash of every row of the page (all of them are stamped as seen)."""
    sweep: bool = False
    """The entity's last page of a full read: drop the hashes of rows the run did not see."""


REREAD_SEQ_BASE = 1_000_000_000
"""Start of the ``batch_seq`` block of the ReportingBalance rows the trial-balance check
reads again (:mod:`ingest.trial_check`), for LedgerBatch and LedgerDeletes alike.

A run's own batches number from 0 and its refresh deletions stay below
``(entities + 1) * 1_000_000``, so the block never meets them; it stays below 2**31 (a
consumer may keep ``batch_seq`` in a 32-bit integer)."""

_REREAD_PAGES, _REREAD_PARTS = 100, 10


def reread_seq(year: int, period_from: int, page: int, part: int = 0) -> int:
    """``batch_seq`` of the ``part``-th message of the ``page``-th page of the re-read of
    ``year``'s periods from ``period_from``: it depends only on the scope and the row order
    of Exact's answer, so a resumed or redelivered check sends the same numbers (a run reads
    a scope at most once; a resumed run reads it again from its first page)."""
    if not 0 <= page < _REREAD_PAGES or not 0 <= part < _REREAD_PARTS:
        raise ValueError(f"ReportingBalance {year}/{period_from}: page {page} part {part} is "
                         f"beyond the re-read block ({_REREAD_PAGES} pages of "
                         f"{_REREAD_PARTS} messages)")
    scope = (year * 100 + period_from) * _REREAD_PAGES * _REREAD_PARTS
    return REREAD_SEQ_BASE + scope + page * _REREAD_PARTS + part
