"""Kafka subscribers of the auth service: typed contract in, one use case.

The message context (message_id, correlation_id, datasource_id, run_id) is bound to the log
by the runtime's ``MessageLogContext`` middleware before a handler runs.
"""

from collections.abc import Callable

from faststream.kafka import KafkaRouter

import contracts as c
from auth.ports import Dependencies
from auth.settings import AuthSettings
from auth.usecases import authorizations, recreate
from connector_runtime.messaging.broker import subscriber_options

DatasourceEvent = c.topic_union(c.DATASOURCE_EVENTS)
"""Everything on DATASOURCE_EVENTS; auth acts on the decisions about grants it issued."""


def build_router(settings: AuthSettings, group_id: str,
                 deps: Callable[[], Dependencies]) -> KafkaRouter:
    router = KafkaRouter()
    timeout = settings.kafka_session_timeout_ms

    @router.subscriber(c.AUTH_REQUESTS, **subscriber_options(c.AUTH_REQUESTS, group_id,
                                                             session_timeout_ms=timeout))  # type: ignore[untyped-decorator, unused-ignore]
    async def on_authorization_requested(message: c.AuthorizationRequested) -> None:
        await authorizations.open_authorization(deps(), message)

    @router.subscriber(c.DATASOURCE_EVENTS, **subscriber_options(c.DATASOURCE_EVENTS, group_id,
                                                                 session_timeout_ms=timeout))  # type: ignore[untyped-decorator, unused-ignore]
    async def on_datasource_event(message: DatasourceEvent) -> None:  # type: ignore[valid-type]
        if isinstance(message, c.RecreateAccepted):
            await recreate.recreate_accepted(deps(), message)
        elif isinstance(message, c.RecreateRejected):
            await recreate.recreate_rejected(deps(), message)
        elif isinstance(message, c.DataSourceAuthorizationFailed) and message.payload.offered_grant_id:
            await recreate.offered_grant_refused(deps(), message)
        elif isinstance(message, c.DataSourceDisowned):
            await recreate.grant_disowned(deps(), message)

    return router
