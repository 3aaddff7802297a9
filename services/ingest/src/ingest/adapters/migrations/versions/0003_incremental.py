"""Incremental sync: cursors and schedule per data source; deletions per checkpoint.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "ingest"


def upgrade() -> None:
    op.add_column("run_checkpoints", sa.Column("deleted", sa.BigInteger, nullable=False,
                                               server_default="0"), schema=S)
    op.create_table(
        "sync_states",
        sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("division", sa.Integer, nullable=False),
        sa.Column("grant_id", UUID(as_uuid=True), nullable=False),
        sa.Column("cursors", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("interval_seconds", sa.Float, nullable=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_id", UUID(as_uuid=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("ix_sync_states_due", "sync_states", ["next_due_at"], schema=S)


def downgrade() -> None:
    op.drop_table("sync_states", schema=S)
    op.drop_column("run_checkpoints", "deleted", schema=S)
