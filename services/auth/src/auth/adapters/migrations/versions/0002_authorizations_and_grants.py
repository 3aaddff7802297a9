"""Authorization sessions and grants (encrypted token store).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "auth"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "authorizations",
        sa.Column("authorization_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("datasource_id", UUID(as_uuid=True), nullable=False),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("company_domain_id", UUID(as_uuid=True), nullable=False),
        sa.Column("company_domain_name", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("bound_division", sa.Integer, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("link_nonce", sa.Text, nullable=False),
        sa.Column("link_token_sha256", sa.Text, nullable=False),
        sa.Column("link_expires_at", TS, nullable=False),
        sa.Column("link_used_at", TS, nullable=True),
        sa.Column("browser_sha256", sa.Text, nullable=True),
        sa.Column("state_sha256", sa.Text, nullable=True),
        sa.Column("region", sa.Text, nullable=True),
        sa.Column("exact_user", JSONB, nullable=True),
        sa.Column("choices", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("pending_tokens_enc", sa.LargeBinary, nullable=True),
        sa.Column("grant_id", UUID(as_uuid=True), nullable=True),
        sa.Column("division", sa.Integer, nullable=True),
        sa.Column("division_name", sa.Text, nullable=True),
        sa.Column("failure_code", sa.Text, nullable=True),
        sa.Column("failure_reason", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("ix_auth_authorizations_datasource_id", "authorizations", ["datasource_id"],
                    schema=S)
    op.create_index("ix_authorizations_open_expiry", "authorizations", ["link_expires_at"],
                    schema=S, postgresql_where=sa.text(
                        "status IN ('open', 'signing_in', 'choosing_division')"))
    op.create_table(
        "grants",
        sa.Column("grant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("authorization_id", UUID(as_uuid=True), nullable=False),
        sa.Column("datasource_id", UUID(as_uuid=True), nullable=False),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("division", sa.Integer, nullable=False),
        sa.Column("division_name", sa.Text, nullable=False),
        sa.Column("exact_user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("exact_user_name", sa.Text, nullable=False),
        sa.Column("region", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("access_token_enc", sa.LargeBinary, nullable=True),
        sa.Column("refresh_token_enc", sa.LargeBinary, nullable=True),
        sa.Column("access_token_sha256", sa.Text, nullable=True),
        sa.Column("access_issued_at", TS, nullable=True),
        sa.Column("access_expires_at", TS, nullable=True),
        sa.Column("refresh_issued_at", TS, nullable=True),
        sa.Column("refresh_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("refresh_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("ix_auth_grants_datasource_id", "grants", ["datasource_id"], schema=S)


def downgrade() -> None:
    op.drop_table("grants", schema=S)
    op.drop_table("authorizations", schema=S)
