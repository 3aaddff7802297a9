"""Grants remember when Exact allows the next refresh (its too-early answer).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "auth"


def upgrade() -> None:
    op.add_column("grants", sa.Column("refresh_not_before", sa.DateTime(timezone=True),
                                      nullable=True), schema=S)


def downgrade() -> None:
    op.drop_column("grants", "refresh_not_before", schema=S)
