"""Outbox and inbox of the auth service.

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
    create_messaging_tables(op, "auth")


def downgrade() -> None:
    op.drop_table("inbox", schema="auth")
    op.drop_table("outbox", schema="auth")
