"""``exact-datasource-admin``: read the datasource service's state from a terminal.

Talks to the read API (``--url``, or ``DATASOURCE_URL``; ``--token`` or ``DATASOURCE_API_TOKEN``
for the caller's bearer token): company domains, data
sources with state and division, one data source with its runs. ``--json``
prints the API's answer unchanged, for scripts.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

DEFAULT_URL = "http://127.0.0.1:8002"


def build_cli(transport: httpx.BaseTransport | None = None) -> typer.Typer:
    """The CLI; ``transport`` lets tests answer the HTTP calls."""
    cli = typer.Typer(add_completion=False, no_args_is_help=True,
                      help="Company domains, data sources and their runs, from the datasource read API.")
    console = Console(width=160)
    url_option = typer.Option(DEFAULT_URL, "--url", envvar="DATASOURCE_URL", help="Read API base URL.")
    json_option = typer.Option(False, "--json", help="Print the API's JSON answer.")
    caller: dict[str, str] = {}

    @cli.callback()
    def _caller(token: str = typer.Option("", "--token", envvar="DATASOURCE_API_TOKEN",
                                          help="A caller's bearer token (scope read).")) -> None:
        caller["token"] = token

    def fetch(url: str, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        headers = {"Authorization": f"Bearer {caller['token']}"} if caller.get("token") else {}
        try:
            with httpx.Client(base_url=url, transport=transport, timeout=10.0,
                              headers=headers) as client:
                response = client.get(path, params=query)
        except httpx.HTTPError as exc:
            console.print(f"[red]datasource service at {url} did not answer:[/red] {type(exc).__name__}")
            raise typer.Exit(2) from exc
        if response.status_code in (401, 403):
            console.print("[red]the read API refused the token: set DATASOURCE_API_TOKEN "
                          "(or --token) to a caller's token with the scope read[/red]")
            raise typer.Exit(2)
        if response.status_code == 404:
            console.print(f"[red]{response.json().get('detail', 'not found')}[/red]")
            raise typer.Exit(1)
        if response.status_code != 200:
            console.print(f"[red]{path} answered {response.status_code}[/red]")
            raise typer.Exit(2)
        return response.json()

    @cli.command()
    def domains(url: str = url_option, as_json: bool = json_option) -> None:
        """List company domains."""
        found = fetch(url, "/company-domains")
        if as_json:
            typer.echo(json.dumps(found, indent=2))
            return
        table = Table("id", "name", "data sources", "created by", "created at", title="Company domains")
        for d in found:
            table.add_row(d["id"], d["name"], str(d["datasource_count"]), d["created_by"], d["created_at"])
        console.print(table)

    @cli.command("list")
    def list_datasources(
        url: str = url_option,
        domain: str | None = typer.Option(None, help="Only this company domain id."),
        state: str | None = typer.Option(None, help="Only data sources in this state."),
        as_json: bool = json_option,
    ) -> None:
        """List data sources with state, division and last run."""
        found = fetch(url, "/datasources", company_domain_id=domain, state=state)
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

    @cli.command()
    def show(
        datasource_id: str = typer.Argument(..., help="Data source id."),
        url: str = url_option,
        runs: int = typer.Option(5, help="How many recent runs."),
        as_json: bool = json_option,
    ) -> None:
        """One data source: state, division, grant, pending authorization, problems and runs."""
        d = fetch(url, f"/datasources/{datasource_id}", runs=runs)
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
        table = Table("run", "kind", "status", "started", "finished", "rows", "ETA s", "error", title="Runs")
        for r in d["runs"]:
            eta = "-" if r["eta_seconds"] is None else f"{r['eta_seconds']:.0f}"
            table.add_row(r["run_id"], r["kind"], r["status"], r["started_at"] or "-",
                          r["finished_at"] or "-", str(r["rows"]), eta,
                          r["error"]["reason"] if r["error"] else "")
        console.print(table)

    return cli


def _run_status(d: dict[str, Any]) -> str:
    """The run status, and while the run waits: until when and why."""
    last = d.get("last_run") or {}
    if d["run_status"] == "waiting" and last.get("waiting_until"):
        return f"waiting until {last['waiting_until']}: {last.get('waiting_reason') or ''}"
    return str(d["run_status"] or "-")


app = build_cli()
