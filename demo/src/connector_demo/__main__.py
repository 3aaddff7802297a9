"""make demo: the whole connector on the embedded stack, and the seed's story end to end.

Starts Kafka and PostgreSQL (embedded unless given by environment), the Exact
Online sandbox, the auth, datasource and ingest services and the example sink,
each as its own process; runs the scenario (see scenario.py); stops everything
it started. The last line is `demo: OK ...` or `demo: FAILED <reason>`.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from connector_demo.scenario import EVA, run_scenario
from connector_demo.system import LocalSystem, SystemStartError

console = Console()
cli = typer.Typer(add_completion=False, help=__doc__)


@cli.command()
def demo(
    data_dir: Path = typer.Option(Path(".data/demo"), help="Where PostgreSQL data, logs and keys live."),
    rows: int = typer.Option(100_000, help="TransactionLines of the demo company in the sandbox."),
    real_limits: bool = typer.Option(
        False, help="Exact's real limits (60 calls/min per company): the run then takes minutes."),
    minutely_limit: int = typer.Option(3000, help="Calls per minute per company when not --real-limits."),
    keep_running: bool = typer.Option(False, help="Keep everything up after the scenario (Ctrl-C stops)."),
) -> None:
    started = time.monotonic()
    limit = 60 if real_limits else minutely_limit
    data_dir = data_dir.resolve()
    system = LocalSystem(
        work_dir=data_dir, persistent=True,
        ports={"sandbox": 8765, "auth": 8001, "datasource": 8002, "ingest": 8003},
        sandbox_args=["--division-size", f"{EVA.division}={rows}", "--minutely-limit", str(limit)],
        extra_env={"INGEST_EXACT_MINUTELY_LIMIT": str(limit)},
    )
    # SIGTERM stops like Ctrl-C, so everything started is stopped either way.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    reason = ""
    result = None
    try:
        console.rule("Starting the Exact Online connector")
        system.start()
        _write_cli_env(system, data_dir)
        _show_parts(system, data_dir)
        result = asyncio.run(run_scenario(system, console, real_limits=real_limits))
        reason = result.reason
        if result.ok and keep_running:
            _wait_for_ctrl_c()
    except SystemStartError as exc:
        reason = f"start-up: {exc}".splitlines()[0]
    except KeyboardInterrupt:
        reason = reason or "interrupted"
    finally:
        console.print("stopping everything the demo started …")
        system.stop()
    seconds = time.monotonic() - started
    if result is not None and result.ok:
        console.print(f"demo: OK rows={result.rows} run_seconds={result.run_seconds:.1f} "
                      f"exact_calls={result.calls} responses_429={result.responses_429} "
                      f"total_seconds={seconds:.1f}")
        return
    console.print(f"demo: FAILED {reason or 'see the output above'}")
    raise typer.Exit(1)


def _write_cli_env(system: LocalSystem, data_dir: Path) -> None:
    # The CLI reads .data/demo.env, so `uv run connector ...` finds this system.
    for path in (data_dir / "demo.env", Path(".data/demo.env")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in system.cli_env().items()))
        path.chmod(0o600)


def _show_parts(system: LocalSystem, data_dir: Path) -> None:
    table = Table(title="Running")
    table.add_column("part")
    table.add_column("where")
    table.add_row("Kafka", system.bootstrap)
    table.add_row("PostgreSQL", system.database_url)
    table.add_row("Exact Online sandbox", system.url("sandbox"))
    for name in ("auth", "datasource", "ingest"):
        table.add_row(f"{name} service", system.url(name) + "  (/healthz /readyz)  internal: "
                      + system.internal_url(name) + "  (/metrics /docs)")
    table.add_row("example ledger sink", "consumer group ledger-sink")
    table.add_row("logs", str(data_dir / "*.log"))
    console.print(table)


def _wait_for_ctrl_c() -> None:
    console.print("Everything keeps running; in another terminal try:\n"
                  "  uv run connector list\n"
                  "  uv run connector create --new-domain 'My company' --mode share\n"
                  "Press Ctrl-C to stop.")
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
