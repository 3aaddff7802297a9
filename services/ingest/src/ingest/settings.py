"""Settings of the ingest service (environment variables prefixed INGEST_).

``EXACT_BASE_URL`` is read without a prefix (every service talks to the same Exact).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connector_runtime.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore", frozen=True)

    http_port: int = 8003
    internal_http_port: int = 9003
    consumer_group: str = Field(default="exact-ingest",
                                description="Kafka consumer group prefix of the subscribers.")

    exact_base_url: str = Field(
        default="https://start.exactonline.nl",
        validation_alias=AliasChoices("EXACT_BASE_URL", "exact_base_url"),
        description="Exact Online instance (only the Netherlands one is supported).",
    )
    exact_timeout_seconds: float = Field(
        default=60.0, gt=0,
        description="Per-call timeout towards Exact: of every retry, and of a first attempt "
                    "until the endpoint's usual answer time is known (then 8x the slowest "
                    "recent answer, at least 1 s).")
    exact_max_attempts: int = Field(default=8, ge=1,
                                    description="Failed attempts of one page before a run fails.")
    exact_backoff_seconds: float = Field(default=0.2, gt=0,
                                         description="First retry delay; doubles per attempt.")
    exact_backoff_max_seconds: float = Field(default=30.0, gt=0)
    exact_unauthorized_retry_seconds: float = Field(
        default=2.0, gt=0,
        description="Wait before a 401 is retried with the same token (twice at most, the "
                    "second wait doubled); only a 401 that persists asks auth for a new token.")
    exact_minutely_limit: int = Field(default=60, ge=1,
                                      description="Assumed until Exact's headers say otherwise.")
    exact_error_budget: int = Field(
        default=8, ge=1,
        description="4xx answers per endpoint and hour after which calls pause (Exact blocks at 10).")

    auth_internal_url: str = Field(default="http://127.0.0.1:9001",
                                   description="Base URL of auth's internal API (its internal "
                                   "listener).")
    auth_internal_token: SecretStr | None = Field(
        default=None, description="Ingest's bearer token at auth's internal API (its entry in "
        "AUTH_API_CLIENTS has the scope access_tokens).")
    run_claim_verify_keys: str = Field(
        description="KEY_ID:BASE64 Ed25519 public key(s), comma separated, that verify the "
        "grant claim datasource signs into run requests and recreate decisions.")

    daily_sync_reserve: float = Field(
        default=0.10, ge=0, lt=0.5,
        description="Share of a company's daily call limit an initial run leaves for its syncs "
                    "(a re-import leaves twice as much); the run then waits for the daily reset.")
    daily_floor: float = Field(
        default=0.01, ge=0, lt=0.5,
        description="Share of a company's daily call limit no run spends, syncs included.")
    max_concurrent_runs: int = Field(default=4, ge=1, description="Runs one replica executes at once.")
    lease_seconds: float = Field(
        default=10.0, gt=0,
        description="A dead replica's runs (and so its companies) are taken over after this; "
                    "leases are renewed every third of it.")
    scheduler_interval_seconds: float = Field(default=1.0, gt=0)
    progress_interval_seconds: float = Field(default=2.0, ge=0)
    incremental_interval_seconds: float = Field(
        default=900.0, gt=0,
        description="Default time between incremental syncs of a data source (per-source "
                    "override: ingest.sync_states.interval_seconds).")
    full_refresh_interval_seconds: float = Field(
        default=21_600.0, gt=0,
        description="Default time between full re-reads (diffed) of the entities without a "
                    "sync endpoint, done by the next incremental run once due (per-source "
                    "override: ingest.sync_states.refresh_interval_seconds).")
    full_refresh_daily_share: float = Field(
        default=0.25, gt=0, le=1,
        description="Largest share of a company's daily call limit its full refreshes take on "
                    "average: an expensive refresh (a large ReportingBalance) waits longer "
                    "than the interval.")
    incremental_jitter: float = Field(
        default=0.2, ge=0, lt=1,
        description="Fraction of the interval each due time is moved at random.")
    max_batch_bytes: int = Field(default=900_000, ge=10_000, le=1_000_000,
                                 description="Largest serialized LedgerBatch (broker limit 1 MB).")

    webhook_secret: SecretStr | None = Field(
        default=None,
        description="The app's webhook secret from Exact's App Center (HashCode key); without "
                    "it the webhook listener does not start and only scheduled sync runs.")
    webhook_port: int = Field(default=8013, ge=0,
                              description="Port of the public webhook listener (0: any free).")
    webhook_callback_url: str | None = Field(
        default=None,
        description="The https URL at which Exact reaches the listener's /webhooks/exact "
                    "(behind a TLS-terminating proxy); without it no subscription is made.")
    webhook_max_age_seconds: float = Field(
        default=900.0, gt=0,
        description="A notification whose EventCreatedOn is further than this from now is "
                    "refused as stale (digests are kept twice as long against replays).")
    webhook_debounce_seconds: float = Field(
        default=2.0, ge=0,
        description="Quiet time after a data source's last notification before its targeted "
                    "incremental run.")
    webhook_max_wait_seconds: float = Field(
        default=10.0, gt=0,
        description="Longest a notification waits for a quiet moment in a steady stream.")
    webhook_subscription_check_seconds: float = Field(
        default=3600.0, gt=0,
        description="How often each data source's subscriptions are checked at Exact and "
                    "missing ones re-created.")
    trial_balance_basis: Literal["processed", "after_entry"] = Field(
        default="processed",
        description="Entries the trial-balance check counts on both sides: processed (Status "
                    "50) or after_entry (open 20 and processed 50, ReportingBalance's default).")
    trial_balance_opening_period: Literal["as_booked", "zero"] = Field(
        default="as_booked",
        description="Where opening-balance lines (Type 10) are expected in ReportingBalance: "
                    "the period they are booked in, or period 0 (Exact does not document it).")
    trial_balance_tolerance: Decimal = Field(
        default=Decimal("0.005"), ge=0,
        description="Largest difference per key still counted as equal (Exact sums doubles).")
    trial_balance_reread_min_interval_seconds: float = Field(
        default=3600.0, ge=0,
        description="The check reads ReportingBalance again for changed periods at most once "
                    "per data source in this time; checks in between report not checked.")
    trial_balance_reread_daily_share: float = Field(
        default=0.1, gt=0, le=1,
        description="Largest share of the calls left of the company's daily limit one "
                    "re-read of ReportingBalance may use; a larger one waits.")
