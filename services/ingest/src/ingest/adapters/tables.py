"""Tables of the ingest service, all in its own schema ``ingest``."""

from __future__ import annotations

import sqlalchemy as sa

from connector_runtime.tables import inbox_table, outbox_table

SCHEMA = "ingest"
metadata = sa.MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
