"""``make demo``: the whole connector on the embedded stack, and the seed's story end to end.

Starts Kafka and PostgreSQL (embedded unless given by environment), the Exact
Online sandbox, the auth, datasource and ingest services and the example sink,
each as its own process; runs the scenario; then keeps everything up for the
CLI (``uv run exact-connector --help``) until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from connector_demo.scenario import DIVISION, run_scenario
from connector_demo.system import LocalSystem, SystemStartError

console = Console()
cli = typer.Typer(add_completion=False, help=__doc__)


@cli.command()
def demo(
    data_dir: Path = typer.Option(Path(".data"), help="Where PostgreSQL data, logs and keys live."),
    rows: int = typer.Option(20_000, help="TransactionLines of the demo company in the sandbox."),
    minutely_limit: int = typer.Option(60, help="Exact's per-company calls per minute (real: 60)."),
    keep_running: bool = typer.Option(True, help="Keep the system up after the scenario."),
) -> None:
    data_dir = data_dir.resolve()
    ports = {"sandbox": 8765, "auth": 8001, "datasource": 8002, "ingest": 8003}
    system = LocalSystem(
        work_dir=data_dir, persistent=True, ports=ports,
        sandbox_args=["--division-size", f"{DIVISION}={rows}", "--minutely-limit", str(minutely_limit)],
    )
    console.rule("Starting the Exact Online connector")
    try:
        system.start()
    except SystemStartError as exc:
        console.print(f"[red]{exc}[/red]")
        system.stop()
        raise typer.Exit(1) from exc
    env_file = data_dir / "demo.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in system.cli_env().items()))
    env_file.chmod(0o600)
    table = Table(title="Running")
    table.add_column("part")
    table.add_column("where")
    table.add_row("Kafka", system.bootstrap)
    table.add_row("PostgreSQL", system.database_url)
    table.add_row("Exact Online sandbox", system.url("sandbox"))
    for name in ("auth", "datasource", "ingest"):
        table.add_row(f"{name} service", system.url(name) + "  (/healthz /readyz /metrics)")
    table.add_row("logs", str(data_dir / "*.log"))
    console.print(table)
    ok = False
    try:
        ok = asyncio.run(run_scenario(system, console))
        console.rule("[green]Demo complete[/green]" if ok else "[red]Demo finished with problems[/red]")
        if keep_running and os.environ.get("CI") != "true":
            console.print("The system keeps running. In another terminal try:\n"
                          "  uv run exact-connector list\n"
                          "  uv run exact-connector create --new-domain 'My company' --mode self\n"
                          "  uv run exact-connector show <datasource-id>\n"
                          "Sandbox users: see sandbox/exact/README.md (e.g. anna.admin@demo.nl / demo-anna)\n"
                          "Press Ctrl-C to stop.")
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping …")
        system.stop()
    if not ok:
        raise typer.Exit(1)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
