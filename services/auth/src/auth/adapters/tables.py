"""Tables of the auth service, all in its own schema ``auth``."""

from __future__ import annotations

import sqlalchemy as sa

from connector_runtime.tables import inbox_table, outbox_table

SCHEMA = "auth"
metadata = sa.MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
