"""Where the CLI finds Kafka and the services. ``make demo`` writes ``.data/demo.env``."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".data/demo.env", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS"))
    datasource_url: str = Field(
        default="http://127.0.0.1:8002", validation_alias=AliasChoices("CONNECTOR_DATASOURCE_URL"))
    ingest_url: str = Field(
        default="http://127.0.0.1:8003", validation_alias=AliasChoices("CONNECTOR_INGEST_URL"))
    auth_url: str = Field(
        default="http://127.0.0.1:8001", validation_alias=AliasChoices("CONNECTOR_AUTH_URL"))
    internal_api_token: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("CONNECTOR_INTERNAL_API_TOKEN", "AUTH_INTERNAL_API_TOKEN"))
