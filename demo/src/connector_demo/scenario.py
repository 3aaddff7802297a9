"""The demo: the seed's story end to end, on the embedded stack.

1. A portal user creates an Exact Online data source in a new company domain and
   chooses "share a URL"; the link is shown.
2. An Exact Online administrator without an account with us opens the link, signs
   in to Exact Online (the sandbox) and approves.
3. The initial data run starts automatically; its progress is shown.
4. The example sink's copy is reconciled with the run's totals and with the
   figures the sandbox knows.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine

from connector_cli import api
from connector_cli.kafka_io import publish, watch
from connector_cli.progress import follow_run
from connector_cli.settings import CliSettings
from connector_demo.authorize import complete_authorization
from connector_demo.browser import Browser
from connector_demo.system import LocalSystem
from connector_runtime.testing import eventually
from contracts import (
    AUTH_EVENTS,
    DATASOURCE_COMMANDS,
    DATASOURCE_EVENTS,
    RUN_EVENTS,
    AuthorizationLinkIssued,
    CommandRejected,
    CreateDataSource,
    CreateDataSourcePayload,
    DataSourceConnected,
    Message,
    RunCompleted,
)
from ledger_sink.cli import print_checks, sandbox_expected, show_figures
from ledger_sink.reconcile import against_expected, against_last_run, figures

ADMIN = ("anna.admin@demo.nl", "demo-anna")
DIVISION = 100001


def cli_settings(system: LocalSystem) -> CliSettings:
    env = system.cli_env()
    return CliSettings(
        KAFKA_BOOTSTRAP_SERVERS=env["KAFKA_BOOTSTRAP_SERVERS"],
        CONNECTOR_DATASOURCE_URL=env["CONNECTOR_DATASOURCE_URL"],
        CONNECTOR_AUTH_URL=env["CONNECTOR_AUTH_URL"],
        CONNECTOR_INTERNAL_API_TOKEN=env["CONNECTOR_INTERNAL_API_TOKEN"],
    )


async def run_scenario(system: LocalSystem, console: Console) -> bool:
    cfg = cli_settings(system)
    datasource_id = uuid.uuid4()
    command = CreateDataSource.create(datasource_id=datasource_id, payload=CreateDataSourcePayload(
        new_company_domain_name="Demo Holding B.V.", authorization_mode="share",
        requested_by="portal-user@customer.example"))

    console.rule("1. The portal user creates an Exact Online data source (share a URL)")
    async with watch(cfg.kafka_bootstrap_servers, [AUTH_EVENTS, DATASOURCE_EVENTS, RUN_EVENTS],
                     datasource_id) as events:
        await publish(cfg.kafka_bootstrap_servers, DATASOURCE_COMMANDS, command)
        issued = await events.first(
            lambda m: isinstance(m, AuthorizationLinkIssued | CommandRejected), timeout=60)
        if not isinstance(issued, AuthorizationLinkIssued):
            console.print(f"[red]no authorization link: {issued}[/red]")
            return False
        link = await api.authorization_link(cfg, issued.payload.fetch_url)
        console.print(f"data source {datasource_id}: share this link with an Exact administrator:")
        console.print(f"  {link['url']}", soft_wrap=True)

        console.rule("2. The Exact Online administrator (no account with us) completes the link")
        browser = Browser()
        try:
            outcome = await complete_authorization(browser, link["url"], *ADMIN, division=DIVISION)
        finally:
            await browser.close()
        for step in outcome.steps:
            console.print(f"  page: {step}")
        connected = await events.first(lambda m: isinstance(m, DataSourceConnected), timeout=60)
        if connected is None:
            console.print(f"[red]not connected; last page said: {outcome.text[:400]}[/red]")
            return False
        assert isinstance(connected, DataSourceConnected)
        console.print(f"connected to division {connected.payload.division} "
                      f"({connected.payload.division_name})")

        console.rule("3. The initial data run starts automatically")
        final = await follow_run(events, console, None, timeout=3600)
    if not isinstance(final, RunCompleted):
        console.print("[red]the run did not complete[/red]")
        return False
    return await reconcile(system, console, datasource_id, final)


async def reconcile(system: LocalSystem, console: Console, datasource_id: uuid.UUID,
                    final: RunCompleted) -> bool:
    console.rule("4. Reconciliation of the example sink's copy")
    engine = create_async_engine(system.database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        async def sink_caught_up() -> bool:
            try:
                async with engine.connect() as conn:
                    checks = await against_last_run(conn, datasource_id)
            except ProgrammingError:
                return False  # the sink has not created its tables yet
            return bool(checks) and all(c.ok for c in checks)

        try:
            await eventually(sink_caught_up, timeout=120, interval=0.5)
        except AssertionError:
            console.print("[yellow]the sink has not caught up with the run yet[/yellow]")
        async with engine.connect() as conn:
            ours = await figures(conn, datasource_id)
            run_checks = await against_last_run(conn, datasource_id)
    finally:
        await engine.dispose()
    async with httpx.AsyncClient(timeout=60) as client:
        expected: dict[str, Any] = (
            await client.get(f"{system.url('sandbox')}/_sandbox/expected/{final.payload.division}")
        ).json()
    show_figures(ours)
    ok = print_checks("against RunCompleted", run_checks)
    ok = print_checks("against the sandbox's figures",
                      against_expected(ours, sandbox_expected(expected))) and ok
    periods = expected.get("entities", {}).get("TransactionLines", {}).get("by_period", [])
    if periods:
        table = Table(title="TransactionLines per financial year and period (sink vs sandbox)")
        for col in ("year", "period", "rows", "debit AmountDC (sink)", "debit AmountDC (sandbox)", "match"):
            table.add_column(col)
        mine = _per_period(ours)
        for p in periods:
            key = (p["financial_year"], p["financial_period"])
            have = mine.get(key)
            match = (have is not None and have.rows == p["count"]
                     and have.amount_dc_debit_sum == Decimal(p["sum_debit_dc"]))
            ok = ok and match
            table.add_row(str(key[0]), str(key[1]), str(p["count"]),
                          str(have.amount_dc_debit_sum if have else "-"), p["sum_debit_dc"],
                          "yes" if match else "[red]NO[/red]")
        console.print(table)
    return ok


def _per_period(ours: dict[Any, Any]) -> dict[tuple[int, int], Any]:
    from contracts import Entity

    return ours[Entity.TRANSACTION_LINES].per_period


def describe(message: Message) -> str:
    return f"{message.type} {message.payload}"
