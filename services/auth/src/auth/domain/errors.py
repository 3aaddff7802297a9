"""The auth service's exception tree.

AuthError
├── LinkError                 a link cannot be used (the page says why; nothing changes)
│   ├── LinkInvalid           tampered or unknown
│   ├── LinkExpired
│   ├── LinkUsed              the authorization already ended, or another browser uses it
│   └── LinkRevoked           replaced by a newer authorization for the data source
├── SignInError               an OAuth callback or page request that cannot be honoured
│   ├── ForgedState           state missing, tampered, stale, or from another browser
│   ├── WrongStep             the authorization is not at the step the request is for
│   └── DivisionsNotReadable  the company open in Exact is not among those access was given to
├── AuthorizationNotFound
├── GrantError
│   ├── GrantNotFound
│   ├── GrantGone             revoked, retired or discarded (``reason``)
│   └── RefreshNotYetAllowed  the 570 s rule: try again in ``retry_after`` seconds
├── ExactError                Exact Online answered badly (adapters raise these)
│   ├── ExactUnavailable      transient: 5xx, timeout, connection, rate limit
│   ├── ExactRefused          the token endpoint refused a refresh token for good
│   ├── ExactTooEarly         the token endpoint says the 570 s rule is not over yet
│   └── ExactRejected         an API call or code exchange was refused (4xx)
│       └── CodeAnswerLost    the code exchange's answer was lost, and the retry found
│                             the single-use code used: a new sign-in is needed
└── StoredTokenUnreadable     no configured key decrypts a stored token

Messages never contain a token, code, state or link.
"""

from __future__ import annotations


class AuthError(Exception):
    """Base of every error of the auth service."""


class LinkError(AuthError):
    reason = "link_invalid"


class LinkInvalid(LinkError):
    reason = "link_invalid"


class LinkExpired(LinkError):
    reason = "link_expired"


class LinkUsed(LinkError):
    reason = "link_used"


class LinkRevoked(LinkError):
    reason = "link_revoked"


class SignInError(AuthError):
    pass


class ForgedState(SignInError):
    pass


class WrongStep(SignInError):
    pass


class DivisionsNotReadable(SignInError):
    def __init__(self, current_division: int | None) -> None:
        super().__init__(f"the divisions cannot be read through division {current_division}")
        self.current_division = current_division


class AuthorizationNotFound(AuthError):
    pass


class GrantError(AuthError):
    pass


class GrantNotFound(GrantError):
    pass


class GrantGone(GrantError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RefreshNotYetAllowed(GrantError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"a new access token is allowed in {retry_after:.0f} s")
        self.retry_after = retry_after


class ExactError(AuthError):
    pass


class ExactUnavailable(ExactError):
    pass


class ExactRefused(ExactError):
    pass


class ExactTooEarly(ExactError):
    pass


class ExactRejected(ExactError):
    def __init__(self, message: str, status: int = 400, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class CodeAnswerLost(ExactRejected):
    """Exact may have taken the authorization code, but its answer was lost on the way."""


class StoredTokenUnreadable(AuthError):
    """A stored token cannot be decrypted with any configured key (key misconfigured)."""
