"""Apache Kafka (KRaft) and PostgreSQL in Docker containers, for tests on real infrastructure.

The same shape as :mod:`connector_runtime.devstack.embedded` (``start()``/``stop()``,
``bootstrap_servers``/``url``), so the test fixtures switch between the two with one setting
(``CONNECTOR_TEST_INFRA``, see :mod:`connector_runtime.devstack.testing`). Unlike the embedded broker,
Apache Kafka has the idempotent producer and transactions; tests of those run here only.

Containers come from ``testcontainers`` (a development dependency) and need a reachable
Docker engine: :func:`docker_unavailable` says why there is none, in one line.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from connector_runtime.devstack.embedded import EmbeddedStartError, free_port

KAFKA_IMAGE = "apache/kafka:3.9.0"
"""Apache Kafka's own image, as docker-compose.yml runs it: one KRaft node (broker and controller)."""
POSTGRES_IMAGE = "postgres:17"
PG_USER = "postgres"
PG_PASSWORD = "postgres"  # a throwaway container on loopback
PG_DATABASE = "connector"


def docker_unavailable() -> str | None:
    """Why no Docker engine can be used (``None`` when one answers)."""
    try:
        import docker
    except ImportError:
        return "the testcontainers extra is not installed (uv sync installs the dev group)"
    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # the SDK raises DockerException, requests' or OS errors
        return f"no Docker engine reachable ({type(exc).__name__}: {str(exc)[:160]})"
    return None


def _generic(image: str) -> Any:
    from testcontainers.core.container import DockerContainer

    return DockerContainer(image)


@dataclass
class ContainerKafka:
    """Apache Kafka in KRaft mode, advertised on a fixed free loopback port of the host."""

    image: str = KAFKA_IMAGE
    port: int = field(default_factory=free_port)
    _container: Any = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> ContainerKafka:
        env = {
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{self.port}",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
            "KAFKA_MESSAGE_MAX_BYTES": "1048588",
        }
        container = _generic(self.image).with_bind_ports(9092, self.port)
        for key, value in env.items():
            container = container.with_env(key, value)
        self._container = container.start()
        self._wait_ready(time.monotonic() + timeout)
        return self

    def _wait_ready(self, deadline: float) -> None:
        import asyncio

        from aiokafka.admin import AIOKafkaAdminClient

        async def answers() -> None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, request_timeout_ms=3000)
            try:
                await admin.start()
                await admin.list_topics()
            finally:
                await admin.close()

        while True:
            try:
                asyncio.run(answers())
                return
            except Exception as exc:  # not up yet: connection refused, no metadata
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedStartError(f"Kafka container ({self.image}) did not answer: "
                                             f"{type(exc).__name__}") from exc
                time.sleep(0.5)

    def stop(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.stop()
            self._container = None


@dataclass
class ContainerPostgres:
    """PostgreSQL on a free loopback port of the host."""

    image: str = POSTGRES_IMAGE
    port: int = field(default_factory=free_port)
    _container: Any = None

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{self.port}/{PG_DATABASE}"

    def start(self, timeout: float = 90.0) -> ContainerPostgres:
        import psycopg

        container = (_generic(self.image).with_bind_ports(5432, self.port)
                     .with_env("POSTGRES_USER", PG_USER).with_env("POSTGRES_PASSWORD", PG_PASSWORD)
                     .with_env("POSTGRES_DB", PG_DATABASE)
                     .with_command("postgres -c fsync=off -c max_connections=200"))
        self._container = container.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return self
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedStartError(f"PostgreSQL container did not accept connections: "
                                             f"{exc}") from exc
                time.sleep(0.3)

    def stop(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.stop()
            self._container = None
