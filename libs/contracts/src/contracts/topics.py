"""Topic names, which messages each topic carries, and their dead-letter topics.

Every message is keyed by ``datasource_id``, so one data source's messages
keep their order within one partition.
"""

from __future__ import annotations

from typing import Final

from contracts.auth_events import (
    AuthorizationFailed,
    AuthorizationLinkIssued,
    AuthorizationRequested,
    ExactAuthorized,
    GrantExpiring,
    GrantRevoked,
)
from contracts.commands import (
    ConfirmConnection,
    CreateDataSource,
    DisownConnection,
    RecreateDataSource,
    RequestReimport,
)
from contracts.datasource_events import (
    CommandRejected,
    ConnectionConfirmed,
    DataSourceAuthorizationFailed,
    DataSourceConnected,
    DataSourceCreated,
    DataSourceDisowned,
    DataSourceNeedsReauthorization,
    DataSourcePurged,
    InitialRunRequested,
    RecreateAccepted,
    RecreateRejected,
)
from contracts.envelope import Message
from contracts.run_events import (
    LedgerBatch,
    LedgerDeletes,
    RunCompleted,
    RunFailed,
    RunProgress,
    RunStarted,
)
from contracts.trial_balance import TrialBalanceChecked
from contracts.webhook_events import ExactChangeNotified

DATASOURCE_COMMANDS: Final = "exact.datasource.commands"
"""Portal backend -> datasource."""
AUTH_REQUESTS: Final = "exact.auth.requests"
"""Datasource -> auth."""
AUTH_EVENTS: Final = "exact.auth.events"
"""Auth -> datasource and the portal."""
DATASOURCE_EVENTS: Final = "exact.datasource.events"
"""Datasource -> the portal and other consumers."""
INGEST_REQUESTS: Final = "exact.ingest.requests"
"""Datasource -> ingest."""
RUN_EVENTS: Final = "exact.ingest.runs"
"""Ingest -> datasource and the portal (run progress)."""
LEDGER_BATCHES: Final = "exact.ledger.batches"
"""Ingest -> downstream consumers of accounting data (and datasource's DataSourcePurged)."""
CHANGE_NOTIFICATIONS: Final = "exact.webhooks.notifications"
"""Ingest's webhook receiver -> ingest (and any consumer that wants to know early)."""

DLQ_SUFFIX: Final = ".dlq"

TOPIC_MESSAGES: Final[dict[str, tuple[type[Message], ...]]] = {
    DATASOURCE_COMMANDS: (CreateDataSource, RecreateDataSource, RequestReimport, ConfirmConnection,
                          DisownConnection),
    AUTH_REQUESTS: (AuthorizationRequested,),
    AUTH_EVENTS: (AuthorizationLinkIssued, ExactAuthorized, AuthorizationFailed, GrantRevoked,
                  GrantExpiring),
    DATASOURCE_EVENTS: (
        DataSourceCreated,
        DataSourceConnected,
        RecreateAccepted,
        RecreateRejected,
        DataSourceNeedsReauthorization,
        DataSourceAuthorizationFailed,
        CommandRejected,
        ConnectionConfirmed,
        DataSourceDisowned,
    ),
    INGEST_REQUESTS: (InitialRunRequested,),
    RUN_EVENTS: (RunStarted, RunProgress, RunCompleted, RunFailed, TrialBalanceChecked),
    LEDGER_BATCHES: (LedgerBatch, LedgerDeletes, DataSourcePurged),
    CHANGE_NOTIFICATIONS: (ExactChangeNotified,),
}

TOPICS: Final[tuple[str, ...]] = tuple(TOPIC_MESSAGES)

MAX_MESSAGE_BYTES: Final[dict[str, int]] = {
    **{topic: 64 * 1024 for topic in TOPIC_MESSAGES},
    LEDGER_BATCHES: 1_000_000,
}
"""Largest valid message per topic. Commands and events are a few hundred bytes; anything
near 64 KiB is broken or hostile (padding in ignored fields included) and is refused before
it is parsed. A LedgerBatch may use the broker's whole 1 MB."""


def dead_letter_topic(topic: str) -> str:
    """The topic where messages of ``topic`` that cannot be read go, with the reason."""
    return topic + DLQ_SUFFIX


DEAD_LETTER_TOPICS: Final[tuple[str, ...]] = tuple(dead_letter_topic(t) for t in TOPICS)
ALL_TOPICS: Final[tuple[str, ...]] = TOPICS + DEAD_LETTER_TOPICS
