"""`exact-sandbox`: start the sandbox, or drive a running one (changes, withdraw, clock, faults).

    exact-sandbox --port 8765 --minutely-limit 1000 --fault-5xx-rate 0.05
    exact-sandbox change 100001 --insert 5 --update 3 --delete 2
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from exact_sandbox.app import create_app
from exact_sandbox.client import SandboxAdmin, SandboxAdminError
from exact_sandbox.config import FaultSettings, Limits, ManyCompanies, SandboxConfig, parse_app

app = typer.Typer(add_completion=False, help="Exact Online sandbox (local API simulator).")

URL = Annotated[str, typer.Option("--url", help="Base URL of a running sandbox.")]
DEFAULT_URL = "http://127.0.0.1:8765"


def _pairs(values: list[str]) -> dict[int, int]:
    out = {}
    for value in values:
        code, _, size = value.partition("=")
        out[int(code)] = int(size)
    return out


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = 1,
    instance: str = "NL",
    config_file: Annotated[Path | None, typer.Option("--config")] = None,
    minutely_limit: int = Limits.minutely,
    daily_limit: int = Limits.daily,
    company_daily_limit: int | None = None,
    token_daily_limit: int = Limits.token_daily,
    error_budget: int = Limits.error_budget,
    access_token_lifetime: int = Limits.access_token_lifetime_s,
    fault_seed: int = 1,
    fault_5xx_rate: float = 0.0,
    fault_5xx_status: int = 500,
    latency_ms: int = 0,
    timeout_rate: float = 0.0,
    hang_seconds: float = 300.0,
    malformed_rate: float = 0.0,
    drop_rate: float = 0.0,
    revoke_after_calls: int | None = None,
    unauthorized_rate: float = 0.0,
    fault_division: Annotated[list[int] | None, typer.Option()] = None,
    fault_endpoint: Annotated[list[str] | None, typer.Option()] = None,
    division_size: Annotated[list[str] | None, typer.Option(
        help="CODE=TRANSACTIONLINES, e.g. 300001=1000000")] = None,
    extra_division: Annotated[list[str] | None, typer.Option(
        help="CODE=TRANSACTIONLINES: an extra division owned by eva.large@demo.nl")] = None,
    register_app: Annotated[list[str] | None, typer.Option(
        "--app", help="client_id,client_secret,redirect_uri[,redirect_uri...]")] = None,
    companies: Annotated[int, typer.Option(
        help="Many-companies mode: this many generated companies, each with its own "
             "administrator admin.CODE@companies.sandbox / company-CODE")] = 0,
    company_rows: Annotated[int, typer.Option(
        help="About this many TransactionLines per generated company")] = ManyCompanies.rows,
    company_first_code: int = ManyCompanies.first_code,
    resident_companies: Annotated[int, typer.Option(
        help="Generated companies kept built in memory (the rest are rebuilt on demand)")
    ] = ManyCompanies.resident,
    day_seconds: Annotated[int, typer.Option(
        help="Length of the daily limit window in sandbox seconds (Exact: 86400)")
    ] = Limits.day_seconds,
    clock_speed: float = 1.0,
    require_filter: bool = True,
    webhook_http_loopback: Annotated[bool, typer.Option(
        help="Accept http:// webhook callbacks on 127.0.0.1/localhost (Exact: https only)")
    ] = False,
    log_level: str = "warning",
) -> None:
    """Start the sandbox (when no subcommand is given)."""
    if ctx.invoked_subcommand is not None:
        return
    if config_file is not None:
        config = SandboxConfig.from_dict(json.loads(config_file.read_text()))
    else:
        config = SandboxConfig(
            seed=seed, instance=instance.upper(),
            limits=Limits(minutely=minutely_limit, daily=daily_limit,
                          company_daily=company_daily_limit, token_daily=token_daily_limit,
                          error_budget=error_budget,
                          access_token_lifetime_s=access_token_lifetime,
                          day_seconds=day_seconds),
            faults=FaultSettings(
                seed=fault_seed, error_5xx_rate=fault_5xx_rate, error_5xx_status=fault_5xx_status,
                latency_ms=latency_ms, timeout_rate=timeout_rate, hang_seconds=hang_seconds,
                malformed_json_rate=malformed_rate, drop_rate=drop_rate,
                revoke_after_calls=revoke_after_calls, unauthorized_rate=unauthorized_rate,
                divisions=tuple(fault_division) if fault_division else None,
                endpoints=tuple(fault_endpoint) if fault_endpoint else None),
            division_sizes=_pairs(division_size or []),
            extra_divisions=_pairs(extra_division or []),
            companies=ManyCompanies(companies, company_rows, company_first_code,
                                    resident_companies),
            clock_speed=clock_speed,
            require_filter_with_sync_twin=require_filter,
            webhook_http_loopback=webhook_http_loopback,
        )
        if register_app:
            config.apps = (*config.apps, *(parse_app(a) for a in register_app))
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level)


def _show(url: str, call: Callable[[SandboxAdmin], Awaitable[Any]]) -> None:
    """Run one admin call on the sandbox at ``url`` and print its answer as JSON."""

    async def go() -> Any:
        async with SandboxAdmin(url, timeout=600) as admin:
            return await call(admin)

    try:
        answer = asyncio.run(go())
    except SandboxAdminError as exc:
        typer.echo(str(exc))
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(answer, indent=2))


@app.command()
def change(division: int, entity: str = "TransactionLines", insert: int = 0, update: int = 0,
           delete: int = 0, url: URL = DEFAULT_URL) -> None:
    """Insert, update and delete rows of a division (bumps Timestamp, records deletes)."""
    _show(url, lambda admin: admin.change(division, entity=entity, insert=insert, update=update,
                                          delete=delete))


@app.command()
def withdraw(username: str | None = None, client_id: str | None = None,
             url: URL = DEFAULT_URL) -> None:
    """Withdraw grants (the approving person lost access): refresh fails, API calls 401."""
    async def withdrawn(admin: SandboxAdmin) -> dict[str, list[str]]:
        return {"withdrawn": await admin.withdraw(username=username, client_id=client_id)}

    _show(url, withdrawn)


@app.command()
def clock(advance: float | None = None, set_to: Annotated[str | None, typer.Option(
        "--set", help="ISO datetime or epoch seconds")] = None,
          speed: float | None = None, url: URL = DEFAULT_URL) -> None:
    """Show, move or speed up the sandbox clock."""
    body: dict[str, Any] = {}
    if set_to is not None:
        body["set"] = float(set_to) if set_to.replace(".", "").isdigit() else set_to
    if advance is not None:
        body["advance"] = advance
    if speed is not None:
        body["speed"] = speed
    _show(url, lambda admin: admin.clock(**body))


@app.command()
def faults(setting: Annotated[list[str] | None, typer.Argument(
        help="name=value, e.g. error_5xx_rate=0.1 latency_ms=200")] = None,
           clear: bool = False, url: URL = DEFAULT_URL) -> None:
    """Show, change (PATCH) or clear the injected faults of a running sandbox."""
    if clear:
        _show(url, lambda admin: admin.clear_faults())
        return
    body = {}
    for item in setting or ():
        key, _, raw = item.partition("=")
        body[key] = json.loads(raw) if raw not in ("",) else None
    _show(url, lambda admin: admin.patch_faults(**body) if body else admin.faults())


@app.command()
def stats(url: URL = DEFAULT_URL) -> None:
    """Print the counters of a running sandbox."""
    _show(url, lambda admin: admin.stats())
