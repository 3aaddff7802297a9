"""Webhook subscriptions: how many attempts in a row failed, so a failed creation or removal
is tried again after a delay that grows with them (seconds at first, a minute at most).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

S = "ingest"


def upgrade() -> None:
    op.add_column("webhook_subscriptions",
                  sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
                  schema=S)


def downgrade() -> None:
    op.drop_column("webhook_subscriptions", "failures", schema=S)
