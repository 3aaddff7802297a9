"""Tables of the ingest service, all in its own schema ``ingest``.

``runs``: one row per run, owned through a lease (``owner``, ``lease_expires_at``).
``run_checkpoints``: per run and entity, the cursor of the next page, the next batch_seq
and the running totals - written only after the broker acknowledged a page's batches.
``sync_states``: per data source, the incremental-sync cursors and schedule (and the slower
full-refresh schedule of the entities without a sync endpoint).
``refresh_hashes``: per data source, entity and row, the content hash consumers last got.
``trial_lines``, ``trial_exact``, ``trial_stale``, ``trial_rereads``: the trial-balance state (see
:mod:`ingest.adapters.trial_store`).
``rate_budgets``: per Exact company (division), the call budget every run and replica
shares (minute and day windows, calls in flight, Exact's clock, errors per endpoint).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from connector_runtime.persistence.tables import inbox_table, outbox_table

SCHEMA = "ingest"
metadata = sa.MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

_now = sa.func.now()


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("datasource_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("division", sa.Integer, nullable=False),
    sa.Column("grant_id", UUID(as_uuid=True), nullable=False),
    sa.Column("entities", ARRAY(sa.Text), nullable=False),
    sa.Column("date_from", sa.Date, nullable=True),
    sa.Column("date_to", sa.Date, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=True),
    _ts("lease_expires_at"),
    _ts("not_before"),
    sa.Column("calls_used", sa.Integer, nullable=False, server_default="0"),
    sa.Column("batches", sa.Integer, nullable=False, server_default="0"),
    sa.Column("waiting_reason", sa.Text, nullable=True),
    sa.Column("error_code", sa.Text, nullable=True),
    sa.Column("error_reason", sa.Text, nullable=True),
    _ts("started_at"),
    _ts("finished_at"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Index("ix_runs_claimable", "status", "lease_expires_at",
             postgresql_where=sa.text("status IN ('pending', 'running', 'waiting')")),
)

run_checkpoints = sa.Table(
    "run_checkpoints",
    metadata,
    sa.Column("run_id", UUID(as_uuid=True), sa.ForeignKey(runs.c.run_id, ondelete="CASCADE"),
              primary_key=True),
    sa.Column("entity", sa.Text, primary_key=True),
    sa.Column("cursor", sa.Text, nullable=True),
    sa.Column("next_batch_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("pages", sa.Integer, nullable=False, server_default="0"),
    sa.Column("amount_sum", sa.Numeric, nullable=True),
    sa.Column("debit_sum", sa.Numeric, nullable=True),
    sa.Column("id_hash", sa.Numeric(20, 0), nullable=False, server_default="0"),
    sa.Column("max_timestamp", sa.BigInteger, nullable=True),
    sa.Column("count_sum", sa.BigInteger, nullable=True),
    sa.Column("done", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("deleted", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("failed_code", sa.Text, nullable=True),
    sa.Column("failed_reason", sa.Text, nullable=True),
    sa.Column("dropped_fields", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("year", sa.Integer, nullable=True),
    sa.Column("year_rows", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
)

sync_states = sa.Table(
    "sync_states",
    metadata,
    sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("division", sa.Integer, nullable=False),
    sa.Column("grant_id", UUID(as_uuid=True), nullable=False),
    sa.Column("cursors", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("interval_seconds", sa.Float, nullable=True),
    _ts("next_due_at", nullable=False),
    sa.Column("last_run_id", UUID(as_uuid=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    _ts("refresh_due_at", nullable=False),
    sa.Column("refresh_interval_seconds", sa.Float, nullable=True),
    sa.Column("retry_entities", ARRAY(sa.Text), nullable=False, server_default="{}"),
)
"""Per data source whose initial run completed: the Timestamp cursor per sync entity (and
``Deleted``), when its next incremental run is due, and an optional interval override;
when the entities without a sync endpoint are next re-read in full (and an override); the
entities a run could not import, read in full by the next incremental run."""

refresh_hashes = sa.Table(
    "refresh_hashes",
    metadata,
    sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("entity", sa.Text, primary_key=True),
    sa.Column("row_id", sa.Text, primary_key=True),
    sa.Column("hash", sa.LargeBinary, nullable=False),
    sa.Column("seen_run_id", UUID(as_uuid=True), nullable=False),
)
"""Content hash of each row of the entities without a sync endpoint, as last sent, and the
run that last read the row (a full read drops the rows it did not see)."""

rate_budgets = sa.Table(
    "rate_budgets",
    metadata,
    sa.Column("division", sa.Integer, primary_key=True),
    sa.Column("state", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

trial_lines = sa.Table(
    "trial_lines",
    metadata,
    sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("line_id", sa.Text, primary_key=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("gl_code", sa.Text, nullable=False),
    sa.Column("type", sa.Integer, nullable=True),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("amount", sa.Numeric, nullable=False),
    sa.Column("on_date", sa.Date, nullable=False),
    sa.Column("seen_run_id", UUID(as_uuid=True), nullable=False),
)
"""Per data source, each TransactionLine streamed as consumers now hold it: what it adds to
the trial balance (written with the page's checkpoint; deleted lines are removed)."""

trial_exact = sa.Table(
    "trial_exact",
    metadata,
    sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("row_id", sa.BigInteger, primary_key=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("gl_code", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("amount", sa.Numeric, nullable=False),
    sa.Column("seen_run_id", UUID(as_uuid=True), nullable=False),
)
"""Per data source, Exact's ReportingBalance rows as last read (in full, or a year again)."""

trial_stale = sa.Table(
    "trial_stale",
    metadata,
    sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("period", sa.Integer, primary_key=True),
)
"""Per data source, the reporting periods whose ledger totals changed since ReportingBalance
was last read for them (the check reads them from Exact again, when its throttle allows)."""

trial_rereads = sa.Table(
    "trial_rereads",
    metadata,
    sa.Column("datasource_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("reread_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("calls", sa.Integer, nullable=False),
)
"""Per data source, the check's last re-read of ReportingBalance and its calls (throttle)."""
