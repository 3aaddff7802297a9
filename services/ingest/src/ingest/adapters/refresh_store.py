"""Refresh hashes in PostgreSQL (``ingest.refresh_hashes``): what consumers last got of each row
of an entity without a sync endpoint (:mod:`ingest.domain.refresh`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ingest.adapters.pg_arrays import array, bytea_array
from ingest.adapters.tables import refresh_hashes
from ingest.domain.model import Run
from ingest.domain.refresh import PageHashes


async def differing(engine: AsyncEngine, datasource_id: uuid.UUID, page: PageHashes) -> set[str]:
    """Row ids of ``page`` whose content differs from what consumers last got."""
    if not page.hashes:
        return set()
    async with engine.connect() as conn:
        known = (await conn.execute(
            sa.select(refresh_hashes.c.row_id, refresh_hashes.c.hash)
            .where(refresh_hashes.c.datasource_id == datasource_id,
                   refresh_hashes.c.entity == page.entity,
                   refresh_hashes.c.row_id.in_(list(page.hashes))))).all()
    same = {r.row_id for r in known if bytes(r.hash) == page.hashes[r.row_id]}
    return set(page.hashes) - same


async def vanished(engine: AsyncEngine, run: Run, page: PageHashes, chunk: int
                   ) -> AsyncGenerator[list[str], None]:
    """Ids of the rows of ``page.entity`` that ``run`` did not see (nor are on the last
    ``page``), in id order, ``chunk`` at a time (keyset pages: memory stays flat)."""
    after = ""
    while True:
        async with engine.connect() as conn:
            ids = list((await conn.scalars(
                sa.select(refresh_hashes.c.row_id)
                .where(*_unseen(run, page), refresh_hashes.c.row_id > after)
                .order_by(refresh_hashes.c.row_id).limit(chunk))).all())
        if ids:
            yield ids
        if len(ids) < chunk:
            return
        after = ids[-1]


def _unseen(run: Run, page: PageHashes) -> list[sa.ColumnElement[bool]]:
    where = [refresh_hashes.c.datasource_id == run.datasource_id,
             refresh_hashes.c.entity == page.entity,
             refresh_hashes.c.seen_run_id != run.run_id]
    if page.hashes:
        where.append(refresh_hashes.c.row_id.not_in(list(page.hashes)))
    return where


UPSERT_HASHES = """
    INSERT INTO ingest.refresh_hashes (datasource_id, entity, row_id, hash, seen_run_id)
    SELECT :ds, :hash_entity, *, :run
    FROM unnest(CAST(:hash_ids AS text[]), CAST(:hashes AS bytea[])) {gate}
    ON CONFLICT (datasource_id, entity, row_id) DO UPDATE SET hash = excluded.hash,
        seen_run_id = excluded.seen_run_id"""
"""One statement whatever the page's size (arrays, not a VALUES row per row to compile), each
bound as its text literal (:mod:`ingest.adapters.pg_arrays`). A run's page runs it inside its
fenced statement (:meth:`ingest.adapters.repository.PostgresRunStore.save_page`), with
:func:`upsert_params`; its parameter names are unique among that statement's parts."""
_UPSERT_HASHES = sa.text(UPSERT_HASHES.replace("{gate}", ""))


def upsert_params(run: Run, page: PageHashes) -> dict[str, object]:
    """The parameters of :data:`UPSERT_HASHES` (``ds`` and ``run`` are shared with the other
    parts of a page's statement)."""
    return {"ds": run.datasource_id, "run": run.run_id, "hash_entity": page.entity,
            "hash_ids": array(page.hashes, text=True),
            "hashes": bytea_array(page.hashes.values())}


async def write_hashes(conn: AsyncConnection, run: Run, page: PageHashes) -> None:
    """Stamp the page's rows as seen by ``run`` with their hashes; after an entity's last page
    (``sweep``) drop the rows the run did not see (they were sent as deleted)."""
    if page.hashes:
        await conn.execute(_UPSERT_HASHES, upsert_params(run, page))
    await sweep_hashes(conn, run, page)


async def sweep_hashes(conn: AsyncConnection, run: Run, page: PageHashes) -> None:
    """After an entity's last page (``sweep``): drop the rows ``run`` did not see (they were
    sent as deleted); the page's own rows were stamped before."""
    if page.sweep:
        await conn.execute(refresh_hashes.delete().where(
            refresh_hashes.c.datasource_id == run.datasource_id,
            refresh_hashes.c.entity == page.entity,
            refresh_hashes.c.seen_run_id != run.run_id))


async def forget_hashes(conn: AsyncConnection, datasource_id: uuid.UUID, entity: str,
                        ids: list[str]) -> None:
    """Drop the hashes of rows sent as deleted outside a full read (a re-read's scope)."""
    if ids:
        await conn.execute(refresh_hashes.delete().where(
            refresh_hashes.c.datasource_id == datasource_id, refresh_hashes.c.entity == entity,
            refresh_hashes.c.row_id.in_(ids)))
