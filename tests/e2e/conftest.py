"""One whole system per test module: its own embedded Kafka and PostgreSQL, or, on the
containers path or given addresses (``CONNECTOR_TEST_INFRA``, see connector_runtime.devstack.testing),
the session's broker and a fresh database on its server; the sandbox and the three services,
each in its own process, reached only over HTTP and Kafka."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector_cli.settings import CliSettings
from connector_demo.scenario import cli_settings
from connector_demo.system import LocalSystem
from connector_runtime.devstack.testing import Infra, infra_choice


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[LocalSystem]:
    marker = request.node.get_closest_marker("system")
    options = dict(marker.kwargs) if marker else {}
    work_dir: Path = tmp_path_factory.mktemp("system")
    shared: dict[str, str] = {}
    if infra_choice() == "containers" or os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        infra: Infra = request.getfixturevalue("infra")  # the session's broker, a fresh database
        shared = {"bootstrap": infra.kafka_bootstrap_servers,
                  "database_url": infra.fresh_database("system")}
    local = LocalSystem(
        bootstrap=shared.get("bootstrap", ""), database_url=shared.get("database_url", ""),
        work_dir=work_dir,
        sandbox_args=options.get("sandbox_args", ["--minutely-limit", "3000",
                                                  "--division-size", "300001=3000"]),
        extra_env=options.get("extra_env", {"INGEST_EXACT_MINUTELY_LIMIT": "3000"}),
        session_timeout_ms=2000,
    )
    local.start()
    yield local
    local.stop()
    artifacts = Path(".data/test-artifacts") / request.node.name
    artifacts.mkdir(parents=True, exist_ok=True)
    for process in local.processes.values():
        (artifacts / process.log.name).write_bytes(process.log.read_bytes())


@pytest.fixture(scope="module")
def cfg(system: LocalSystem) -> CliSettings:
    return cli_settings(system)
