"""Exact webhooks: accepted notifications (replay guard), changes waiting to be coalesced,
and the subscriptions per data source.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "ingest"


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_receipts",
        sa.Column("digest", sa.LargeBinary, primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        schema=S)
    op.create_index("ix_webhook_receipts_received_at", "webhook_receipts", ["received_at"],
                    schema=S)
    op.create_table(
        "pending_changes",
        sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("entity", sa.Text, primary_key=True),
        _ts("first_received_at"), _ts("last_received_at"),
        sa.Column("notifications", sa.Integer, nullable=False, server_default="1"),
        sa.Column("deletes", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=S)
    op.create_table(
        "webhook_subscriptions",
        sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("division", sa.Integer, nullable=False),
        sa.Column("grant_id", UUID(as_uuid=True), nullable=False),
        sa.Column("subscription_id", UUID(as_uuid=True), nullable=True),
        sa.Column("callback_url", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        _ts("checked_at", nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        schema=S)


def downgrade() -> None:
    op.drop_table("webhook_subscriptions", schema=S)
    op.drop_table("pending_changes", schema=S)
    op.drop_table("webhook_receipts", schema=S)
