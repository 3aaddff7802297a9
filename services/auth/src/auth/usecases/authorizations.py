"""Authorization sessions from the datasource's requests, their links, and link expiry."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

import contracts as c
from auth.domain.errors import AuthorizationNotFound, LinkInvalid
from auth.domain.exact import ExpectedCompany
from auth.domain.model import AuthorizationSession
from auth.domain.tokens import sha256_hex
from auth.ports import Dependencies
from auth.usecases.messages import publish_events
from connector_runtime.observability.logcontext import bind

log = structlog.get_logger("auth.authorizations")

CONSUMER = "auth.authorization_requested"


def share_url(deps: Dependencies, token: str) -> str:
    return f"{deps.config.public_base_url}/share/{token}"


async def open_authorization(deps: Dependencies, message: c.AuthorizationRequested) -> bool:
    """Create the session and announce its link; False for a redelivered request.

    Open sessions of the same data source are revoked: only the newest link works.
    """
    p = message.payload
    now = deps.clock()
    async with deps.uow() as uow:
        if not await uow.first_delivery(CONSUMER, message.message_id):
            return False
        if await uow.sessions.get(p.authorization_id) is not None:
            await uow.commit()
            log.info("authorization_already_open", authorization_id=str(p.authorization_id))
            return False
        for older in await uow.sessions.open_for_datasource(message.datasource_id):
            if older.revoke(now):
                await uow.sessions.save(older)
                await publish_events(uow, older, deps.config.internal_base_url)
                log.info("authorization_link_revoked", authorization_id=str(older.authorization_id),
                         replaced_by=str(p.authorization_id))
        nonce = secrets.token_urlsafe(32)
        token = deps.signer.link_token(p.authorization_id, nonce)
        ttl = deps.config.link_ttl_seconds[p.mode]
        session = AuthorizationSession.open(
            link_nonce=nonce, link_token_sha256=sha256_hex(token),
            link_expires_at=now + timedelta(seconds=ttl), now=now,
            authorization_id=p.authorization_id, datasource_id=message.datasource_id,
            correlation_id=message.correlation_id, purpose=p.purpose, mode=p.mode,
            company_domain_id=p.company_domain_id, company_domain_name=p.company_domain_name,
            requested_by=p.requested_by, bound_division=p.bound_division,
            expected=None if p.expected_company is None else ExpectedCompany(
                p.expected_company.division, p.expected_company.vat_number),
        )
        await uow.sessions.add(session)
        await publish_events(uow, session, deps.config.internal_base_url)
        await uow.commit()
    log.info("authorization_link_issued", authorization_id=str(p.authorization_id),
             purpose=p.purpose, mode=p.mode, expires_at=session.link_expires_at.isoformat())
    return True


@dataclass(frozen=True)
class PortalLink:
    url: str = field(repr=False)
    mode: str
    expires_at: datetime


async def link_for_portal(deps: Dependencies, authorization_id: uuid.UUID) -> PortalLink:
    """The link the portal shows; raises a LinkError when it can no longer be used."""
    async with deps.uow() as uow:
        session = await uow.sessions.get(authorization_id)
    if session is None:
        raise AuthorizationNotFound(str(authorization_id))
    bind(authorization_id=session.authorization_id, datasource_id=session.datasource_id,
         correlation_id=session.correlation_id)
    session.link_fetchable(deps.clock())
    # the link exactly as issued: signed with the key that was current then (key rotation)
    token = next((t for t in deps.signer.link_tokens(session.authorization_id, session.link_nonce)
                  if sha256_hex(t) == session.link_token_sha256), None)
    if token is None:
        raise LinkInvalid("the key that signed this link was retired")
    return PortalLink(share_url(deps, token), session.mode, session.link_expires_at)


async def revoke_link(deps: Dependencies, authorization_id: uuid.UUID) -> bool:
    """The portal withdraws a link it sent (e.g. to the wrong person): it stops working at once
    and the authorization fails with ``link_revoked``. False when it had already ended."""
    now = deps.clock()
    async with deps.uow() as uow:
        session = await uow.sessions.get(authorization_id, for_update=True)
        if session is None:
            raise AuthorizationNotFound(str(authorization_id))
        bind(authorization_id=session.authorization_id, datasource_id=session.datasource_id,
             correlation_id=session.correlation_id)
        revoked = session.revoke(now, "The link was withdrawn by the person who sent it.")
        if revoked:
            await uow.sessions.save(session)
            await publish_events(uow, session, deps.config.internal_base_url)
        await uow.commit()
    log.info("authorization_link_withdrawn" if revoked else "authorization_link_already_ended",
             authorization_id=str(authorization_id))
    return revoked


async def expire_links(deps: Dependencies, batch: int = 100) -> int:
    """Close sessions whose link expired unused; each gets AuthorizationFailed(link_expired)."""
    now = deps.clock()
    async with deps.uow() as uow:
        sessions = [s for s in await uow.sessions.expired(now, batch) if s.expire(now)]
        for session in sessions:
            await uow.sessions.save(session)
            await publish_events(uow, session, deps.config.internal_base_url)
        await uow.commit()
    for session in sessions:
        log.info("authorization_link_expired", authorization_id=str(session.authorization_id))
    return len(sessions)
