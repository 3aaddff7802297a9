"""Settings of the auth service (environment variables prefixed AUTH_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from connector_runtime.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", frozen=True)

    http_port: int = 8001
