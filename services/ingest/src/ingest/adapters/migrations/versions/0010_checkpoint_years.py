"""Run checkpoints hold the year a by-year read (ReportingBalance) is in, and the rows read
per year (FinancialPeriods' give the years to read; ReportingBalance's plan its next reads).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

S = "ingest"


def upgrade() -> None:
    op.add_column("run_checkpoints", sa.Column("year", sa.Integer, nullable=True), schema=S)
    op.add_column("run_checkpoints", sa.Column("year_rows", JSONB, nullable=False,
                                               server_default=sa.text("'{}'::jsonb")), schema=S)


def downgrade() -> None:
    op.drop_column("run_checkpoints", "year_rows", schema=S)
    op.drop_column("run_checkpoints", "year", schema=S)
