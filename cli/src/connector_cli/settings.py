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
    datasource_metrics_url: str = Field(
        default="http://127.0.0.1:9002",
        validation_alias=AliasChoices("CONNECTOR_DATASOURCE_METRICS_URL"),
        description="Datasource's internal listener (metrics are not on its public one).")
    ingest_url: str = Field(
        default="http://127.0.0.1:9003", validation_alias=AliasChoices("CONNECTOR_INGEST_URL"),
        description="Ingest's internal listener (metrics).")
    ingest_api_url: str = Field(
        default="http://127.0.0.1:8003", validation_alias=AliasChoices("CONNECTOR_INGEST_API_URL"),
        description="Ingest's public listener: its operator API (runs, webhook subscriptions).")
    auth_url: str = Field(
        default="http://127.0.0.1:9001", validation_alias=AliasChoices("CONNECTOR_AUTH_URL"),
        description="Auth's internal API (its internal listener); links are fetched only here.")
    internal_api_token: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("CONNECTOR_INTERNAL_API_TOKEN", "AUTH_INTERNAL_API_TOKEN"),
        description="The portal's token at auth's internal API (scope links).")
    datasource_api_token: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("CONNECTOR_DATASOURCE_API_TOKEN"),
        description="A caller's token at datasource's read API (scope read).")
