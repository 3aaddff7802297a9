"""Who may call a service's HTTP API: per-caller bearer tokens, scopes and tenants.

Every API other than the public browser pages and health checks needs a caller. A service is
configured with its callers (``<PREFIX>_API_CLIENTS``, a JSON list); each has a name, the
SHA-256 of its token (the service never holds the token itself), the scopes it may use and,
optionally, the company domains (tenants) it may read. Rotation: add an entry with the new
token's hash for the same caller, switch the caller over, remove the old entry.

``python -m connector_runtime.access`` prints a new token and its entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)
ALL_SCOPES = "*"


class ApiClient(BaseModel):
    """One caller of a service's API."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=60)]
    token_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    scopes: tuple[str, ...] = (ALL_SCOPES,)
    company_domains: tuple[uuid.UUID, ...] | None = None
    """The tenants this caller may read; None: every company domain (operators)."""

    def allows(self, scope: str) -> bool:
        return ALL_SCOPES in self.scopes or scope in self.scopes

    def may_read_domain(self, company_domain_id: uuid.UUID) -> bool:
        return self.company_domains is None or company_domain_id in self.company_domains


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def identify(clients: Sequence[ApiClient], authorization: str | None) -> ApiClient | None:
    """The caller whose token the ``Authorization`` header carries; None for anyone else.

    Every entry is compared (in constant time), so the answer time does not tell which
    caller nearly matched."""
    match = _BEARER.match(authorization or "")
    if match is None:
        return None
    presented = token_sha256(match.group(1))
    found = None
    for client in clients:
        if hmac.compare_digest(presented, client.token_sha256):
            found = client
    return found


def require(scope: str) -> Callable[[Request], ApiClient]:
    """A FastAPI dependency: the caller, when it may use ``scope``; 401 / 403 otherwise.

    The callers are read from ``request.app.state.api_clients``."""

    def caller(request: Request) -> ApiClient:
        clients: Sequence[ApiClient] = getattr(request.app.state, "api_clients", ())
        client = identify(clients, request.headers.get("authorization"))
        if client is None:
            raise HTTPException(401, detail={"error": "unauthorized",
                                             "reason": "A valid bearer token is required."},
                                headers={"WWW-Authenticate": "Bearer"})
        if not client.allows(scope):
            raise HTTPException(403, detail={"error": "forbidden",
                                             "reason": f"This caller may not use {scope}."})
        return client

    return caller


def new_client(name: str, scopes: Sequence[str], company_domains: Sequence[str] = ()) -> tuple[str, str]:
    """A fresh token and the JSON entry that lets it in."""
    token = secrets.token_urlsafe(32)
    entry: dict[str, object] = {"name": name, "token_sha256": token_sha256(token),
                                "scopes": list(scopes) or [ALL_SCOPES]}
    if company_domains:
        entry["company_domains"] = list(company_domains)
    return token, json.dumps(entry)


def main() -> None:
    args = sys.argv[1:]
    if not args:
        sys.stderr.write("usage: python -m connector_runtime.access NAME [SCOPE ...]\n")
        raise SystemExit(2)
    token, entry = new_client(args[0], args[1:])
    sys.stdout.write(f"token (give to the caller): {token}\nentry (add to *_API_CLIENTS): {entry}\n")


if __name__ == "__main__":
    main()
