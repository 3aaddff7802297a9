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

from contracts import BATCH_MODELS, Entity, LedgerBatch, Row
from ingest.domain.errors import InvalidData
from ingest.domain.model import Run
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
        msg = LedgerBatch.create(datasource_id=run.datasource_id,
                                 correlation_id=run.correlation_id, payload=payload)
        return msg.model_copy(update={"message_id": batch_message_id(run.run_id, entity, seq)})

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
