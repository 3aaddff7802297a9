"""Tables of Exact's webhooks in ingest's schema (beside :mod:`ingest.adapters.tables`).

``webhook_receipts``: the digest of every notification accepted, for as long as a copy would
still be fresh, so a replayed or duplicated delivery is refused.
``pending_changes``: notifications per data source and entity waiting to be coalesced into
one targeted incremental run.
``webhook_subscriptions``: per data source and topic, the subscription at Exact and its state.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from ingest.adapters.tables import metadata

_now = sa.func.now()

webhook_receipts = sa.Table(
    "webhook_receipts",
    metadata,
    sa.Column("digest", sa.LargeBinary, primary_key=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=_now,
              index=True),
)

pending_changes = sa.Table(
    "pending_changes",
    metadata,
    sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("entity", sa.Text, primary_key=True),
    sa.Column("first_received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("notifications", sa.Integer, nullable=False, server_default="1"),
    sa.Column("deletes", sa.Boolean, nullable=False, server_default=sa.false()),
)

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("division", sa.Integer, nullable=False),
    sa.Column("grant_id", UUID(as_uuid=True), nullable=False),
    sa.Column("subscription_id", UUID(as_uuid=True), nullable=True),
    sa.Column("callback_url", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
)
"""``state``: ``wanted`` (to be created), ``active`` (seen at Exact), ``failed`` (the last
attempt failed: ``error``), ``removing`` (to be deleted at Exact, then the row goes).
``failures``: attempts in a row that failed; the next one waits longer (back-off)."""
