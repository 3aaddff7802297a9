"""The datasource service's domain: pure Python, standard library only."""

from datasource.domain import errors, events
from datasource.domain.model import DataSource
from datasource.domain.runs import (
    BalanceDifference,
    Budget,
    EntityProgress,
    LastSync,
    Run,
    RunFailure,
    RunStatus,
    TrialBalance,
    datasource_run_status,
    is_sync,
    newest_by_role,
)
from datasource.domain.values import (
    DIVISION_ALREADY_CONNECTED,
    AuthorizationFailure,
    AuthorizationLink,
    Binding,
    CompanyDomain,
    ExpectedCompany,
    OfferedGrant,
    PendingAuthorization,
    Reauthorization,
    RecreateRejection,
    State,
)

__all__ = [
    "DIVISION_ALREADY_CONNECTED",
    "AuthorizationFailure",
    "AuthorizationLink",
    "BalanceDifference",
    "Binding",
    "Budget",
    "CompanyDomain",
    "DataSource",
    "EntityProgress",
    "ExpectedCompany",
    "LastSync",
    "OfferedGrant",
    "PendingAuthorization",
    "Reauthorization",
    "RecreateRejection",
    "Run",
    "RunFailure",
    "RunStatus",
    "State",
    "TrialBalance",
    "datasource_run_status",
    "errors",
    "events",
    "is_sync",
    "newest_by_role",
]
