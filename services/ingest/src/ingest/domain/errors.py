"""The ingest service's exceptions.

IngestError
├── ExactError                  something about Exact Online's API
│   ├── ExactUnavailable        transient: 5xx, timeout, dropped connection, broken JSON
│   │   ├── ExactServerError        5xx answer
│   │   ├── ExactTransportError     timeout or connection lost
│   │   └── MalformedResponse       the body is not the OData JSON we expect
│   ├── RateLimited             429; carries the reset the headers gave
│   ├── Unauthorized            401 (the access token was refused)
│   ├── Forbidden               403; carries Exact's ``Reason`` header
│   ├── ExactRequestRejected    400/404/other 4xx: our request is wrong, retrying will not help
│   │   └── RequiredFieldUnknown    Exact no longer knows a field the import cannot do without
│   ├── InvalidData             a well-formed page whose rows do not fit the contract
│   └── PageFailed              a page kept failing after every retry
├── BudgetSpent                 no call may be made now (daily budget or error budget); wait
├── TokenError                  asking auth for an access token failed
│   ├── GrantRevoked            410: the grant is gone, a recreate must bring a new one
│   ├── GrantUnknown            404: auth does not know the grant
│   ├── AuthUnavailable         auth could not hand out a token now (503, network)
│   └── TokenNotYetAllowed      Exact allows a new token only in ``wait_seconds``; wait
└── LeaseLost                   another replica owns the run now; stop without writing
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error the ingest service raises on purpose."""


class ExactError(IngestError):
    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class ExactUnavailable(ExactError):
    """A failure that goes away by itself; the same page is asked again."""


class ExactServerError(ExactUnavailable):
    pass


class ExactTransportError(ExactUnavailable):
    pass


class MalformedResponse(ExactUnavailable):
    pass


class RateLimited(ExactError):
    def __init__(self, message: str, *, endpoint: str = "", limit: str = "minutely") -> None:
        super().__init__(message, endpoint=endpoint, status=429)
        self.limit = limit


class Unauthorized(ExactError):
    pass


COMPANY_WIDE_403 = frozenset({"BlockedUser", "InactiveUser", "BlockedCustomer", "LicenseExpired",
                              "DivisionBlocked", "NoDivisionAccess"})
"""403 ``Reason`` values that bar the user or the whole company, not one endpoint (EXACT_API.md
section 3, Exact's wording as reported in picqer PR #451); any other 403 (e.g. "Application
Scope Violated", picqer issue #509) concerns the endpoint alone."""


class Forbidden(ExactError):
    def __init__(self, message: str, *, endpoint: str = "", reason: str | None = None) -> None:
        super().__init__(message, endpoint=endpoint, status=403)
        self.reason = reason


class ExactRequestRejected(ExactError):
    pass


class RequiredFieldUnknown(ExactRequestRejected):
    pass


class InvalidData(ExactError):
    pass


class PageFailed(ExactError):
    """Every attempt at one page failed; ``last`` is the final failure."""

    def __init__(self, message: str, *, endpoint: str = "", last: ExactError | None = None,
                 attempts: int = 0) -> None:
        super().__init__(message, endpoint=endpoint, status=last.status if last else None)
        self.last = last
        self.attempts = attempts


class BudgetSpent(IngestError):
    """No call may be made for ``wait_seconds`` (``kind``: daily or error_budget)."""

    def __init__(self, message: str, *, kind: str, wait_seconds: float) -> None:
        super().__init__(message)
        self.kind = kind
        self.wait_seconds = wait_seconds


class TokenError(IngestError):
    pass


class GrantRevoked(TokenError):
    pass


class GrantUnknown(TokenError):
    pass


class AuthUnavailable(TokenError):
    pass


class TokenNotYetAllowed(TokenError):
    """Exact refuses a new access token for ``wait_seconds`` more (its 570 s rule) and the
    current one was refused: no call can be made until then."""

    kind = "access_token"

    def __init__(self, message: str, *, wait_seconds: float) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


class LeaseLost(IngestError):
    pass
