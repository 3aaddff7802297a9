"""Runs with leases, per-entity checkpoints, shared rate budgets per company.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "ingest"


def _ts(name: str, nullable: bool = True, default: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=sa.func.now() if default else None)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("datasource_id", UUID(as_uuid=True), nullable=False),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("division", sa.Integer, nullable=False),
        sa.Column("grant_id", UUID(as_uuid=True), nullable=False),
        sa.Column("entities", ARRAY(sa.Text), nullable=False),
        sa.Column("date_from", sa.Date, nullable=True),
        sa.Column("date_to", sa.Date, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=True),
        _ts("lease_expires_at"),
        _ts("not_before"),
        sa.Column("calls_used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("batches", sa.Integer, nullable=False, server_default="0"),
        sa.Column("waiting_reason", sa.Text, nullable=True),
        sa.Column("error_code", sa.Text, nullable=True),
        sa.Column("error_reason", sa.Text, nullable=True),
        _ts("started_at"),
        _ts("finished_at"),
        _ts("created_at", nullable=False, default=True),
        _ts("updated_at", nullable=False, default=True),
        schema=S,
    )
    op.create_index("ix_runs_datasource_id", "runs", ["datasource_id"], schema=S)
    op.create_index("ix_runs_claimable", "runs", ["status", "lease_expires_at"], schema=S,
                    postgresql_where=sa.text("status IN ('pending', 'running', 'waiting')"))
    op.create_table(
        "run_checkpoints",
        sa.Column("run_id", UUID(as_uuid=True),
                  sa.ForeignKey(f"{S}.runs.run_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("entity", sa.Text, primary_key=True),
        sa.Column("cursor", sa.Text, nullable=True),
        sa.Column("next_batch_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("pages", sa.Integer, nullable=False, server_default="0"),
        sa.Column("amount_sum", sa.Numeric, nullable=True),
        sa.Column("debit_sum", sa.Numeric, nullable=True),
        sa.Column("id_hash", sa.Numeric(20, 0), nullable=False, server_default="0"),
        sa.Column("max_timestamp", sa.BigInteger, nullable=True),
        sa.Column("count_sum", sa.BigInteger, nullable=True),
        sa.Column("done", sa.Boolean, nullable=False, server_default=sa.false()),
        _ts("updated_at", nullable=False, default=True),
        schema=S,
    )
    op.create_table(
        "rate_budgets",
        sa.Column("division", sa.Integer, primary_key=True),
        sa.Column("state", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        _ts("updated_at", nullable=False, default=True),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("rate_budgets", schema=S)
    op.drop_table("run_checkpoints", schema=S)
    op.drop_table("runs", schema=S)
