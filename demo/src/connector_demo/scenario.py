"""The demo: the seed's story end to end, on the embedded stack.

1. A portal user creates an Exact Online data source in a new company domain and
   chooses "I want to do it myself": the script signs in to Exact Online (the
   sandbox's real sign-in and consent pages) as an administrator and picks the company.
2. A second data source is created with "share a URL"; its link is printed for a
   person to open in a browser.
3. The initial data run starts automatically; progress bars follow it.
4. The example sink's copy is reconciled with the run's totals and with the
   figures the sandbox knows.
5. The trial balance: the connector's check of the ledger against Exact's own
   ReportingBalance, and the same trial balance computed by the example sink.
6. Recreate with the same company: accepted. Recreate with another company:
   rejected, and the data source is unchanged.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine

from connector_cli import api
from connector_cli.kafka_io import watch
from connector_cli.progress import follow_run
from connector_cli.settings import CliSettings
from connector_demo.authorize import complete_authorization
from connector_demo.browser import Browser
from connector_demo.flows import FlowError, create_command, expect, recreate_command, send_for_link
from connector_demo.sandbox_counts import access_mark, count_calls, rate_limit_failure
from connector_demo.system import LocalSystem
from connector_demo.trial_balance import show_trial_balance
from connector_runtime.devstack.testing import eventually
from contracts import (
    AUTH_EVENTS,
    DATASOURCE_EVENTS,
    INGEST_REQUESTS,
    RUN_EVENTS,
    DataSourceConnected,
    Entity,
    RecreateAccepted,
    RecreateRejected,
    RunCompleted,
)
from exact_sandbox.client import SandboxAdmin
from ledger_sink.cli import print_checks, sandbox_expected, show_figures
from ledger_sink.reconcile import against_expected, against_last_run, figures

TOPICS = [AUTH_EVENTS, DATASOURCE_EVENTS, INGEST_REQUESTS, RUN_EVENTS]


@dataclass(frozen=True)
class Admin:
    username: str
    password: str
    division: int
    other_division: int


EVA = Admin("eva.large@demo.nl", "demo-eva", 300001, 300002)
"""Administrator of Grootboek Data B.V. (300001) and Grootboek Archief B.V. (300002)."""


@dataclass
class DemoResult:
    ok: bool = False
    reason: str = ""
    datasource_id: uuid.UUID | None = None
    rows: int = 0
    run_seconds: float = 0.0
    calls: int = 0
    """The run's calls as the sandbox counted them (every answer, 401s included)."""
    calls_by_ingest: int = 0
    responses_429: int = 0
    """429s the sandbox answered during the run."""
    figures: dict[str, Any] = field(default_factory=dict)


def cli_settings(system: LocalSystem) -> CliSettings:
    env = system.cli_env()
    return CliSettings(
        KAFKA_BOOTSTRAP_SERVERS=env["KAFKA_BOOTSTRAP_SERVERS"],
        CONNECTOR_DATASOURCE_URL=env["CONNECTOR_DATASOURCE_URL"],
        CONNECTOR_AUTH_URL=env["CONNECTOR_AUTH_URL"],
        CONNECTOR_INGEST_URL=env["CONNECTOR_INGEST_URL"],
        CONNECTOR_INGEST_API_URL=env["CONNECTOR_INGEST_API_URL"],
        CONNECTOR_DATASOURCE_METRICS_URL=env["CONNECTOR_DATASOURCE_METRICS_URL"],
        CONNECTOR_INTERNAL_API_TOKEN=env["CONNECTOR_INTERNAL_API_TOKEN"],
        CONNECTOR_DATASOURCE_API_TOKEN=env["CONNECTOR_DATASOURCE_API_TOKEN"],
    )


async def authorize(link: str, admin: Admin, division: int, console: Console) -> None:
    browser = Browser()
    try:
        outcome = await complete_authorization(browser, link, admin.username, admin.password,
                                               division=division)
    finally:
        await browser.close()
    for step in outcome.steps:
        console.print(f"  page: {step}")


async def run_scenario(system: LocalSystem, console: Console, admin: Admin = EVA,
                       real_limits: bool = False) -> DemoResult:
    result = DemoResult()
    try:
        await _scenario(system, console, admin, result, real_limits)
    except FlowError as exc:
        result.reason = str(exc)
    return result


async def _scenario(system: LocalSystem, console: Console, admin: Admin, result: DemoResult,
                    real_limits: bool) -> None:
    cfg = cli_settings(system)
    mark = await access_mark(system.url("sandbox"))
    create = create_command("self", new_domain="Grootboek Groep", by="portal-user@customer.example")
    ds = result.datasource_id = create.datasource_id
    async with watch(cfg.kafka_bootstrap_servers, TOPICS, ds) as events:
        console.rule("1. A portal user creates a data source and connects it themselves")
        link = await send_for_link(cfg, events, create)
        console.print(f"data source {ds} in the new company domain 'Grootboek Groep'")
        await authorize(link, admin, admin.division, console)
        connected = await expect(events, DataSourceConnected)
        assert isinstance(connected, DataSourceConnected)
        console.print(f"connected to {connected.payload.division_name} "
                      f"(division {connected.payload.division})")

        console.rule("2. Another data source, to be connected by an Exact administrator via a link")
        await share_link_for_a_person(cfg, console, connected.payload.division)

        console.rule("3. The initial data run starts automatically")
        started = time.monotonic()
        final = await follow_run(events, console, None, timeout=3600)
        if not isinstance(final, RunCompleted):
            raise FlowError(f"the initial run did not complete: {final}")
        if final.payload.failed_entities:
            raise FlowError("the initial run completed with errors: " + "; ".join(
                f"{f.entity}: {f.reason}" for f in final.payload.failed_entities))
        result.run_seconds = time.monotonic() - started
        result.rows = sum(t.rows for t in final.payload.totals)
        # the run's calls as Exact (the sandbox) saw them: from the connection to the end
        counted = await count_calls(system.url("sandbox"), mark, connected.payload.division,
                                    connected.occurred_at, final.occurred_at)
        result.calls, result.responses_429 = counted.calls, counted.responses_429
        result.calls_by_ingest = final.payload.calls_used
        console.print(f"the sandbox answered {counted.calls} calls for the run "
                      f"({counted.responses_429} with 429, {counted.unauthorized} with 401); "
                      f"ingest counted {final.payload.calls_used}")
        failure = rate_limit_failure(counted, real_limits)
        if failure:
            raise FlowError(failure)

        console.rule("4. Reconciliation of the example sink's copy")
        if not await reconcile(system, console, ds, final):
            raise FlowError("reconciliation found differences")

        console.rule("5. Trial balance: the ledger against Exact's own ReportingBalance")
        if not await show_trial_balance(system, console, cfg, ds, final.payload.run_id):
            raise FlowError("the trial balance does not match Exact's ReportingBalance")

        console.rule("6. Recreate: same company accepted, another company rejected")
        link = await send_for_link(cfg, events, recreate_command(ds, "self"))
        await authorize(link, admin, admin.division, console)
        accepted = await expect(events, (RecreateAccepted, RecreateRejected))
        if not isinstance(accepted, RecreateAccepted):
            raise FlowError(f"recreate with the same company was not accepted: {accepted.payload}")
        console.print(f"[green]accepted[/green]: new grant {accepted.payload.grant_id} replaces "
                      f"{accepted.payload.previous_grant_id}; nothing re-imported")
        before = await api.datasource(cfg, ds)
        link = await send_for_link(cfg, events, recreate_command(ds, "share"))
        await authorize(link, admin, admin.other_division, console)
        rejected = await expect(events, (RecreateAccepted, RecreateRejected))
        if not isinstance(rejected, RecreateRejected):
            raise FlowError("recreate with another company was not rejected")
        console.print(f"[yellow]rejected[/yellow]: {rejected.payload.reason}")
        after = await api.datasource(cfg, ds)
        unchanged = all(before[k] == after[k] for k in ("state", "division", "grant_id"))
        console.print(f"data source unchanged: state={after['state']} division={after['division']} "
                      f"grant={after['grant_id']} -> {'yes' if unchanged else 'NO'}")
        if not unchanged:
            raise FlowError("the rejected recreate changed the data source")
    result.ok = True


async def share_link_for_a_person(cfg: CliSettings, console: Console, division: int) -> None:
    create = create_command("share", new_domain="Grootboek Groep (tweede)",
                            by="portal-user@customer.example")
    async with watch(cfg.kafka_bootstrap_servers, TOPICS, create.datasource_id) as events:
        link = await send_for_link(cfg, events, create)
    console.print("Send this link to an Exact Online administrator (no account with us needed);\n"
                  "open it in a browser and sign in with a sandbox user from sandbox/exact/README.md:")
    console.print(f"  {link}", soft_wrap=True)


async def reconcile(system: LocalSystem, console: Console, datasource_id: uuid.UUID,
                    final: RunCompleted) -> bool:
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
            await eventually(sink_caught_up, timeout=300, interval=0.5)
        except AssertionError:
            console.print("[yellow]the sink did not catch up with the run[/yellow]")
        async with engine.connect() as conn:
            ours = await figures(conn, datasource_id)
            run_checks = await against_last_run(conn, datasource_id)
    finally:
        await engine.dispose()
    async with SandboxAdmin(system.url("sandbox"), timeout=120) as admin:
        expected = await admin.expected(final.payload.division)
    show_figures(ours)
    ok = print_checks("against RunCompleted", run_checks)
    ok = print_checks("against the sandbox's figures",
                      against_expected(ours, sandbox_expected(expected))) and ok
    return per_period_table(console, ours, expected) and ok


def per_period_table(console: Console, ours: dict[Entity, Any], expected: dict[str, Any]) -> bool:
    periods = expected.get("entities", {}).get("TransactionLines", {}).get("by_period", [])
    mine = ours[Entity.TRANSACTION_LINES].per_period
    table = Table(title="TransactionLines per financial year and period (sink vs sandbox)")
    for col in ("year", "period", "rows", "sum AmountDC", "debit AmountDC (sink)",
                "debit AmountDC (sandbox)", "match"):
        table.add_column(col)
    ok = bool(periods)
    for p in periods:
        key = (p["financial_year"], p["financial_period"])
        have = mine.get(key)
        match = (have is not None and have.rows == p["count"]
                 and have.amount_dc_sum == Decimal(p["sum_amount_dc"])
                 and have.amount_dc_debit_sum == Decimal(p["sum_debit_dc"]))
        ok = ok and match
        table.add_row(str(key[0]), str(key[1]), str(p["count"]),
                      str(have.amount_dc_sum if have else "-"),
                      str(have.amount_dc_debit_sum if have else "-"), p["sum_debit_dc"],
                      "yes" if match else "[red]NO[/red]")
    console.print(table)
    return ok
