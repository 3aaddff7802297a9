"""Outbox and inbox of the ingest service.

Revision ID: 0001
Revises:
"""

from alembic import op

from connector_runtime.persistence.tables import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op, "ingest")


def downgrade() -> None:
    op.drop_table("inbox", schema="ingest")
    op.drop_table("outbox", schema="ingest")
