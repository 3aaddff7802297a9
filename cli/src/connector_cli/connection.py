"""Which company a data source connects: the expected company of a link, the customer's
confirmation (policy ``confirm``) and "not my company" (disown)."""

from __future__ import annotations

import asyncio
import uuid

import typer
from rich.console import Console

from connector_cli.kafka_io import publish
from connector_cli.settings import CliSettings
from contracts import (
    DATASOURCE_COMMANDS,
    ConfirmConnection,
    ConfirmConnectionPayload,
    DisownConnection,
    DisownConnectionPayload,
    ExpectedCompany,
    Message,
)

console = Console()

EXPECT_DIVISION = typer.Option(
    None, "--expect-division", help="The link connects only this Exact division (code).")
EXPECT_VAT = typer.Option(
    None, "--expect-vat", help="The link connects only the company with this VAT number.")


def expected_company(division: int | None, vat_number: str | None) -> ExpectedCompany | None:
    if division is None and vat_number is None:
        return None
    try:
        return ExpectedCompany(division=division, vat_number=vat_number)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _publish(command: Message) -> None:
    asyncio.run(publish(CliSettings().kafka_bootstrap_servers, DATASOURCE_COMMANDS, command))
    console.print(f"published {command.type} for data source {command.datasource_id}")


def confirm(datasource_id: uuid.UUID, by: str = typer.Option("cli-user")) -> None:
    """Confirm the connected company is the customer's: the initial run starts."""
    _publish(ConfirmConnection.create(datasource_id=datasource_id,
                                      payload=ConfirmConnectionPayload(requested_by=by)))


def disown(datasource_id: uuid.UUID, by: str = typer.Option("cli-user"),
           reason: str | None = typer.Option(None)) -> None:
    """Not my company: disconnect it, revoke its grant, purge its rows downstream."""
    _publish(DisownConnection.create(datasource_id=datasource_id,
                                     payload=DisownConnectionPayload(requested_by=by,
                                                                     reason=reason)))
