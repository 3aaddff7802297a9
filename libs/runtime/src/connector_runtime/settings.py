"""Settings every service shares: where Kafka and PostgreSQL are, and how to log.

``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` are read without a prefix so
one environment configures every service; each service adds its own
prefixed settings class on top (``AUTH_``, ``DATASOURCE_``, ``INGEST_``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connector_runtime.access import ApiClient
from connector_runtime.messaging.kafka_auth import KafkaAuth, Mechanism, Protocol


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
        description="Kafka bootstrap servers, comma separated.",
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/connector",
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description="PostgreSQL URL; each service uses its own schema in it.",
    )
    database_pool_size: int = Field(
        default=10, ge=1,
        validation_alias=AliasChoices("DATABASE_POOL_SIZE", "database_pool_size"),
        description="PostgreSQL connections one process (replica) keeps open.",
    )
    database_max_overflow: int = Field(
        default=10, ge=0,
        validation_alias=AliasChoices("DATABASE_MAX_OVERFLOW", "database_max_overflow"),
        description="Connections a replica may open beyond the pool under load; past "
        "pool + overflow a caller waits for a free one (back-pressure, not growth).",
    )
    kafka_security_protocol: Protocol = Field(
        default="PLAINTEXT",
        validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL", "kafka_security_protocol"),
        description="PLAINTEXT (development), SASL_PLAINTEXT or SASL_SSL (production).",
    )
    kafka_sasl_mechanism: Mechanism = Field(
        default="SCRAM-SHA-512",
        validation_alias=AliasChoices("KAFKA_SASL_MECHANISM", "kafka_sasl_mechanism"),
    )
    kafka_sasl_username: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_USERNAME", "kafka_sasl_username"),
        description="The service's own Kafka user; its ACLs say which topics it may use.",
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_PASSWORD", "kafka_sasl_password"),
    )
    kafka_partitions: int = Field(
        default=6,
        validation_alias=AliasChoices("KAFKA_PARTITIONS", "kafka_partitions"),
        description="Partitions of the topics a service creates when they are missing.",
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000,
        validation_alias=AliasChoices("KAFKA_SESSION_TIMEOUT_MS", "kafka_session_timeout_ms"),
        description="Consumer-group session timeout; a new consumer joins in about half of it.",
    )
    consumer_lag_interval_seconds: float = Field(
        default=15.0,
        ge=0,
        validation_alias=AliasChoices("CONSUMER_LAG_INTERVAL_SECONDS", "consumer_lag_interval_seconds"),
        description="How often consumer lag is read from the broker (0: never).",
    )
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level")
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        validation_alias=AliasChoices("LOG_FORMAT", "log_format"),
        description="auto: JSON unless writing to a terminal.",
    )
    http_host: str = "0.0.0.0"  # noqa: S104 - containers publish this port
    http_port: int = 8000
    internal_http_host: str = Field(
        default="127.0.0.1",
        description="Bind address of the internal listener (metrics, API docs and, for auth, "
        "the internal API); private by default.",
    )
    internal_http_port: int = 9000

    @property
    def kafka_auth(self) -> KafkaAuth:
        password = self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None
        return KafkaAuth(self.kafka_security_protocol, self.kafka_sasl_mechanism,
                         self.kafka_sasl_username, password)
    api_clients: tuple[ApiClient, ...] = Field(
        default=(),
        description="Callers of the service's API (JSON list of {name, token_sha256, scopes, "
        "company_domains}); none: every API call is refused.",
    )

    @model_validator(mode="after")
    def _two_connections_at_least(self) -> ServiceSettings:
        if self.database_pool_size + self.database_max_overflow < 2:
            raise ValueError("DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW must be at least 2: "
                             "the outbox relay holds one connection for its leader lock and "
                             "needs another to read the outbox")
        return self

