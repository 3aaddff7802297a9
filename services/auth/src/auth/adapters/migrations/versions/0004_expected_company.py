"""The company an authorization may connect (division code and/or VAT number).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "auth"


def upgrade() -> None:
    op.add_column("authorizations", sa.Column("expected_division", sa.Integer, nullable=True),
                  schema=S)
    op.add_column("authorizations", sa.Column("expected_vat_number", sa.Text, nullable=True),
                  schema=S)


def downgrade() -> None:
    op.drop_column("authorizations", "expected_vat_number", schema=S)
    op.drop_column("authorizations", "expected_division", schema=S)
