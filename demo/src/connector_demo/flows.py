"""Portal-side steps the demo and the end-to-end tests share: send a command, get its link,
wait for what the services answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from connector_cli import api
from connector_cli.kafka_io import EventWatch, publish
from connector_cli.settings import CliSettings
from contracts import (
    DATASOURCE_COMMANDS,
    AuthorizationLinkIssued,
    CommandRejected,
    CreateDataSource,
    CreateDataSourcePayload,
    Message,
    RecreateDataSource,
    RecreateDataSourcePayload,
)


class FlowError(AssertionError):
    pass


def create_command(mode: str, *, new_domain: str | None = None,
                   domain_id: uuid.UUID | None = None, by: str = "portal-user") -> CreateDataSource:
    return CreateDataSource.create(datasource_id=uuid.uuid4(), payload=CreateDataSourcePayload(
        new_company_domain_name=new_domain, company_domain_id=domain_id,
        authorization_mode=mode, requested_by=by))  # type: ignore[arg-type]


def recreate_command(datasource_id: uuid.UUID, mode: str, by: str = "portal-user") -> RecreateDataSource:
    return RecreateDataSource.create(datasource_id=datasource_id, payload=RecreateDataSourcePayload(
        authorization_mode=mode, requested_by=by))  # type: ignore[arg-type]


async def send_for_link(cfg: CliSettings, events: EventWatch, command: Message,
                        timeout: float = 60) -> str:
    """Publish a create/recreate and return the authorization link the portal would show."""
    await publish(cfg.kafka_bootstrap_servers, DATASOURCE_COMMANDS, command)
    answer = await events.first(
        lambda m: isinstance(m, AuthorizationLinkIssued | CommandRejected), timeout)
    if isinstance(answer, CommandRejected):
        raise FlowError(f"command rejected: {answer.payload.reason}")
    if not isinstance(answer, AuthorizationLinkIssued):
        raise FlowError(f"no authorization link within {timeout}s")
    link = await api.authorization_link(cfg, answer.payload.fetch_url)
    return str(link["url"])


async def expect(events: EventWatch, kind: type[Message] | tuple[type[Message], ...],
                 timeout: float = 60, where: Callable[[Message], bool] = lambda m: True) -> Message:
    found = await events.first(lambda m: isinstance(m, kind) and where(m), timeout)
    if found is None:
        raise FlowError(f"no {kind} within {timeout}s")
    return found
