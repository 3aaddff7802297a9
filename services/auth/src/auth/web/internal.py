"""Internal HTTP API for the other services, on auth's internal listener (127.0.0.1 by default).

Every call needs a caller's bearer token (``AUTH_API_CLIENTS``): ingest's has the scope
``access_tokens``, the portal's the scope ``links``; neither can use the other's endpoints.

GET  /internal/grants/{grant_id}/access-token           -> 200 | 404 | 410 | 503 + Retry-After
     (503 ``error``: ``refresh_not_yet_allowed`` - Exact's 570 s rule - or ``exact_unavailable``)
POST /internal/grants/{grant_id}/access-token/rejected  -> 202 | 404
GET  /internal/authorizations/{authorization_id}/link   -> 200 | 404 | 410
POST /internal/authorizations/{authorization_id}/revoke -> 200 {"revoked": bool} | 404
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from auth import metrics
from auth.domain.errors import (
    AuthorizationNotFound,
    ExactError,
    GrantGone,
    GrantNotFound,
    LinkError,
    RefreshNotYetAllowed,
)
from auth.usecases import authorizations, tokens
from auth.web.pages import Deps
from connector_runtime.access import require

TOKENS = [Depends(require("access_tokens"))]
LINKS = [Depends(require("links"))]


class AccessTokenOut(BaseModel):
    access_token: str
    expires_at: str
    division: int


class RejectedIn(BaseModel):
    access_token_sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]


class LinkOut(BaseModel):
    url: str
    mode: str
    expires_at: str


def _error(status: int, error: str, reason: str, headers: dict[str, str] | None = None
           ) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason}, status_code=status,
                        headers={"Cache-Control": "no-store", **(headers or {})})


def _iso(value: Any) -> str:
    return str(value.astimezone(UTC).isoformat().replace("+00:00", "Z"))


def build_internal_router(retry_after_seconds: int) -> APIRouter:
    router = APIRouter(prefix="/internal", tags=["internal"])

    def unavailable(reason: str, seconds: float, error: str = "exact_unavailable"
                    ) -> JSONResponse:
        return _error(503, error, reason, {"Retry-After": str(max(1, math.ceil(seconds)))})

    @router.get("/grants/{grant_id}/access-token", response_model=AccessTokenOut,
                responses={404: {}, 410: {}, 503: {}}, dependencies=TOKENS)
    async def access_token(grant_id: uuid.UUID, deps: Deps) -> Any:
        try:
            token = await tokens.access_token(deps, grant_id)
        except GrantNotFound:
            metrics.access_token_answer("unknown_grant")
            return _error(404, "unknown_grant", "No grant with this id.")
        except GrantGone as exc:
            metrics.access_token_answer("grant_revoked")
            return _error(410, "grant_revoked", exc.reason)
        except RefreshNotYetAllowed as exc:
            metrics.access_token_answer("unavailable")
            return unavailable("Exact Online does not allow a new access token yet "
                               "(570 s rule).", exc.retry_after, "refresh_not_yet_allowed")
        except ExactError as exc:
            metrics.access_token_answer("unavailable")
            return unavailable(str(exc), retry_after_seconds)
        metrics.access_token_answer("served")
        return JSONResponse(
            AccessTokenOut(access_token=token.access_token, expires_at=_iso(token.expires_at),
                           division=token.division).model_dump(),
            headers={"Cache-Control": "no-store"})

    @router.post("/grants/{grant_id}/access-token/rejected", status_code=202,
                 responses={404: {}}, dependencies=TOKENS)
    async def rejected(grant_id: uuid.UUID, body: RejectedIn, deps: Deps) -> Any:
        try:
            current = await tokens.report_rejected(deps, grant_id, body.access_token_sha256)
        except GrantNotFound:
            return _error(404, "unknown_grant", "No grant with this id.")
        return JSONResponse({"current": current}, status_code=202)

    @router.get("/authorizations/{authorization_id}/link", response_model=LinkOut,
                responses={404: {}, 410: {}}, dependencies=LINKS)
    async def link(authorization_id: uuid.UUID, deps: Deps) -> Any:
        try:
            found = await authorizations.link_for_portal(deps, authorization_id)
        except AuthorizationNotFound:
            return _error(404, "unknown_authorization", "No authorization with this id.")
        except LinkError as exc:
            return _error(410, exc.reason, str(exc))
        return JSONResponse(
            LinkOut(url=found.url, mode=found.mode, expires_at=_iso(found.expires_at)).model_dump(),
            headers={"Cache-Control": "no-store"})

    @router.post("/authorizations/{authorization_id}/revoke", responses={404: {}},
                 dependencies=LINKS)
    async def revoke(authorization_id: uuid.UUID, deps: Deps) -> Any:
        try:
            revoked = await authorizations.revoke_link(deps, authorization_id)
        except AuthorizationNotFound:
            return _error(404, "unknown_authorization", "No authorization with this id.")
        return JSONResponse({"revoked": revoked}, headers={"Cache-Control": "no-store"})

    return router
