"""Tables of the datasource service, all in its own schema ``datasource``.

``company_domains`` and ``datasources`` hold the lifecycle state (one row per
aggregate, value objects flattened into prefixed columns); ``runs`` holds what
ingest reported about each data run. A partial unique index keeps one Exact
division to at most one data source per company domain.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from connector_runtime.persistence.tables import inbox_table, outbox_table

SCHEMA = "datasource"
metadata = sa.MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

TZ = sa.DateTime(timezone=True)

company_domains = sa.Table(
    "company_domains",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", TZ, nullable=False),
)

datasources = sa.Table(
    "datasources",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("company_domain_id", UUID(as_uuid=True),
              sa.ForeignKey(f"{SCHEMA}.company_domains.id"), nullable=False),
    sa.Column("provider", sa.Text, nullable=False, server_default="exact_online"),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("authorization_mode", sa.Text, nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("updated_at", TZ, nullable=False),
    # binding
    sa.Column("division", sa.Integer),
    sa.Column("division_name", sa.Text),
    sa.Column("grant_id", UUID(as_uuid=True), unique=True),
    sa.Column("authorized_by", sa.Text),
    sa.Column("connected_at", TZ),
    sa.Column("vat_number", sa.Text),
    sa.Column("company_verified", sa.Boolean),
    # pending authorization
    sa.Column("pending_authorization_id", UUID(as_uuid=True), unique=True),
    sa.Column("pending_purpose", sa.Text),
    sa.Column("pending_mode", sa.Text),
    sa.Column("pending_requested_by", sa.Text),
    sa.Column("pending_requested_at", TZ),
    sa.Column("pending_resume_state", sa.Text),
    sa.Column("pending_expected_division", sa.Integer),
    sa.Column("pending_expected_vat_number", sa.Text),
    sa.Column("link_fetch_url", sa.Text),
    sa.Column("link_expires_at", TZ),
    sa.Column("link_issued_at", TZ),
    # last authorization failure
    sa.Column("failure_authorization_id", UUID(as_uuid=True)),
    sa.Column("failure_purpose", sa.Text),
    sa.Column("failure_code", sa.Text),
    sa.Column("failure_reason", sa.Text),
    sa.Column("failure_offered_division", sa.Integer),
    sa.Column("failure_at", TZ),
    # last recreate rejection
    sa.Column("rejection_authorization_id", UUID(as_uuid=True)),
    sa.Column("rejection_offered_division", sa.Integer),
    sa.Column("rejection_offered_division_name", sa.Text),
    sa.Column("rejection_offered_grant_id", UUID(as_uuid=True)),
    sa.Column("rejection_reason", sa.Text),
    sa.Column("rejection_at", TZ),
    # why it needs reauthorization
    sa.Column("reauthorization_grant_id", UUID(as_uuid=True)),
    sa.Column("reauthorization_reason", sa.Text),
    sa.Column("reauthorization_at", TZ),
    sa.CheckConstraint(
        "state IN ('awaiting_authorization', 'authorization_failed', 'connected', "
        "'recreating', 'needs_reauthorization', 'awaiting_confirmation')",
        name="ck_datasources_state",
    ),
    sa.Index("uq_datasources_domain_division", "company_domain_id", "division", unique=True,
             postgresql_where=sa.text("division IS NOT NULL")),
    sa.Index("ix_datasources_domain", "company_domain_id"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("datasource_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.datasources.id"),
              nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("requested_at", TZ, nullable=False),
    sa.Column("entities", JSONB, nullable=False),
    sa.Column("division", sa.Integer),
    sa.Column("grant_id", UUID(as_uuid=True)),
    sa.Column("date_from", sa.Date),
    sa.Column("date_to", sa.Date),
    sa.Column("started_at", TZ),
    sa.Column("finished_at", TZ),
    sa.Column("last_event_at", TZ),
    sa.Column("progress", JSONB, nullable=False),
    sa.Column("progress_at", TZ),
    sa.Column("calls_used", sa.Integer),
    sa.Column("daily_budget_remaining", sa.Integer),
    sa.Column("minutely_budget_remaining", sa.Integer),
    sa.Column("eta_seconds", sa.Float),
    sa.Column("waiting_until", TZ),
    sa.Column("waiting_reason", sa.Text),
    sa.Column("batches", sa.Integer),
    sa.Column("duration_seconds", sa.Float),
    sa.Column("failure_code", sa.Text),
    sa.Column("failure_reason", sa.Text),
    sa.Column("failure_retryable", sa.Boolean),
    sa.Column("resumed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("resumed_at", TZ),
    sa.Column("trial_balance", JSONB),
    sa.Column("plan", JSONB),
    sa.CheckConstraint("status IN ('pending', 'running', 'completed', 'failed')", name="ck_runs_status"),
    sa.Index("ix_runs_datasource_requested", "datasource_id", "requested_at"),
)
