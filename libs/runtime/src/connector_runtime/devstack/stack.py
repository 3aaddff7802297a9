"""``connector-stack``: run the embedded broker and database in the foreground.

Environment variables win: with ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL``
set, nothing is started for them and the given addresses are reported.
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

from connector_runtime.devstack.embedded import EmbeddedKafka, EmbeddedPostgres, EmbeddedStartError
from connector_runtime.messaging.broker import ensure_topics
from contracts import ALL_TOPICS

app = typer.Typer(add_completion=False, help=__doc__)
console = Console()


@app.command()
def up(
    data_dir: Path = typer.Option(Path(".data"), help="Where PostgreSQL keeps its data."),
    partitions: int = typer.Option(6, help="Partitions per topic."),
) -> None:
    """Start Kafka and PostgreSQL (embedded unless given), create the topics, wait for Ctrl-C."""
    kafka: EmbeddedKafka | None = None
    pg: EmbeddedPostgres | None = None
    try:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        database_url = os.environ.get("DATABASE_URL")
        if not bootstrap:
            kafka = EmbeddedKafka(log_dir=data_dir.resolve()).start()
            bootstrap = kafka.bootstrap_servers
        if not database_url:
            pg = EmbeddedPostgres(data_dir=data_dir.resolve() / "pgdata").start()
            database_url = pg.url
        asyncio.run(ensure_topics(bootstrap, ALL_TOPICS, partitions))
    except (EmbeddedStartError, RuntimeError) as exc:
        console.print(f"[red]could not start the stack:[/red] {exc}")
        _stop(kafka, pg)
        raise typer.Exit(1) from exc
    table = Table(title="Embedded stack")
    table.add_column("part")
    table.add_column("listens on")
    table.add_row("Kafka (tansu)" if kafka else "Kafka (from environment)", bootstrap)
    table.add_row("PostgreSQL" if pg else "PostgreSQL (from environment)", database_url)
    table.add_row("topics", ", ".join(t for t in ALL_TOPICS if not t.endswith(".dlq")) + " (+ .dlq)")
    console.print(table)
    console.print(f"export KAFKA_BOOTSTRAP_SERVERS={bootstrap} DATABASE_URL={database_url}")
    console.print("Press Ctrl-C to stop.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        _stop(kafka, pg)
        console.print("stopped")


def _stop(kafka: EmbeddedKafka | None, pg: EmbeddedPostgres | None) -> None:
    if pg is not None:
        pg.stop()
    if kafka is not None:
        kafka.stop()


if __name__ == "__main__":
    app()
