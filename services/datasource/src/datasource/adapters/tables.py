"""Tables of the datasource service, all in its own schema ``datasource``."""

from __future__ import annotations

import sqlalchemy as sa

from connector_runtime.tables import inbox_table, outbox_table

SCHEMA = "datasource"
metadata = sa.MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
