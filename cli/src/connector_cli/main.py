"""connector: the one operator command line - the portal backend's commands and the operators'
tools, from a terminal.

Commands are published to Kafka exactly as the portal backend publishes them;
state is read from the datasource service's read API; runs are followed from
RunProgress events. Sub-command groups: ``dlq`` (dead letters) and ``sink`` (the example
ledger sink: run it, reconcile it, its own trial balance).

Size: one short typer command per top-level sub-command and the table printing they share;
the work itself is in the neighbouring modules (``dlq``, ``replay``, ``status``, ...), so this
stays the one place the command line is defined.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any, cast

import typer
from rich.console import Console
from rich.table import Table

from connector_cli import api, connection, dlq_cmd, readside, run_plan, status
from connector_cli import replay as replay_io
from connector_cli import trial_balance as trial
from connector_cli.kafka_io import publish, watch
from connector_cli.progress import follow_run
from connector_cli.settings import CliSettings
from contracts import (
    AUTH_EVENTS,
    DATASOURCE_COMMANDS,
    DATASOURCE_EVENTS,
    RUN_EVENTS,
    AuthorizationLinkIssued,
    AuthorizationMode,
    CommandRejected,
    CreateDataSource,
    CreateDataSourcePayload,
    Entity,
    Message,
    RecreateDataSource,
    RecreateDataSourcePayload,
    RequestReimport,
    RequestReimportPayload,
    RunCompleted,
)
from ledger_sink.cli import app as sink_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()
app.add_typer(dlq_cmd.app, name="dlq")
app.add_typer(sink_app, name="sink",
              help="The example ledger sink: run it, reconcile it, its trial balance.")


def settings() -> CliSettings:
    return CliSettings()


readside.register(app, settings)
run_plan.register(app, settings)


async def _send_and_wait_for_link(cfg: CliSettings, command: Message, timeout: float) -> None:
    async with watch(cfg.kafka_bootstrap_servers, [AUTH_EVENTS, DATASOURCE_EVENTS],
                     command.datasource_id) as events:
        await publish(cfg.kafka_bootstrap_servers, DATASOURCE_COMMANDS, command)
        console.print(f"published {command.type} for data source [bold]{command.datasource_id}[/bold]")
        answer = await events.first(
            lambda m: isinstance(m, AuthorizationLinkIssued | CommandRejected), timeout)
    if answer is None:
        console.print(f"[yellow]no answer within {timeout:.0f}s; check `connector show`[/yellow]")
        raise typer.Exit(2)
    if isinstance(answer, CommandRejected):
        console.print(f"[red]rejected ({answer.payload.reason_code}):[/red] {answer.payload.reason}")
        raise typer.Exit(1)
    assert isinstance(answer, AuthorizationLinkIssued)
    link = await api.authorization_link(cfg, answer.payload.fetch_url)
    who = ("sign in to Exact Online yourself" if answer.payload.mode == "self"
           else "send this link to an administrator of the Exact Online company")
    console.print(f"Authorization link ({who}), valid until {link['expires_at']}:")
    console.print(link["url"], soft_wrap=True)


MODE = typer.Option("self", help="self: sign in yourself; share: a link for an Exact admin.")
BY = typer.Option("cli-user", help="Who asks (portal user).")
TIMEOUT = typer.Option(30.0, help="Seconds to wait for the authorization link.")


def _mode(mode: str) -> AuthorizationMode:
    if mode not in ("self", "share"):
        raise typer.BadParameter("mode is self or share")
    return cast(AuthorizationMode, mode)


@app.command()
def create(
    new_domain: str | None = typer.Option(None, help="Create a new company domain with this name."),
    domain_id: uuid.UUID | None = typer.Option(None, help="Add to this existing company domain."),
    mode: str = MODE,
    by: str = BY,
    timeout: float = TIMEOUT,
    expect_division: int | None = connection.EXPECT_DIVISION,
    expect_vat: str | None = connection.EXPECT_VAT,
) -> None:
    """Create an Exact Online data source and print its authorization link."""
    try:
        payload = CreateDataSourcePayload(
            company_domain_id=domain_id, new_company_domain_name=new_domain,
            authorization_mode=_mode(mode), requested_by=by,
            expected_company=connection.expected_company(expect_division, expect_vat),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    command = CreateDataSource.create(datasource_id=uuid.uuid4(), payload=payload)
    asyncio.run(_send_and_wait_for_link(settings(), command, timeout))


@app.command()
def recreate(
    datasource_id: uuid.UUID,
    mode: str = MODE,
    by: str = BY,
    timeout: float = TIMEOUT,
    expect_division: int | None = connection.EXPECT_DIVISION,
    expect_vat: str | None = connection.EXPECT_VAT,
) -> None:
    """Reconnect a data source (same Exact company required) and print the link."""
    command = RecreateDataSource.create(
        datasource_id=datasource_id,
        payload=RecreateDataSourcePayload(
            authorization_mode=_mode(mode), requested_by=by,
            expected_company=connection.expected_company(expect_division, expect_vat)),
    )
    asyncio.run(_send_and_wait_for_link(settings(), command, timeout))


@app.command()
def reimport(
    datasource_id: uuid.UUID,
    entity: list[Entity] = typer.Option(None, help="Entities to import again (default: all)."),
    date_from: dt.datetime | None = typer.Option(None, "--from", formats=["%Y-%m-%d"]),
    date_to: dt.datetime | None = typer.Option(None, "--to", formats=["%Y-%m-%d"]),
    by: str = typer.Option("cli-user"),
    follow: bool = typer.Option(True, help="Follow the run until it ends."),
) -> None:
    """Request a forced re-import of a connected data source."""
    cfg = settings()
    command = RequestReimport.create(datasource_id=datasource_id, payload=RequestReimportPayload(
        entities=tuple(entity) if entity else None,
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
        requested_by=by,
    ))

    async def run() -> None:
        async with watch(cfg.kafka_bootstrap_servers, [RUN_EVENTS, DATASOURCE_EVENTS],
                         datasource_id) as events:
            await publish(cfg.kafka_bootstrap_servers, DATASOURCE_COMMANDS, command)
            console.print(f"published RequestReimport for {datasource_id}")
            if follow:
                final = await follow_run(events, console, None)
                _print_final(final)

    asyncio.run(run())


@app.command("follow")
def follow_cmd(
    datasource_id: uuid.UUID,
    run_id: uuid.UUID | None = typer.Option(None, help="Follow this run (default: the next/current one)."),
    from_beginning: bool = typer.Option(False, help="Replay the run's events from the topic start."),
    timeout: float | None = typer.Option(None),
) -> None:
    """Follow a run with progress bars (rows and pages per entity, ETA from the rate budget)."""
    cfg = settings()

    async def run() -> None:
        async with watch(cfg.kafka_bootstrap_servers, [RUN_EVENTS], datasource_id,
                         from_beginning=from_beginning) as events:
            _print_final(await follow_run(events, console, run_id, timeout))

    asyncio.run(run())


def _print_final(final: Message | None) -> None:
    if isinstance(final, RunCompleted):
        table = Table(title=f"Run {final.payload.run_id} completed in {final.payload.duration_seconds:.1f}s")
        for col in ("entity", "rows", "pages", "sum AmountDC", "id hash"):
            table.add_column(col)
        for t in final.payload.totals:
            table.add_row(t.entity.value, f"{t.rows:,}", str(t.pages),
                          "" if t.amount_dc_sum is None else str(t.amount_dc_sum), t.id_hash)
        console.print(table)
        console.print(f"{final.payload.calls_used} Exact API calls, {final.payload.batches} batches")
        for f in final.payload.failed_entities:
            console.print(f"[yellow]not imported: {f.entity} ({f.reason_code}): {f.reason}; the "
                          "next sync tries again[/yellow]")
        for d in final.payload.dropped_fields:
            console.print(f"[yellow]Exact no longer knows {d.endpoint} field {d.field}: "
                          "imported without it (null)[/yellow]")


@app.command("trial-balance")
def trial_balance_cmd(
    datasource_id: uuid.UUID,
    run_id: uuid.UUID | None = typer.Option(None, help="This run (default: the newest checked)."),
) -> None:
    """A run's trial-balance check: the ledger streamed against Exact's ReportingBalance."""
    data = asyncio.run(api.datasource(settings(), datasource_id))
    runs = [r for r in data.get("runs", []) if r.get("trial_balance")
            and (run_id is None or r["run_id"] == str(run_id))]
    if not runs:
        console.print("no checked run found")
        raise typer.Exit(1)
    if not trial.print_check(console, runs[0]):
        raise typer.Exit(1)


@app.command("status")
def status_cmd(as_json: bool = typer.Option(False, "--json", help="One JSON document, for scripts.")
               ) -> None:
    """The system at a glance: data sources, consumer lag, dead letters, Exact budget, grants."""
    data = asyncio.run(status.gather(settings()))
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        status.render(data, console)
    if data["errors"]:
        raise typer.Exit(1)


@app.command()
def webhooks(datasource_id: uuid.UUID, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show the data source's Exact webhook subscriptions (topic, state, last check, error)."""
    data = asyncio.run(api.webhooks(settings(), datasource_id))
    if as_json:
        console.print_json(json.dumps(data))
        return
    listening = "on" if data.get("listener") else "off (INGEST_WEBHOOK_SECRET not set)"
    console.print(f"webhook listener: {listening}")
    _print_rows(data.get("subscriptions", []), "Webhook subscriptions")


@app.command()
def replay(
    datasource_id: uuid.UUID,
    since: dt.datetime | None = typer.Option(None, help="From this time (ISO 8601; UTC if no zone)."),
    offset: int | None = typer.Option(None, help="From this offset of the data source's partition."),
    group: str | None = typer.Option(None, help="Rewind this (stopped) consumer group."),
    to_topic: str | None = typer.Option(None, help="Or copy the messages into this topic."),
) -> None:
    """Replay one data source's ledger events from a time or offset (see docs/operations.md)."""
    if (since is None) == (offset is None) or (group is None) == (to_topic is None):
        raise typer.BadParameter("give one of --since/--offset and one of --group/--to-topic")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    cfg = settings()
    try:
        if group is not None:
            start = asyncio.run(replay_io.rewind_group(cfg.kafka_bootstrap_servers, group,
                                                       datasource_id, since=since, offset=offset))
            console.print(f"group {group} re-reads partition {start.partition} from offset "
                          f"{start.offset} (end {start.end_offset})")
        else:
            copied = asyncio.run(replay_io.republish(cfg.kafka_bootstrap_servers, datasource_id,
                                                     str(to_topic), since=since, offset=offset))
            console.print(f"copied {copied} messages of {datasource_id} to {to_topic}")
    except replay_io.ReplayError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


def _print_rows(rows: Any, title: str) -> None:
    if isinstance(rows, dict):
        rows = next((v for v in rows.values() if isinstance(v, list)), [rows])
    if not rows:
        console.print(f"{title}: none")
        return
    columns = [k for k in rows[0] if not isinstance(rows[0][k], dict | list)]
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(_cell(row.get(col)) for col in columns))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)[:120]
    return str(value)


app.command()(connection.confirm)
app.command()(connection.disown)


@app.callback()
def main() -> None:
    """Exact Online connector: portal commands and operator tools."""


def run() -> None:
    try:
        app()
    except api.ServiceError as exc:
        console.print(f"[red]{exc}[/red]")
        raise SystemExit(1) from exc
