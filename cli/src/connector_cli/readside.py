"""``connector domains | list | show``: the datasource service's read side in a terminal.

Talks to the read API (``CONNECTOR_DATASOURCE_URL``, with the caller's bearer token from
``CONNECTOR_DATASOURCE_API_TOKEN``, scope read): company domains, data sources with state and
division, one data source with its runs and their trial-balance checks. ``--json`` prints the
API's answer unchanged, for scripts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from connector_cli import trial_balance as trial
from connector_cli.settings import CliSettings


def register(app: typer.Typer, settings: Callable[[], CliSettings],
             transport: httpx.BaseTransport | None = None) -> None:
    """Add the read-side commands to ``app``; ``transport`` lets tests answer the HTTP calls."""
    console = Console(width=160)
    json_option = typer.Option(False, "--json", help="Print the API's JSON answer.")

    def fetch(path: str, **params: Any) -> Any:
        cfg = settings()
        url = cfg.datasource_url
        query = {k: v for k, v in params.items() if v is not None}
        token = cfg.datasource_api_token.get_secret_value()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            with httpx.Client(base_url=url, transport=transport, timeout=10.0,
                              headers=headers) as client:
                response = client.get(path, params=query)
        except httpx.HTTPError as exc:
            console.print(f"[red]datasource service at {url} did not answer:[/red] {type(exc).__name__}")
            raise typer.Exit(2) from exc
        if response.status_code in (401, 403):
            console.print("[red]the read API refused the token: set CONNECTOR_DATASOURCE_API_TOKEN "
                          "to a caller's token with the scope read[/red]")
            raise typer.Exit(2)
        if response.status_code == 404:
            console.print(f"[red]{response.json().get('detail', 'not found')}[/red]")
            raise typer.Exit(1)
        if response.status_code != 200:
            console.print(f"[red]{path} answered {response.status_code}[/red]")
            raise typer.Exit(2)
        return response.json()

    @app.command()
    def domains(as_json: bool = json_option) -> None:
        """List company domains."""
        found = fetch("/company-domains")
        if as_json:
            typer.echo(json.dumps(found, indent=2))
            return
        table = Table("id", "name", "data sources", "created by", "created at", title="Company domains")
        for d in found:
            table.add_row(d["id"], d["name"], str(d["datasource_count"]), d["created_by"], d["created_at"])
        console.print(table)

    @app.command("list")
    def list_datasources(
        domain_id: uuid.UUID | None = typer.Option(None, help="Only this company domain."),
        state: str | None = typer.Option(None, help="Only data sources in this state."),
        as_json: bool = json_option,
    ) -> None:
        """List data sources with state, division and last run."""
        found = fetch("/datasources", company_domain_id=domain_id and str(domain_id), state=state)
        if as_json:
            typer.echo(json.dumps(found, indent=2))
            return
        table = Table("id", "domain", "state", "division", "run", "rows", "last problem",
                      title="Data sources")
        for d in found:
            run = d["last_run"] or {}
            division = f"{d['division']} {d['division_name']}" if d["division"] else "-"
            table.add_row(d["id"], d["company_domain_name"], d["state"], division, d["run_status"] or "-",
                          str(run.get("rows", "-")), d["last_failure_reason"] or "")
        console.print(table)

    @app.command()
    def show(
        datasource_id: uuid.UUID = typer.Argument(..., help="Data source id."),
        runs: int = typer.Option(5, help="How many recent runs."),
        as_json: bool = json_option,
    ) -> None:
        """One data source: state, division, grant, pending authorization, problems and runs."""
        d = fetch(f"/datasources/{datasource_id}", runs=runs)
        if as_json:
            typer.echo(json.dumps(d, indent=2))
            return
        facts = Table(show_header=False, title=f"Data source {d['id']}")
        pending = d["pending_authorization"]
        for label, value in (
            ("company domain", f"{d['company_domain_name']} ({d['company_domain_id']})"),
            ("state", d["state"]),
            ("division", f"{d['division']} {d['division_name']}" if d["division"] else "-"),
            ("grant", d["grant_id"] or "-"),
            ("authorization mode", d["authorization_mode"]),
            ("authorized by", d["authorized_by"] or "-"),
            ("pending authorization",
             f"{pending['purpose']} ({pending['mode']}) since {pending['requested_at']}" if pending else "-"),
            ("run status", _run_status(d)),
            ("last problem", d["last_failure_reason"] or "-"),
        ):
            facts.add_row(label, str(value))
        console.print(facts)
        table = Table("run", "kind", "status", "started", "finished", "rows", "ETA s", "error",
                      "trial balance", title="Runs")
        for r in d["runs"]:
            eta = "-" if r["eta_seconds"] is None else f"{r['eta_seconds']:.0f}"
            table.add_row(r["run_id"], r["kind"], r["status"], r["started_at"] or "-",
                          r["finished_at"] or "-", str(r["rows"]), eta,
                          r["error"]["reason"] if r["error"] else "",
                          trial.summary(r.get("trial_balance")))
        console.print(table)


def _run_status(d: dict[str, Any]) -> str:
    """The run status, and while the run waits: until when and why."""
    last = d.get("last_run") or {}
    if d["run_status"] == "waiting" and last.get("waiting_until"):
        return f"waiting until {last['waiting_until']}: {last.get('waiting_reason') or ''}"
    return str(d["run_status"] or "-")

