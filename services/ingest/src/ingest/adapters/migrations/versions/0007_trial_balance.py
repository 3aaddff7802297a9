"""Trial balance: per data source the ledger lines streamed and Exact's ReportingBalance rows
(what each adds to the trial balance), and the years a run changed.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "ingest"


def upgrade() -> None:
    op.create_table(
        "trial_lines",
        sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("line_id", sa.Text, primary_key=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("gl_code", sa.Text, nullable=False),
        sa.Column("type", sa.Integer, nullable=True),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("amount", sa.Numeric, nullable=False),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.Column("seen_run_id", UUID(as_uuid=True), nullable=False),
        schema=S)
    op.create_table(
        "trial_exact",
        sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("row_id", sa.BigInteger, primary_key=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("gl_code", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("amount", sa.Numeric, nullable=False),
        sa.Column("seen_run_id", UUID(as_uuid=True), nullable=False),
        schema=S)
    op.create_table(
        "trial_touched",
        sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        schema=S)


def downgrade() -> None:
    op.drop_table("trial_touched", schema=S)
    op.drop_table("trial_exact", schema=S)
    op.drop_table("trial_lines", schema=S)
