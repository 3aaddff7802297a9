"""Trial balance: the periods whose Exact side is stale, kept per data source across runs (a
re-read may be deferred by its throttle), and when each data source's was last re-read.
Replaces ``trial_touched`` (years per run).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "ingest"


def upgrade() -> None:
    op.create_table(
        "trial_stale",
        sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("period", sa.Integer, primary_key=True),
        schema=S)
    op.create_table(
        "trial_rereads",
        sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("reread_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        schema=S)
    op.drop_table("trial_touched", schema=S)


def downgrade() -> None:
    op.create_table(
        "trial_touched",
        sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        schema=S)
    op.drop_table("trial_rereads", schema=S)
    op.drop_table("trial_stale", schema=S)
