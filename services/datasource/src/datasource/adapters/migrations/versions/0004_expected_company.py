"""The company an authorization must connect, the connected company's VAT number, whether it
was named in advance, and the state awaiting_confirmation.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "datasource"
STATES = ("'awaiting_authorization', 'authorization_failed', 'connected', 'recreating', "
          "'needs_reauthorization'")


def upgrade() -> None:
    for name, type_ in (("vat_number", sa.Text), ("company_verified", sa.Boolean),
                        ("pending_expected_division", sa.Integer),
                        ("pending_expected_vat_number", sa.Text)):
        op.add_column("datasources", sa.Column(name, type_), schema=S)
    op.drop_constraint("ck_datasources_state", "datasources", schema=S, type_="check")
    op.create_check_constraint("ck_datasources_state", "datasources",
                               f"state IN ({STATES}, 'awaiting_confirmation')", schema=S)


def downgrade() -> None:
    op.drop_constraint("ck_datasources_state", "datasources", schema=S, type_="check")
    op.create_check_constraint("ck_datasources_state", "datasources", f"state IN ({STATES})",
                               schema=S)
    for name in ("pending_expected_vat_number", "pending_expected_division", "company_verified",
                 "vat_number"):
        op.drop_column("datasources", name, schema=S)
