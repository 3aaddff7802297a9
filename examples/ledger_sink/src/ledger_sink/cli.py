"""``connector sink``: run the example sink, or print a data source's reconciliation report."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import create_async_engine

from contracts import Entity
from ledger_sink.consumer import LedgerSink
from ledger_sink.reconcile import Check, against_expected, against_last_run, figures
from ledger_sink.store import SCHEMA, in_schema
from ledger_sink.trial_balance import TrialBalanceReport, trial_balance

app = typer.Typer(add_completion=False, help=__doc__)
console = Console()


def _engine_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/connector")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@app.command()
def run(
    bootstrap: str = typer.Option(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")),
    group_id: str = typer.Option("ledger-sink"),
    schema: str = typer.Option(SCHEMA, help="PostgreSQL schema of the store (a rebuild uses a new one)"),
) -> None:
    """Consume LedgerBatch and RunCompleted events into PostgreSQL until stopped."""

    async def main() -> None:
        engine = create_async_engine(_engine_url())
        sink = LedgerSink(engine, bootstrap, group_id=group_id, schema=schema)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, sink.stop)
        try:
            await sink.run()
        finally:
            await engine.dispose()

    asyncio.run(main())


@app.command()
def report(
    datasource_id: uuid.UUID,
    expected_url: str | None = typer.Option(
        None, help="URL of externally known figures, e.g. the sandbox's /_sandbox/expected/{division}"),
    schema: str = typer.Option(SCHEMA, help="PostgreSQL schema of the store"),
) -> None:
    """Reconcile what the sink holds for a data source with its last run (and expected figures)."""

    async def main() -> bool:
        engine = create_async_engine(_engine_url())
        try:
            async with in_schema(engine, schema).connect() as conn:
                ours = await figures(conn, datasource_id)
                checks = await against_last_run(conn, datasource_id)
        finally:
            await engine.dispose()
        show_figures(ours)
        ok = print_checks("against the last RunCompleted", checks)
        if expected_url:
            async with httpx.AsyncClient(timeout=30) as client:
                expected = (await client.get(expected_url)).json()
            checks = against_expected(ours, sandbox_expected(expected))
            ok = print_checks("against expected figures", checks) and ok
        return ok

    if not asyncio.run(main()):
        raise typer.Exit(1)


@app.command("trial-balance")
def trial_balance_cmd(
    datasource_id: uuid.UUID,
    basis: str = typer.Option("processed", help="processed (Status 50) or after_entry (20 and 50)"),
    opening_period: str = typer.Option("as_booked", help="as_booked or zero: where opening "
                                       "balances (Type 10) are expected in ReportingBalance"),
    show_all: bool = typer.Option(False, "--all", help="Every key, not only the differing ones"),
    schema: str = typer.Option(SCHEMA, help="PostgreSQL schema of the store"),
) -> None:
    """The trial balance from the sink's TransactionLines against its ReportingBalance rows."""
    if basis not in ("processed", "after_entry") or opening_period not in ("as_booked", "zero"):
        raise typer.BadParameter("basis: processed|after_entry; opening-period: as_booked|zero")

    async def main() -> TrialBalanceReport:
        engine = create_async_engine(_engine_url())
        try:
            async with in_schema(engine, schema).connect() as conn:
                return await trial_balance(conn, datasource_id, basis=basis,  # type: ignore[arg-type]
                                           opening_period=opening_period)  # type: ignore[arg-type]
        finally:
            await engine.dispose()

    report = asyncio.run(main())
    if not print_trial_balance(report, show_all):
        raise typer.Exit(1)


def print_trial_balance(report: TrialBalanceReport, show_all: bool = False,
                        out: Console | None = None, title: str | None = None) -> bool:
    """Print the report; True when every key matches."""
    out = out or console
    shown = report.keys if show_all else report.differing
    table = Table(title=title or "Trial balance: TransactionLines vs ReportingBalance "
                  f"({'every key' if show_all else 'differing keys'})")
    for col in ("year", "period", "G/L account", "ledger (AmountDC)", "Exact (Amount)",
                "difference", "match"):
        table.add_column(col, justify="right")
    for k in shown:
        ok = report.matches(k)
        table.add_row(str(k.year), str(k.period), k.gl_account_code, f"{k.ledger:,.2f}",
                      f"{k.exact:,.2f}", f"{k.difference:,.2f}",
                      "[green]yes[/green]" if ok else "[red]NO[/red]")
    if shown:
        out.print(table)
    matching = len(report.keys) - len(report.differing)
    share = f"{100 * matching / len(report.keys):.1f}%" if report.keys else "-"
    out.print(f"trial balance: {matching:,} of {len(report.keys):,} keys (year, period, "
              f"G/L account) match ({share}); total absolute difference "
              f"{report.total_abs_difference:,.2f}")
    return bool(report.keys) and not report.differing


def sandbox_expected(raw: dict[str, Any]) -> dict[str, Any]:
    """The sandbox's expected-figures document, in the sink's terms."""
    out: dict[str, Any] = {}
    for name, fig in raw.get("entities", raw).items():
        if not isinstance(fig, dict):
            continue
        entry: dict[str, Any] = {"rows": fig.get("count"), "id_hash": fig.get("id_hash")}
        if "sum_amount_dc" in fig:
            entry["amount_dc_sum"] = fig["sum_amount_dc"]
        if "sum_debit_dc" in fig:
            entry["amount_dc_debit_sum"] = fig["sum_debit_dc"]
        out[name] = {k: v for k, v in entry.items() if v is not None}
    return out


def show_figures(ours: dict[Entity, Any]) -> None:
    table = Table(title="Stored figures")
    for col in ("entity", "rows", "sum AmountDC", "id hash"):
        table.add_column(col)
    for entity, fig in ours.items():
        table.add_row(entity.value, str(fig.rows),
                      "" if fig.amount_dc_sum is None else str(fig.amount_dc_sum), fig.id_hash)
    console.print(table)


def print_checks(title: str, checks: list[Check]) -> bool:
    table = Table(title=f"Reconciliation {title}")
    for col in ("entity", "figure", "sink", "source", "match"):
        table.add_column(col)
    for check in checks:
        table.add_row(check.entity.value, check.figure, str(check.ours), str(check.theirs),
                      "[green]yes[/green]" if check.ok else "[red]NO[/red]")
    console.print(table)
    return all(c.ok for c in checks) and bool(checks)
