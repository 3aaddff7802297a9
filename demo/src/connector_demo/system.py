"""The whole connector on one machine, as separate processes, for the demo, e2e tests and benchmarks.

Each service runs as its own process (``exact-auth``, ``exact-datasource``,
``exact-ingest``), like in production; the Exact Online sandbox runs as a
process too and is reached only over HTTP. Kafka and PostgreSQL are the
embedded ones unless ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` are given.

Size: starting, waiting for and stopping the processes (the sandbox, each service and its
replicas, the example sink) with their ports and environment is one job; the parts only make
sense together.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from connector_runtime.access import token_sha256
from connector_runtime.devstack.embedded import EmbeddedKafka, EmbeddedPostgres, free_port
from connector_runtime.messaging.claims import new_key_pair

CLIENT_ID = "connector-demo-app"


class SystemStartError(RuntimeError):
    pass


@dataclass
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """As a crash would: no graceful shutdown."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Secrets:
    """Every key and caller token of the local system. ``internal_api_token`` is the portal's
    token at auth's internal API (links), ``ingest_api_token`` ingest's (access tokens),
    ``operator_api_token`` the CLI's and the tests' at the read APIs."""

    token_encryption_key: str
    link_signing_key: str
    internal_api_token: str
    client_secret: str
    ingest_api_token: str = ""
    operator_api_token: str = ""
    claim_signing_key: str = ""
    claim_verify_keys: str = ""

    @classmethod
    def load_or_create(cls, path: Path | None) -> Secrets:
        if path is not None and path.exists():
            values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
            made = cls(**values)
        else:
            made = cls(
                token_encryption_key=Fernet.generate_key().decode(),
                link_signing_key=secrets.token_urlsafe(32),
                internal_api_token=secrets.token_urlsafe(32),
                client_secret=secrets.token_urlsafe(24),
            )
        if not made.ingest_api_token:  # new in this version, or an older secrets file
            made.ingest_api_token = secrets.token_urlsafe(32)
            made.operator_api_token = secrets.token_urlsafe(32)
            made.claim_signing_key, made.claim_verify_keys = new_key_pair("k1")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{k}={v}\n" for k, v in made.__dict__.items()))
            path.chmod(0o600)
        return made


@dataclass
class LocalSystem:
    """Starts and stops everything; ``urls`` and ``env`` tell tools where things are."""

    work_dir: Path
    sandbox_args: list[str] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    persistent: bool = False
    session_timeout_ms: int = 3000
    with_sink: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    kafka: EmbeddedKafka | None = None
    postgres: EmbeddedPostgres | None = None
    bootstrap: str = ""
    database_url: str = ""

    def __post_init__(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for name in ("sandbox", "auth", "datasource", "ingest"):
            self.ports.setdefault(name, free_port())
        for name in ("auth", "datasource", "ingest"):
            self.ports.setdefault(f"{name}-internal", free_port())
        self.secrets = Secrets.load_or_create(
            self.work_dir / "secrets.env" if self.persistent else None)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def internal_url(self, name: str) -> str:
        """The service's internal listener: metrics, API docs, auth's internal API."""
        return f"http://127.0.0.1:{self.ports[f'{name}-internal']}"

    def bearer(self, caller: str) -> dict[str, str]:
        """Headers of a caller: ``portal`` (auth's links), ``ingest`` (auth's access tokens)
        or ``operator`` (datasource's and ingest's read APIs)."""
        token = {"portal": self.secrets.internal_api_token, "ingest": self.secrets.ingest_api_token,
                 "operator": self.secrets.operator_api_token}[caller]
        return {"Authorization": f"Bearer {token}"}

    def _clients(self, *callers: tuple[str, str, str]) -> str:
        return json.dumps([{"name": name, "token_sha256": token_sha256(token), "scopes": [scope]}
                           for name, token, scope in callers])

    @property
    def redirect_uri(self) -> str:
        return f"{self.url('auth')}/oauth/callback"

    def service_env(self) -> dict[str, str]:
        # PYTEST_CURRENT_TEST would make FastStream run as under test (no Received/Processed
        # or error logging): the processes run as in production
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AUTH_", "INGEST_", "DATASOURCE_")) and k != "PYTEST_CURRENT_TEST"}
        env.update({
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "DATABASE_URL": self.database_url,
            "KAFKA_SESSION_TIMEOUT_MS": str(self.session_timeout_ms),
            "KAFKA_PARTITIONS": "6",
            "LOG_FORMAT": "json",
            "EXACT_BASE_URL": self.url("sandbox"),
            "AUTH_HTTP_PORT": str(self.ports["auth"]),
            "AUTH_INTERNAL_HTTP_PORT": str(self.ports["auth-internal"]),
            "AUTH_PUBLIC_BASE_URL": self.url("auth"),
            "AUTH_INTERNAL_BASE_URL": self.internal_url("auth"),
            "AUTH_EXACT_CLIENT_ID": CLIENT_ID,
            "AUTH_EXACT_CLIENT_SECRET": self.secrets.client_secret,
            "AUTH_TOKEN_ENCRYPTION_KEY": self.secrets.token_encryption_key,
            "AUTH_LINK_SIGNING_KEY": self.secrets.link_signing_key,
            "AUTH_API_CLIENTS": self._clients(
                ("ingest", self.secrets.ingest_api_token, "access_tokens"),
                ("portal", self.secrets.internal_api_token, "links")),
            "DATASOURCE_HTTP_PORT": str(self.ports["datasource"]),
            "DATASOURCE_INTERNAL_HTTP_PORT": str(self.ports["datasource-internal"]),
            "DATASOURCE_API_CLIENTS": self._clients(
                ("operator", self.secrets.operator_api_token, "read")),
            "DATASOURCE_RUN_CLAIM_SIGNING_KEY": self.secrets.claim_signing_key,
            "INGEST_HTTP_PORT": str(self.ports["ingest"]),
            "INGEST_INTERNAL_HTTP_PORT": str(self.ports["ingest-internal"]),
            "INGEST_API_CLIENTS": self._clients(
                ("operator", self.secrets.operator_api_token, "runs")),
            "INGEST_AUTH_INTERNAL_URL": self.internal_url("auth"),
            "INGEST_AUTH_INTERNAL_TOKEN": self.secrets.ingest_api_token,
            "INGEST_RUN_CLAIM_VERIFY_KEYS": self.secrets.claim_verify_keys,
        })
        env.update(self.extra_env)
        return env

    def cli_env(self) -> dict[str, str]:
        """What the CLI needs (written to .data/demo.env by the demo)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "DATABASE_URL": self.database_url,
            "CONNECTOR_DATASOURCE_URL": self.url("datasource"),
            "CONNECTOR_AUTH_URL": self.internal_url("auth"),
            "CONNECTOR_INGEST_URL": self.internal_url("ingest"),
            "CONNECTOR_INGEST_API_URL": self.url("ingest"),
            "CONNECTOR_DATASOURCE_METRICS_URL": self.internal_url("datasource"),
            "CONNECTOR_INTERNAL_API_TOKEN": self.secrets.internal_api_token,
            "CONNECTOR_DATASOURCE_API_TOKEN": self.secrets.operator_api_token,
            "EXACT_SANDBOX_URL": self.url("sandbox"),
        }

    def start(self) -> LocalSystem:
        try:
            self._start_infra()
            self.start_sandbox()
            for name in ("datasource", "auth", "ingest"):
                self.start_service(name)
            for name in ("datasource", "auth", "ingest"):
                self.wait_ready(name)
            if self.with_sink:
                self.start_sink()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_infra(self) -> None:
        # given ones win (a proxy in front of the broker), then the environment's, then embedded
        self.bootstrap = self.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        self.database_url = self.database_url or os.environ.get("DATABASE_URL", "")
        if not self.bootstrap:
            self.kafka = EmbeddedKafka(log_dir=self.work_dir).start()
            self.bootstrap = self.kafka.bootstrap_servers
        if not self.database_url:
            pg_dir = self.work_dir / "pgdata" if self.persistent else None
            self.postgres = EmbeddedPostgres(data_dir=pg_dir).start()
            self.database_url = self.postgres.url

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None,
               url: str | None = None) -> Process:
        log = self.work_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own console scripts
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env or self.service_env(), start_new_session=True,
            )
        process = Process(name, proc, log, url)
        self.processes[name] = process
        return process

    def start_sandbox(self) -> None:
        args = [_script("exact-sandbox"), "--host", "127.0.0.1", "--port", str(self.ports["sandbox"]),
                "--app", f"{CLIENT_ID},{self.secrets.client_secret},{self.redirect_uri}",
                *self.sandbox_args]
        self._spawn("sandbox", args, url=self.url("sandbox"))
        self._wait_http("sandbox", "/_sandbox/stats")

    def start_service(self, name: str) -> Process:
        return self._spawn(name, [_script(f"exact-{name}")], url=self.url(name))

    def start_replica(self, name: str, service: str, port: int | None = None) -> Process:
        """Another process of ``service`` (e.g. a second auth) on its own HTTP port."""
        self.ports[name] = port or free_port()
        self.ports.setdefault(f"{name}-internal", free_port())
        env = self.service_env()
        env[f"{service.upper()}_HTTP_PORT"] = str(self.ports[name])
        env[f"{service.upper()}_INTERNAL_HTTP_PORT"] = str(self.ports[f"{name}-internal"])
        return self._spawn(name, [_script(f"exact-{service}")], env=env, url=self.url(name))

    def restart_service(self, name: str, kill: bool = False) -> None:
        process = self.processes[name]
        process.kill() if kill else process.stop()
        if name == "sink":  # no HTTP port: started is all there is to wait for
            self.start_sink()
            return
        self.start_service(name)
        self.wait_ready(name)

    def start_sink(self) -> None:
        env = self.service_env()
        self._spawn("sink", [_script("connector"), "sink", "run", "--bootstrap", self.bootstrap], env=env)

    def wait_ready(self, name: str, timeout: float = 90.0) -> None:
        self._wait_http(name, "/readyz", timeout)

    def _wait_http(self, name: str, path: str, timeout: float = 60.0) -> None:
        process = self.processes[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.alive():
                raise SystemStartError(f"{name} exited during start-up:\n{process.tail()}")
            try:
                if httpx.get(f"{self.url(name)}{path}", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemStartError(f"{name} was not ready within {timeout:.0f}s:\n{process.tail()}")

    def stop(self) -> None:
        known = ("sink", "ingest", "auth", "datasource", "sandbox")
        for name in [n for n in self.processes if n not in known] + list(known):
            if name in self.processes:
                self.processes[name].stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self.kafka is not None:
            self.kafka.stop()

    def __enter__(self) -> LocalSystem:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _script(name: str) -> str:
    """A console script of this environment (next to the running interpreter)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SystemStartError(f"{name} is not installed; run `uv sync`")
    return found
