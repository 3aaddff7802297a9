"""Ports: what the use cases need from the outside world, and the values they are given.

Adapters in ``auth.adapters`` implement these against PostgreSQL, Exact Online (Authlib
and httpx) and itsdangerous; the unit tests implement them in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol

from auth.domain.exact import DivisionChoice, ExactUser
from auth.domain.grants import Grant
from auth.domain.model import AuthorizationSession
from auth.domain.tokens import KeepAlivePolicy, RefreshPolicy, TokenSet
from contracts import Message

Clock = Callable[[], datetime]
"""Now, timezone-aware UTC."""


class SessionRepository(Protocol):
    async def add(self, session: AuthorizationSession) -> None: ...

    async def get(self, authorization_id: uuid.UUID, *, for_update: bool = False
                  ) -> AuthorizationSession | None: ...

    async def save(self, session: AuthorizationSession) -> None: ...

    async def open_for_datasource(self, datasource_id: uuid.UUID) -> list[AuthorizationSession]:
        """Open sessions of a data source, locked for update."""
        ...

    async def expired(self, now: datetime, limit: int) -> list[AuthorizationSession]:
        """Open sessions whose link expired, locked (skipping rows others hold)."""
        ...


class GrantRepository(Protocol):
    async def add(self, grant: Grant) -> None: ...

    async def get(self, grant_id: uuid.UUID, *, for_update: bool = False) -> Grant | None: ...

    async def save(self, grant: Grant) -> None: ...

    async def idle(self, refreshed_before: datetime, limit: int) -> list[uuid.UUID]:
        """Usable grants whose refresh token was issued before ``refreshed_before``,
        oldest first."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; nothing is kept unless :meth:`commit` is called."""

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def grants(self) -> GrantRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    async def first_delivery(self, consumer: str, message_id: uuid.UUID) -> bool: ...

    async def publish(self, topic: str, *messages: Message) -> None:
        """Queue messages in the outbox of this transaction."""
        ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class ExactOAuth(Protocol):
    """Exact Online's OAuth endpoints for one registered app."""

    def authorization_url(self, region: str, state: str) -> str: ...

    async def exchange_code(self, region: str, code: str) -> TokenSet: ...

    async def refresh(self, region: str, refresh_token: str) -> TokenSet: ...


class ExactApi(Protocol):
    """The few REST calls sign-in needs, with a user's access token."""

    async def current_user(self, region: str, access_token: str) -> ExactUser: ...

    async def divisions(self, region: str, access_token: str, candidates: Sequence[int]
                        ) -> tuple[DivisionChoice, ...]:
        """Divisions the user gave access to, read through the first candidate division
        that is itself accessible."""
        ...

    async def role_ids(self, region: str, access_token: str, division: int,
                       user_id: uuid.UUID) -> set[int]: ...

    async def has_rights(self, region: str, access_token: str, division: int,
                         endpoint: str) -> bool: ...


class LinkSigner(Protocol):
    def link_token(self, authorization_id: uuid.UUID, nonce: str) -> str: ...

    def link_tokens(self, authorization_id: uuid.UUID, nonce: str) -> list[str]:
        """The same link under every verifying key (key rotation), the signing key's first."""
        ...

    def read_link(self, token: str) -> tuple[uuid.UUID, str]:
        """Raise LinkInvalid for a tampered or foreign token."""
        ...

    def new_state(self, authorization_id: uuid.UUID) -> str: ...

    def read_state(self, state: str) -> uuid.UUID:
        """Raise ForgedState for a tampered, foreign or stale state."""
        ...


@dataclass(frozen=True)
class RegionInfo:
    code: str
    name: str
    host: str
    supported: bool


@dataclass(frozen=True)
class Config:
    """Settings the use cases need, as plain values."""

    link_ttl_seconds: Mapping[str, int]
    admin_role_ids: tuple[int, ...]
    rights_endpoints: tuple[str, ...]
    regions: tuple[RegionInfo, ...]
    refresh: RefreshPolicy
    keepalive: KeepAlivePolicy
    public_base_url: str
    internal_base_url: str

    def region(self, code: str) -> RegionInfo | None:
        return next((r for r in self.regions if r.code == code), None)

    @property
    def supported_regions(self) -> tuple[RegionInfo, ...]:
        return tuple(r for r in self.regions if r.supported)


@dataclass(frozen=True)
class Dependencies:
    """Everything a use case may use, built once in the lifespan (or by a test)."""

    uow: UnitOfWorkFactory
    clock: Clock
    signer: LinkSigner
    oauth: ExactOAuth
    exact: ExactApi
    config: Config
