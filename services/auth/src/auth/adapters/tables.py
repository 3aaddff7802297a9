"""Tables of the auth service, all in its own schema ``auth``.

Tokens are stored Fernet-encrypted (``*_enc``); share-link tokens are never stored: a row
keeps the SHA-256 of its link token and the nonce it is derived from with the signing key.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from connector_runtime.persistence.tables import inbox_table, outbox_table

SCHEMA = "auth"
metadata = sa.MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

_TS = sa.DateTime(timezone=True)

authorizations = sa.Table(
    "authorizations",
    metadata,
    sa.Column("authorization_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("datasource_id", UUID(as_uuid=True), nullable=False),
    sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("company_domain_id", UUID(as_uuid=True), nullable=False),
    sa.Column("company_domain_name", sa.Text, nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("bound_division", sa.Integer, nullable=True),
    sa.Column("expected_division", sa.Integer, nullable=True),
    sa.Column("expected_vat_number", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("link_nonce", sa.Text, nullable=False),
    sa.Column("link_token_sha256", sa.Text, nullable=False),
    sa.Column("link_expires_at", _TS, nullable=False),
    sa.Column("link_used_at", _TS, nullable=True),
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
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("finished_at", _TS, nullable=True),
    sa.Column("updated_at", _TS, nullable=False, server_default=sa.func.now()),
    sa.Index("ix_auth_authorizations_datasource_id", "datasource_id"),
    sa.Index("ix_authorizations_open_expiry", "link_expires_at",
             postgresql_where=sa.text("status IN ('open', 'signing_in', 'choosing_division')")),
)

grants = sa.Table(
    "grants",
    metadata,
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
    sa.Column("access_issued_at", _TS, nullable=True),
    sa.Column("access_expires_at", _TS, nullable=True),
    sa.Column("refresh_issued_at", _TS, nullable=True),
    sa.Column("refresh_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("refresh_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("refresh_not_before", _TS, nullable=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False, server_default=sa.func.now()),
    sa.Index("ix_auth_grants_datasource_id", "datasource_id"),
    sa.Index("ix_auth_grants_usable_refresh_issued", "refresh_issued_at",
             postgresql_where=sa.text("status IN ('pending', 'active')")),
)
