"""A run's plan as operators read it: what the run will still read, its calls, and when the
company's daily budget lets it end (ingest makes it before the run's first call)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from connector_cli import api
from connector_cli.settings import CliSettings

console = Console(width=160)


def summary(plan: dict[str, Any], now: dt.datetime | None = None) -> str:
    """One line: calls, budget days and the end, e.g. "plan: 1,455 calls, ends today ..."."""
    now = now or dt.datetime.now(dt.UTC)
    at_least = "at least " if plan.get("lower_bound") else ""
    ends = dt.datetime.fromisoformat(plan["finishes_at"])
    days = int(plan["days"])
    when = "today" if days == 0 else ("after 1 daily reset" if days == 1
                                      else f"after {days} daily resets")
    left = plan.get("daily_budget_remaining")
    budget = f"; {left:,} of {plan['daily_limit']:,} calls left today" if left is not None else ""
    eta = max(0.0, (ends - now).total_seconds())
    return (f"plan: {at_least}{plan['calls']:,} calls, ends {when}, {at_least}by "
            f"{ends.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC (in {_duration(eta)}){budget}")


def brief(plan: dict[str, Any], now: dt.datetime | None = None) -> str:
    """A few words for a table cell, e.g. "at least 1,455 calls, ETA 3.1 days"."""
    now = now or dt.datetime.now(dt.UTC)
    at_least = "at least " if plan.get("lower_bound") else ""
    eta = max(0.0, (dt.datetime.fromisoformat(plan["finishes_at"]) - now).total_seconds())
    return f"{at_least}{plan['calls']:,} calls, ETA {at_least}{_duration(eta)}"


def table(plan: dict[str, Any]) -> Table:
    out = Table(title="Plan (import order)")
    for col in ("entity", "rows expected", "calls", "budget day"):
        out.add_column(col)
    for p in plan["entities"]:
        rows = p.get("estimated_rows")
        out.add_row(p["entity"], "unknown (1 call counted)" if rows is None else f"{rows:,}",
                    f"{p['calls']:,}", str(p["day"]))
    return out


def _duration(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} days"
    if seconds >= 3_600:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds / 60:.0f} min"


def register(app: typer.Typer, settings: Callable[[], CliSettings],
             transport: httpx.AsyncBaseTransport | None = None) -> None:
    """Add ``connector run RUN_ID``; ``transport`` lets tests answer the HTTP call."""

    @app.command("run")
    def show_run(run_id: uuid.UUID, as_json: bool = typer.Option(False, "--json")) -> None:
        """Show a run from ingest: status, calls used and, until it ends, its plan and ETA."""
        try:
            data = asyncio.run(api.run(settings(), run_id, transport))
        except api.ServiceError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2 if exc.status is None else 1) from exc
        if as_json:
            console.print_json(json.dumps(data))
            return
        console.print(f"run {data['run_id']} ({data['kind']}) {data['status']}: "
                      f"{data['calls_used']:,} calls used")
        if data.get("waiting_reason"):
            console.print(f"waiting: {data['waiting_reason']}")
        if data.get("plan"):
            console.print(summary(data["plan"]))
            console.print(table(data["plan"]))
