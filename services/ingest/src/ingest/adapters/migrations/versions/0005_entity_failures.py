"""Per-entity outcome: an entity that failed (the run finished the others), fields Exact no
longer knows, and the entities the next incremental sync must read again.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "ingest"


def upgrade() -> None:
    op.add_column("run_checkpoints", sa.Column("failed_code", sa.Text, nullable=True), schema=S)
    op.add_column("run_checkpoints", sa.Column("failed_reason", sa.Text, nullable=True), schema=S)
    op.add_column("run_checkpoints", sa.Column("dropped_fields", ARRAY(sa.Text), nullable=False,
                                               server_default="{}"), schema=S)
    op.add_column("sync_states", sa.Column("retry_entities", ARRAY(sa.Text), nullable=False,
                                           server_default="{}"), schema=S)


def downgrade() -> None:
    op.drop_column("sync_states", "retry_entities", schema=S)
    op.drop_column("run_checkpoints", "dropped_fields", schema=S)
    op.drop_column("run_checkpoints", "failed_reason", schema=S)
    op.drop_column("run_checkpoints", "failed_code", schema=S)
