"""Runs keep ingest's plan (RunStarted.plan, contracts version 3): calls, budget days, ETA.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "datasource"


def upgrade() -> None:
    op.add_column("runs", sa.Column("plan", JSONB, nullable=True), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("runs", "plan", schema=SCHEMA)
