"""Full refresh of the entities without a sync endpoint: schedule and row hashes.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "ingest"


def upgrade() -> None:
    # data sources synced before this revision have no hashes: refreshed (in full) at once
    op.add_column("sync_states", sa.Column("refresh_due_at", sa.DateTime(timezone=True),
                                           nullable=False, server_default=sa.func.now()),
                  schema=S)
    op.add_column("sync_states", sa.Column("refresh_interval_seconds", sa.Float, nullable=True),
                  schema=S)
    op.create_table(
        "refresh_hashes",
        sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("entity", sa.Text, primary_key=True),
        sa.Column("row_id", sa.Text, primary_key=True),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.Column("seen_run_id", UUID(as_uuid=True), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("refresh_hashes", schema=S)
    op.drop_column("sync_states", "refresh_interval_seconds", schema=S)
    op.drop_column("sync_states", "refresh_due_at", schema=S)
