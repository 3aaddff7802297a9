"""Settings of the datasource service (environment variables prefixed DATASOURCE_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connector_runtime.settings import ServiceSettings


class DatasourceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DATASOURCE_", extra="ignore", frozen=True)

    http_port: int = 8002
    internal_http_port: int = 9002
    run_claim_signing_key: SecretStr = Field(
        description="KEY_ID:BASE64 Ed25519 private key that signs the grant claim of run "
        "requests and recreate decisions (python -m connector_runtime.messaging.claims KEY_ID).")
    group_id: str = Field(
        default="exact-datasource",
        description="Prefix of the consumer groups (<group_id>.commands, .auth-events, .run-events).",
    )
    unverified_company_policy: Literal["notify", "confirm"] = Field(
        default="notify",
        description="When no expected company was named: notify (connect, start the run and "
        "tell the portal who connected which company; DisownConnection undoes it) or confirm "
        "(the initial run waits for ConfirmConnection).",
    )
