"""Runs keep their trial-balance check (ingest's TrialBalanceChecked).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "datasource"


def upgrade() -> None:
    op.add_column("runs", sa.Column("trial_balance", JSONB, nullable=True), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("runs", "trial_balance", schema=SCHEMA)
