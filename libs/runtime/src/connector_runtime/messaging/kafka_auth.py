"""How the services authenticate to Kafka: nothing (the embedded broker, development) or
SASL/SCRAM, optionally over TLS (production, see deploy/kafka-security.md).

Every Kafka client a service opens (the FastStream broker, the outbox relay's producer, the
admin client that creates topics, the lag monitor's consumers, ingest's batch producer) takes
its options from one :class:`KafkaAuth`, built from the settings.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

from faststream.security import BaseSecurity, SASLScram256, SASLScram512

Protocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class KafkaAuth:
    protocol: Protocol = "PLAINTEXT"
    mechanism: Mechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.protocol != "PLAINTEXT" and not (self.username and self.password):
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs "
                             "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of aiokafka's producers, consumers and admin client."""
        if self.protocol == "PLAINTEXT":
            return {}
        options: dict[str, Any] = {"security_protocol": self.protocol,
                                   "sasl_mechanism": self.mechanism,
                                   "sasl_plain_username": self.username,
                                   "sasl_plain_password": self.password}
        if self.protocol == "SASL_SSL":
            options["ssl_context"] = ssl.create_default_context()
        return options

    def broker_security(self) -> BaseSecurity | None:
        """The same for FastStream's KafkaBroker."""
        if self.protocol == "PLAINTEXT":
            return None
        cls = SASLScram512 if self.mechanism == "SCRAM-SHA-512" else SASLScram256
        use_ssl = self.protocol == "SASL_SSL"
        return cls(str(self.username), str(self.password),
                   ssl_context=ssl.create_default_context() if use_ssl else None, use_ssl=use_ssl)


PLAINTEXT = KafkaAuth()
