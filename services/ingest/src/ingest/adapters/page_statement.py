"""The statements that commit a run's page (``PostgresRunStore.save_page``), written once.

Building the page's Core statements per call (their values, their cache keys) cost more client
CPU than the rest of the page's commit but its array literals; and the page's upserts ride in
its fenced statement, one round trip each less (about 45 % less client CPU for a page of 60
ReportingBalance rows with its refresh hashes). Gated on the run's update, the statement needs
no transaction around it: a page that writes nothing else commits it alone, which took
ReportingBalance from about 1.55 s to 1.33 s in P3 (its 379 pages wait on their commits; a
transaction's BEGIN and COMMIT are two more round trips through a busy event loop)."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from ingest.domain.model import EntityCheckpoint, Run

_CHECKPOINT = """
    UPDATE ingest.run_checkpoints SET cursor = :cursor, next_batch_seq = :next_batch_seq,
        rows = :rows, pages = :pages, amount_sum = :amount_sum, debit_sum = :debit_sum,
        id_hash = :id_hash, max_timestamp = :max_timestamp, count_sum = :count_sum,
        deleted = :deleted, done = :done, failed_code = :failed_code,
        failed_reason = :failed_reason, dropped_fields = :dropped_fields, year = :year,
        year_rows = :year_rows, updated_at = now()
    WHERE run_id = :run AND entity = :entity"""
_FENCE = """
    UPDATE ingest.runs SET calls_used = :calls_used, batches = :batches, updated_at = now()
    WHERE run_id = :run AND owner = :owner RETURNING started_at"""
_TYPED = (sa.bindparam("dropped_fields", type_=ARRAY(sa.Text)),
          sa.bindparam("year_rows", type_=JSONB))
CHECKPOINT_UPDATE = sa.text(_CHECKPOINT).bindparams(*_TYPED)
"""A checkpoint of another entity the page moved (its parameters: :func:`checkpoint_params`)."""


@functools.cache
def page_statement(parts: tuple[str, ...]) -> sa.TextClause:
    """A page's fenced statement: the run's update while the caller owns it, and the page's
    checkpoint and ``parts`` (the page's upserts, each with a ``{gate}`` where its rows are
    selected) as data-modifying CTEs that only write when the run was updated. So the
    statement is all or nothing by itself, and a page with nothing else to write commits it
    without a transaction around it (one round trip instead of three). One per shape: a
    run's pages share a handful."""
    gate = "WHERE EXISTS (SELECT FROM fence)"
    ctes = [f"\nfence AS ({_FENCE})", f"\npart_0 AS ({_CHECKPOINT} AND EXISTS (SELECT FROM fence))"]
    ctes += [f"\npart_{n} AS ({sql.replace('{gate}', gate)})"
             for n, sql in enumerate(parts, start=1)]
    return sa.text(f"WITH{','.join(ctes)}\nSELECT started_at FROM fence").bindparams(*_TYPED)


async def run_alone(conn: AsyncConnection, statement: sa.TextClause, params: dict[str, Any]
                    ) -> bool:
    """Run a page's statement by itself on ``conn`` (in autocommit); whether the run was
    updated (False: the lease is lost, and nothing was written).

    Straight through psycopg: SQLAlchemy's execution of it (the statement's context, the
    greenlet its async adapter runs in) cost about 0.15 ms of the commit's 0.4 ms of client CPU,
    on every page. Errors come out as SQLAlchemy's own would (their types tell a transient
    failure from a bug), and a broken connection is dropped from the pool, as SQLAlchemy
    drops it."""
    sql = _driver_sql(statement, conn.dialect)
    raw = cast("psycopg.AsyncConnection[Any]",
               (await conn.get_raw_connection()).driver_connection)
    values = {**params, "year_rows": Jsonb(params["year_rows"])}  # the JSONB bind's type
    try:
        cursor = await raw.execute(sql, values)
        return await cursor.fetchone() is not None
    except psycopg.Error as exc:
        gone = conn.dialect.is_disconnect(exc, raw, None)  # type: ignore[arg-type]
        if gone:
            await conn.invalidate()
        raise sa.exc.DBAPIError.instance(sql, None, exc, psycopg.Error, hide_parameters=True,
                                         connection_invalidated=gone,
                                         dialect=conn.dialect) from exc


@functools.cache
def _driver_sql(statement: sa.TextClause, dialect: sa.Dialect) -> str:
    """The statement in the driver's own placeholders (``%(name)s``)."""
    return str(statement.compile(dialect=dialect))


def checkpoint_params(run: Run, cp: EntityCheckpoint) -> dict[str, Any]:
    return {"run": run.run_id, "entity": cp.entity, "cursor": cp.cursor,
            "next_batch_seq": cp.next_batch_seq, "rows": cp.rows, "pages": cp.pages,
            "amount_sum": cp.amount_sum, "debit_sum": cp.debit_sum,
            "id_hash": Decimal(cp.id_hash), "max_timestamp": cp.max_timestamp,
            "count_sum": cp.count_sum, "deleted": cp.deleted, "done": cp.done,
            "failed_code": cp.failed_code, "failed_reason": cp.failed_reason,
            "dropped_fields": list(cp.dropped_fields), "year": cp.year,
            "year_rows": {str(y): n for y, n in sorted(cp.year_rows.items())}}
