"""Access tokens for ingest: single-flight refresh per grant across replicas.

The fast path reads the grant without a lock. When a refresh is due, the grant row is
locked (SELECT ... FOR UPDATE) for a short transaction that calls Exact's token endpoint
and stores the rotated refresh token before anyone sees the new access token; callers
waiting on the lock then find the fresh token and do not refresh again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from auth import metrics
from auth.domain.errors import (
    ExactError,
    ExactRefused,
    ExactTooEarly,
    GrantGone,
    GrantNotFound,
    RefreshNotYetAllowed,
)
from auth.domain.grants import Grant
from auth.domain.tokens import Action
from auth.ports import Dependencies
from auth.usecases.messages import publish_events
from connector_runtime.observability.logcontext import bind

log = structlog.get_logger("auth.tokens")


@dataclass(frozen=True)
class AccessToken:
    access_token: str = field(repr=False)
    expires_at: datetime
    division: int


def _bind(grant: Grant | None) -> None:
    """The rest of this request's log lines are about this grant's data source."""
    if grant is not None:
        bind(grant_id=grant.grant_id, datasource_id=grant.datasource_id,
             correlation_id=grant.correlation_id)


def _view(grant: Grant) -> AccessToken:
    tokens = grant.current_tokens()
    return AccessToken(tokens.access_token, tokens.access_expires_at, grant.division)


async def access_token(deps: Dependencies, grant_id: uuid.UUID) -> AccessToken:
    """A usable token (see :func:`auth.domain.tokens.decide`); raises GrantNotFound,
    GrantGone, RefreshNotYetAllowed or ExactUnavailable.

    A token ingest reported refused is refreshed at once: a revoked grant is known within
    one token call (GrantGone), not after the 570 s rule; Exact's too-early answer is kept
    on the grant so every caller waits for the time it allows."""
    policy = deps.config.refresh
    async with deps.uow() as uow:
        grant = await uow.grants.get(grant_id)
    _bind(grant)
    if grant is None:
        raise GrantNotFound(str(grant_id))
    if grant.token_decision(deps.clock(), policy).action is Action.USE:
        return _view(grant)
    async with deps.uow() as uow:
        grant = await uow.grants.get(grant_id, for_update=True)
        if grant is None:
            raise GrantNotFound(str(grant_id))
        decision = grant.token_decision(deps.clock(), policy)
        if decision.action is Action.USE:
            return _view(grant)  # another request refreshed while we waited for the lock
        if decision.action is Action.WAIT:
            raise RefreshNotYetAllowed(decision.wait_seconds)
        try:
            tokens = await deps.oauth.refresh(grant.region, grant.current_tokens().refresh_token)
        except ExactTooEarly as exc:
            wait = grant.too_early(deps.clock(), policy)
            await uow.grants.save(grant)
            await uow.commit()
            metrics.refresh("too_early")
            log.warning("access_token_refresh_too_early", grant_id=str(grant_id),
                        rejected=grant.refresh_requested, retry_in=round(wait, 1))
            raise RefreshNotYetAllowed(wait) from exc
        except ExactRefused as exc:
            grant.revoke(f"Exact Online refused to renew the access: {exc}")
            await uow.grants.save(grant)
            await publish_events(uow, grant, deps.config.internal_base_url)
            await uow.commit()
            metrics.refresh("refused")
            log.warning("grant_revoked", grant_id=str(grant_id), division=grant.division,
                        reason=grant.status_reason)
            raise GrantGone(grant.status_reason or "revoked") from exc
        except ExactError:
            metrics.refresh("unavailable")
            raise
        grant.rotate(tokens)
        await uow.grants.save(grant)
        await uow.commit()
    metrics.refresh("refreshed")
    log.info("access_token_refreshed", grant_id=str(grant_id), division=grant.division,
             expires_at=tokens.access_expires_at.isoformat())
    return _view(grant)


async def report_rejected(deps: Dependencies, grant_id: uuid.UUID, access_token_sha256: str
                          ) -> bool:
    """Exact answered 401 to this token; True when it is the grant's current one."""
    async with deps.uow() as uow:
        grant = await uow.grants.get(grant_id, for_update=True)
        _bind(grant)
        if grant is None:
            raise GrantNotFound(str(grant_id))
        current = grant.report_rejected(access_token_sha256)
        if current:
            await uow.grants.save(grant)
        await uow.commit()
    log.info("access_token_reported_rejected", grant_id=str(grant_id), current=current)
    return current
