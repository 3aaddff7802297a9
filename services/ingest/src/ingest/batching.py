"""One fetched page -> LedgerBatch messages, each under the broker's message size limit.

A page usually fits one message; a page too large is split into equal parts until every
part fits. The split depends only on the rows, so a page fetched again after a restart
becomes the same batches with the same ``batch_seq`` values, and each batch's
``message_id`` is derived from ``(run_id, entity, batch_seq)``: consumers may dedupe on
either.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence

from contracts import (
    BATCH_MODELS,
    DeletedRow,
    Entity,
    LedgerBatch,
    LedgerDeletes,
    LedgerDeletesPayload,
    ReplacedScope,
    Row,
)
from ingest.domain.errors import InvalidData
from ingest.domain.model import Run
from ingest.domain.refresh import vanished_seq
from ingest.entities import CATALOG, ENTITIES
from ingest.ports import Outgoing


def batch_message_id(run_id: uuid.UUID, entity: str, batch_seq: int) -> uuid.UUID:
    return uuid.uuid5(run_id, f"{entity}/{batch_seq}")


def build_batches(run: Run, entity: Entity, rows: Sequence[Row], *, first_seq: int,
                  checkpoint: str | None, last: bool, max_bytes: int) -> list[Outgoing]:
    """Messages for one page, numbered from ``first_seq``; only the entity's final page is
    ``last`` (on its final batch). An empty page still gives one (empty) batch."""

    def message(part: Sequence[Row], seq: int, is_last: bool) -> LedgerBatch:
        payload = BATCH_MODELS[entity](
            run_id=run.run_id, kind=run.kind, division=run.division, batch_seq=seq,
            checkpoint=checkpoint, last=is_last, entity=entity, rows=tuple(part))
        return LedgerBatch.create(datasource_id=run.datasource_id,
                                  correlation_id=run.correlation_id, payload=payload,
                                  message_id=batch_message_id(run.run_id, entity, seq))

    whole: list[Outgoing] = []

    def size_of(part: list[Row]) -> int:
        msg = message(part, first_seq, last)
        value = msg.to_bytes()
        if len(part) == len(rows):  # the whole page: kept, it is sent as measured if it fits
            whole[:] = [Outgoing(msg, value)]
        return len(value)

    parts = _split(list(rows), size_of, max_bytes, entity)
    if len(parts) == 1:
        return whole
    out: list[Outgoing] = []
    for i, part in enumerate(parts):
        msg = message(part, first_seq + i, last and i == len(parts) - 1)
        out.append(Outgoing(msg, msg.to_bytes()))
    return out


def _split(rows: list[Row], size_of: Callable[[list[Row]], int], max_bytes: int,
           entity: str) -> list[list[Row]]:
    size = size_of(rows)
    if size <= max_bytes:
        return [rows]
    if len(rows) <= 1:
        raise InvalidData(f"{entity}: one row serializes to {size} bytes, over the "
                          f"{max_bytes}-byte message limit")
    parts = min(len(rows), math.ceil(size / max_bytes) + 1)
    step = math.ceil(len(rows) / parts)
    out: list[list[Row]] = []
    for start in range(0, len(rows), step):
        out.extend(_split(rows[start:start + step], size_of, max_bytes, entity))
    return out


def deletes_message_id(run_id: uuid.UUID, seq: int) -> uuid.UUID:
    return uuid.uuid5(run_id, f"deletes/{seq}")


def _deletes(run: Run, payload: LedgerDeletesPayload) -> Outgoing:
    msg = LedgerDeletes.create(datasource_id=run.datasource_id,
                               correlation_id=run.correlation_id, payload=payload,
                               message_id=deletes_message_id(run.run_id, payload.batch_seq))
    return Outgoing(msg, msg.to_bytes())


def build_deletes(run: Run, seq: int, gone: Sequence[tuple[str, str]],
                  checkpoint: str | None) -> Outgoing:
    """One page of ``sync/Deleted`` (a few dozen bytes a row: 1000 rows fit easily)."""
    return _deletes(run, LedgerDeletesPayload(
        run_id=run.run_id, kind=run.kind, division=run.division, batch_seq=seq,
        reason="deleted", checkpoint=checkpoint,
        rows=tuple(DeletedRow(entity=Entity(e), id=i.lower()) for e, i in gone)))


def build_replaced(run: Run, entity: Entity) -> Outgoing:
    """A re-import's end of one entity: rows of the scope it read and did not send are gone.

    The scope is what the re-import asked Exact: TransactionLines by date, entities with a
    year by year, master data in full. Its ``batch_seq`` is the entity's place in the import
    order (a re-import sends no other LedgerDeletes), so a resumed run sends the same one.
    """
    spec = ENTITIES[entity]
    scope = ReplacedScope(entity=entity)
    if spec.bulk is not None:
        scope = ReplacedScope(entity=entity, date_from=run.date_from, date_to=run.date_to)
    elif spec.year_field is not None:
        scope = ReplacedScope(entity=entity,
                              year_from=run.date_from.year if run.date_from else None,
                              year_to=run.date_to.year if run.date_to else None)
    return _deletes(run, LedgerDeletesPayload(
        run_id=run.run_id, kind=run.kind, division=run.division,
        batch_seq=CATALOG.position(entity), reason="replaced", replaced=scope))


def build_vanished(run: Run, entity: str, chunk: int, ids: Sequence[str]) -> Outgoing:
    """The n-th LedgerDeletes of a full refresh of ``entity``: rows no longer in Exact."""
    return build_gone(run, entity, vanished_seq(CATALOG.position(entity), chunk), ids)


def build_gone(run: Run, entity: str, seq: int, ids: Sequence[str]) -> Outgoing:
    """LedgerDeletes ``deleted`` of rows of ``entity`` Exact no longer reports."""
    return _deletes(run, LedgerDeletesPayload(
        run_id=run.run_id, kind=run.kind, division=run.division, batch_seq=seq,
        reason="deleted", rows=tuple(DeletedRow(entity=Entity(entity), id=i) for i in ids)))
