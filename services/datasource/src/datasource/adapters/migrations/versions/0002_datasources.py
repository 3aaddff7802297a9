"""Company domains, data sources and runs.

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

SCHEMA = "datasource"
TZ = sa.DateTime(timezone=True)


def _uuid() -> UUID:  # type: ignore[type-arg]
    return UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "company_domains",
        sa.Column("id", _uuid(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "datasources",
        sa.Column("id", _uuid(), primary_key=True),
        sa.Column("company_domain_id", _uuid(), sa.ForeignKey(f"{SCHEMA}.company_domains.id"),
                  nullable=False),
        sa.Column("provider", sa.Text, nullable=False, server_default="exact_online"),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("authorization_mode", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("division", sa.Integer),
        sa.Column("division_name", sa.Text),
        sa.Column("grant_id", _uuid(), unique=True),
        sa.Column("authorized_by", sa.Text),
        sa.Column("connected_at", TZ),
        sa.Column("pending_authorization_id", _uuid(), unique=True),
        sa.Column("pending_purpose", sa.Text),
        sa.Column("pending_mode", sa.Text),
        sa.Column("pending_requested_by", sa.Text),
        sa.Column("pending_requested_at", TZ),
        sa.Column("pending_resume_state", sa.Text),
        sa.Column("link_fetch_url", sa.Text),
        sa.Column("link_expires_at", TZ),
        sa.Column("link_issued_at", TZ),
        sa.Column("failure_authorization_id", _uuid()),
        sa.Column("failure_purpose", sa.Text),
        sa.Column("failure_code", sa.Text),
        sa.Column("failure_reason", sa.Text),
        sa.Column("failure_offered_division", sa.Integer),
        sa.Column("failure_at", TZ),
        sa.Column("rejection_authorization_id", _uuid()),
        sa.Column("rejection_offered_division", sa.Integer),
        sa.Column("rejection_offered_division_name", sa.Text),
        sa.Column("rejection_offered_grant_id", _uuid()),
        sa.Column("rejection_reason", sa.Text),
        sa.Column("rejection_at", TZ),
        sa.Column("reauthorization_grant_id", _uuid()),
        sa.Column("reauthorization_reason", sa.Text),
        sa.Column("reauthorization_at", TZ),
        sa.CheckConstraint(
            "state IN ('awaiting_authorization', 'authorization_failed', 'connected', "
            "'recreating', 'needs_reauthorization')",
            name="ck_datasources_state",
        ),
        schema=SCHEMA,
    )
    op.create_index("uq_datasources_domain_division", "datasources", ["company_domain_id", "division"],
                    unique=True, schema=SCHEMA, postgresql_where=sa.text("division IS NOT NULL"))
    op.create_index("ix_datasources_domain", "datasources", ["company_domain_id"], schema=SCHEMA)
    op.create_table(
        "runs",
        sa.Column("run_id", _uuid(), primary_key=True),
        sa.Column("datasource_id", _uuid(), sa.ForeignKey(f"{SCHEMA}.datasources.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("entities", JSONB, nullable=False),
        sa.Column("division", sa.Integer),
        sa.Column("grant_id", _uuid()),
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
        sa.Column("batches", sa.Integer),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("failure_code", sa.Text),
        sa.Column("failure_reason", sa.Text),
        sa.Column("failure_retryable", sa.Boolean),
        sa.Column("resumed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("resumed_at", TZ),
        sa.CheckConstraint("status IN ('pending', 'running', 'completed', 'failed')",
                           name="ck_runs_status"),
        schema=SCHEMA,
    )
    op.create_index("ix_runs_datasource_requested", "runs", ["datasource_id", "requested_at"],
                    schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("runs", schema=SCHEMA)
    op.drop_table("datasources", schema=SCHEMA)
    op.drop_table("company_domains", schema=SCHEMA)
