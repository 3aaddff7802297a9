"""Runs keep their trial-balance check (ingest's TrialBalanceChecked).

Revision ID: 0003_trial_balance
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003_trial_balance"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "datasource"


def upgrade() -> None:
    op.add_column("runs", sa.Column("trial_balance", JSONB, nullable=True), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("runs", "trial_balance", schema=SCHEMA)
