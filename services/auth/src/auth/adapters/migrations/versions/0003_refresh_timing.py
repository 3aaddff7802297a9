"""Grants remember when Exact allows the next refresh (its too-early answer); usable grants
are found by the age of their refresh token (keep-alive).

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
    op.create_index("ix_auth_grants_usable_refresh_issued", "grants", ["refresh_issued_at"],
                    schema=S, postgresql_where=sa.text("status IN ('pending', 'active')"))


def downgrade() -> None:
    op.drop_index("ix_auth_grants_usable_refresh_issued", table_name="grants", schema=S)
    op.drop_column("grants", "refresh_not_before", schema=S)
