"""Signed links and OAuth state, with itsdangerous and ``AUTH_LINK_SIGNING_KEY``.

A link token is the signature of ``[authorization_id, nonce]``: deterministic, so the
portal can fetch the same link again, and unforgeable without the key even by someone who
reads the database (which holds only the nonce and the token's SHA-256). The OAuth state is
a timed signature of ``[authorization_id, random]``; its SHA-256 is stored with the session.

Rotation: ``AUTH_LINK_SIGNING_KEY`` is ``KEY_ID:KEY,KEY_ID:KEY`` (or one plain key). The first
signs; every one verifies, so links and states signed before a rotation keep working until
the old key is dropped. :meth:`ItsDangerousSigner.link_tokens` gives a link under every key, so
the portal still gets the exact link that was issued (its hash is what the session keeps).
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from itsdangerous import BadData, URLSafeSerializer, URLSafeTimedSerializer

from auth.domain.errors import ForgedState, LinkInvalid

STATE_MAX_AGE_SECONDS = 3600


def _pair(value: Any) -> tuple[uuid.UUID, str]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise ValueError("unexpected payload")
    return uuid.UUID(value[0]), value[1]


def signing_keys(spec: str) -> list[tuple[str, str]]:
    """``[(key id, key), ...]``, the signing key first."""
    keys: list[tuple[str, str]] = []
    for part in (p.strip() for p in spec.split(",")):
        key_id, sep, key = part.partition(":")
        if sep and key_id.isalnum() and key:
            keys.append((key_id, key))
        elif part:
            keys.append(("default", part))
    if not keys:
        raise ValueError("AUTH_LINK_SIGNING_KEY is empty")
    return keys


class ItsDangerousSigner:
    def __init__(self, key: str, state_max_age: int = STATE_MAX_AGE_SECONDS) -> None:
        keys = [k for _id, k in signing_keys(key)]
        verify_all = list(reversed(keys))  # itsdangerous signs with the last, verifies with all
        self._links = URLSafeSerializer(verify_all, salt="exact-auth.link")
        self._each = [URLSafeSerializer(k, salt="exact-auth.link") for k in keys]
        self._states = URLSafeTimedSerializer(verify_all, salt="exact-auth.oauth-state")
        self._state_max_age = state_max_age

    def link_token(self, authorization_id: uuid.UUID, nonce: str) -> str:
        return str(self._links.dumps([str(authorization_id), nonce]))

    def link_tokens(self, authorization_id: uuid.UUID, nonce: str) -> list[str]:
        """The link under each key, the signing key's first."""
        return [str(s.dumps([str(authorization_id), nonce])) for s in self._each]

    def read_link(self, token: str) -> tuple[uuid.UUID, str]:
        try:
            return _pair(self._links.loads(token))
        except (BadData, ValueError):
            raise LinkInvalid("the link is not one of ours") from None

    def new_state(self, authorization_id: uuid.UUID) -> str:
        return str(self._states.dumps([str(authorization_id), secrets.token_urlsafe(24)]))

    def read_state(self, state: str) -> uuid.UUID:
        try:
            return _pair(self._states.loads(state, max_age=self._state_max_age))[0]
        except (BadData, ValueError):
            raise ForgedState("the state is not one of ours") from None
