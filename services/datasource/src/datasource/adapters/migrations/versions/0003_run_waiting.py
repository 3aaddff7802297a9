"""Runs keep whether their latest progress says they wait, and until when.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "datasource"


def upgrade() -> None:
    op.add_column("runs", sa.Column("waiting_until", sa.DateTime(timezone=True), nullable=True),
                  schema=SCHEMA)
    op.add_column("runs", sa.Column("waiting_reason", sa.Text, nullable=True), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("runs", "waiting_reason", schema=SCHEMA)
    op.drop_column("runs", "waiting_until", schema=SCHEMA)
