"""Re-encrypt every stored token with the first key of AUTH_TOKEN_ENCRYPTION_KEY.

Key rotation: set ``AUTH_TOKEN_ENCRYPTION_KEY=<new>,<old>``, restart the service, run
``python -m auth.rotate_keys``, then drop ``<old>`` from the setting. Rows are rotated under
a row lock, one short transaction per batch, so the service keeps running meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.adapters.crypto import TokenCipher
from auth.adapters.tables import authorizations, grants
from auth.settings import AuthSettings
from connector_runtime.observability.logs import configure_logging
from connector_runtime.persistence.db import create_engine

log = structlog.get_logger("auth.rotate_keys")

_TARGETS: tuple[tuple[sa.Table, Any, tuple[str, ...]], ...] = (
    (grants, grants.c.grant_id, ("access_token_enc", "refresh_token_enc")),
    (authorizations, authorizations.c.authorization_id, ("pending_tokens_enc",)),
)


async def rotate_all(engine: AsyncEngine, cipher: TokenCipher, batch: int = 200) -> int:
    """Rotate every encrypted column; returns the number of rows rewritten."""
    done = 0
    for table, key, columns in _TARGETS:
        last: Any = None
        while True:
            async with engine.begin() as conn:
                query = sa.select(key, *(table.c[c] for c in columns)).order_by(key).limit(batch)
                if last is not None:
                    query = query.where(key > last)
                rows = (await conn.execute(query.with_for_update())).all()
                for row in rows:
                    values = {c: cipher.rotate(row[i + 1]) for i, c in enumerate(columns)
                              if row[i + 1] is not None}
                    if values:
                        await conn.execute(table.update().where(key == row[0]).values(**values))
                        done += 1
            if len(rows) < batch:
                break
            last = rows[-1][0]
    return done


async def _main(settings: AuthSettings) -> None:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        rotated = await rotate_all(engine, TokenCipher(settings.token_encryption_key.get_secret_value()))
    finally:
        await engine.dispose()
    log.info("token_keys_rotated", rows=rotated)


def main() -> None:
    settings = AuthSettings()  # type: ignore[call-arg, unused-ignore]
    configure_logging("auth", settings.log_level, settings.log_format)
    asyncio.run(_main(settings))


if __name__ == "__main__":
    main()
