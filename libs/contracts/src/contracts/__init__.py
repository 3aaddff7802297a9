"""The one definition of every command and event of the Exact Online connector."""

from contracts.auth_events import (
    AuthorizationFailed,
    AuthorizationFailedPayload,
    AuthorizationLinkIssued,
    AuthorizationLinkIssuedPayload,
    AuthorizationRequested,
    AuthorizationRequestedPayload,
    ExactAuthorized,
    ExactAuthorizedPayload,
    GrantRevoked,
    GrantRevokedPayload,
)
from contracts.commands import (
    CreateDataSource,
    CreateDataSourcePayload,
    RecreateDataSource,
    RecreateDataSourcePayload,
    RequestReimport,
    RequestReimportPayload,
)
from contracts.common import ALL_ENTITIES, AuthorizationMode, AuthorizationPurpose, Entity
from contracts.datasource_events import (
    CommandRejected,
    CommandRejectedPayload,
    DataSourceConnected,
    DataSourceConnectedPayload,
    DataSourceCreated,
    DataSourceCreatedPayload,
    DataSourceNeedsReauthorization,
    DataSourceNeedsReauthorizationPayload,
    InitialRunRequested,
    InitialRunRequestedPayload,
    RecreateAccepted,
    RecreateAcceptedPayload,
    RecreateRejected,
    RecreateRejectedPayload,
    RunKind,
)
from contracts.envelope import Message, WireModel
from contracts.registry import ContractError, parse_message
from contracts.rows import ROW_MODELS, Row, exact_fields
from contracts.run_events import (
    BATCH_MODELS,
    EntityProgress,
    EntityTotals,
    LedgerBatch,
    LedgerBatchPayload,
    RunCompleted,
    RunCompletedPayload,
    RunFailed,
    RunFailedPayload,
    RunProgress,
    RunProgressPayload,
    RunStarted,
    RunStartedPayload,
    id_hash,
)
from contracts.topics import (
    ALL_TOPICS,
    AUTH_EVENTS,
    AUTH_REQUESTS,
    DATASOURCE_COMMANDS,
    DATASOURCE_EVENTS,
    DEAD_LETTER_TOPICS,
    INGEST_REQUESTS,
    LEDGER_BATCHES,
    RUN_EVENTS,
    TOPIC_MESSAGES,
    TOPICS,
    dead_letter_topic,
)

__all__ = [name for name in dir() if not name.startswith("_")]
