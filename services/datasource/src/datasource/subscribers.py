"""Kafka subscribers of the datasource service: typed contract in, bind log context, one use case.

Each topic has its own consumer group (``<group_id>.commands``, ``.auth-events``,
``.run-events``) so the three consumers rebalance independently. Outcomes at the
edge: a refused command becomes ``CommandRejected``; an unreadable message goes to
the dead-letter topic (the runtime's middleware); a transient failure is retried.
"""

from collections.abc import Callable
from typing import Any

import structlog
from faststream.kafka import KafkaRouter

import contracts as c
from connector_runtime.messaging.broker import subscriber_options
from datasource import usecases
from datasource.domain.errors import CommandRefused
from datasource.ports import UnitOfWork
from datasource.settings import DatasourceSettings

log = structlog.get_logger("datasource.subscribers")


def _not_started() -> UnitOfWork:
    raise RuntimeError("the datasource service is not started: no unit of work")


def build_router(settings: DatasourceSettings, group_id: str, *,
                 uow: Callable[[], UnitOfWork] = _not_started) -> KafkaRouter:
    """Subscribers that build a fresh unit of work per message with ``uow``."""
    router = KafkaRouter()

    def options(topic: str, suffix: str) -> dict[str, Any]:
        return subscriber_options(topic, f"{group_id}.{suffix}",
                                  session_timeout_ms=settings.kafka_session_timeout_ms)

    @router.subscriber(c.DATASOURCE_COMMANDS, **options(c.DATASOURCE_COMMANDS, "commands"))  # type: ignore[untyped-decorator]
    async def on_command(
        message: c.CreateDataSource | c.RecreateDataSource | c.RequestReimport
        | c.ConfirmConnection | c.DisownConnection,
    ) -> None:
        try:
            await usecases.handle_command(message, uow())
        except CommandRefused as refusal:
            await usecases.reject_command(message, refusal, uow())

    @router.subscriber(c.AUTH_EVENTS, **options(c.AUTH_EVENTS, "auth-events"))  # type: ignore[untyped-decorator]
    async def on_auth_event(
        message: c.AuthorizationLinkIssued | c.ExactAuthorized | c.AuthorizationFailed | c.GrantRevoked
        | c.GrantExpiring,
    ) -> None:
        with structlog.contextvars.bound_contextvars(**_auth_context(message)):
            await usecases.handle_auth_event(
                message, uow(),
                confirm_unverified=settings.unverified_company_policy == "confirm")

    @router.subscriber(c.RUN_EVENTS, **options(c.RUN_EVENTS, "run-events"))  # type: ignore[untyped-decorator]
    async def on_run_event(
        message: c.RunStarted | c.RunProgress | c.RunCompleted | c.RunFailed
        | c.TrialBalanceChecked,
    ) -> None:
        with structlog.contextvars.bound_contextvars(run_id=str(message.payload.run_id)):
            await usecases.handle_run_event(message, uow())

    return router


def _auth_context(message: c.Message) -> dict[str, str]:
    payload = message.payload
    for key in ("authorization_id", "grant_id"):
        value = getattr(payload, key, None)
        if value is not None:
            return {key: str(value)}
    return {}
