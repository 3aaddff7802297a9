"""Settings of the ingest service (environment variables prefixed INGEST_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from connector_runtime.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore", frozen=True)

    http_port: int = 8003
