"""The datasource's decision on a recreate: the new grant replaces the old one, or is
discarded and the old one stays untouched."""

from __future__ import annotations

import uuid

import structlog

import contracts as c
from auth.ports import Dependencies

log = structlog.get_logger("auth.recreate")

CONSUMER = "auth.recreate_decisions"


async def recreate_accepted(deps: Dependencies, message: c.RecreateAccepted) -> None:
    p = message.payload
    async with deps.uow() as uow:
        if not await uow.first_delivery(CONSUMER, message.message_id):
            return
        grant = await uow.grants.get(p.grant_id, for_update=True)
        if grant is None or grant.datasource_id != message.datasource_id:
            # nothing is retired on the word of a decision about a grant we did not issue
            # for this data source
            log.warning("recreate_accepted_for_unknown_grant", grant_id=str(p.grant_id))
            await uow.commit()
            return
        grant.accept()
        await uow.grants.save(grant)
        if p.previous_grant_id is not None and p.previous_grant_id != p.grant_id:
            previous = await uow.grants.get(p.previous_grant_id, for_update=True)
            if previous is not None and previous.datasource_id == message.datasource_id:
                previous.retire()
                await uow.grants.save(previous)
        await uow.commit()
    log.info("grant_accepted", grant_id=str(p.grant_id),
             previous_grant_id=str(p.previous_grant_id) if p.previous_grant_id else None)


async def recreate_rejected(deps: Dependencies, message: c.RecreateRejected) -> None:
    await _discard(deps, message.message_id, message.payload.offered_grant_id, message.payload.reason)


async def offered_grant_refused(deps: Dependencies, message: c.DataSourceAuthorizationFailed) -> None:
    """Datasource refused a grant auth issued (e.g. its division backs another data source)."""
    if message.payload.offered_grant_id is not None:
        await _discard(deps, message.message_id, message.payload.offered_grant_id,
                       message.payload.reason)


async def grant_disowned(deps: Dependencies, message: c.DataSourceDisowned) -> None:
    """"Not my company": the customer disowned the connected company; its tokens are deleted
    and the grant hands out no access token any more."""
    await _discard(deps, message.message_id, message.payload.grant_id, message.payload.reason,
                   message.datasource_id)


async def _discard(deps: Dependencies, message_id: uuid.UUID, grant_id: uuid.UUID, reason: str,
                   datasource_id: uuid.UUID | None = None) -> None:
    async with deps.uow() as uow:
        if not await uow.first_delivery(CONSUMER, message_id):
            return
        grant = await uow.grants.get(grant_id, for_update=True)
        if grant is None or (datasource_id is not None and grant.datasource_id != datasource_id):
            log.warning("refused_grant_unknown", grant_id=str(grant_id))
        else:
            grant.discard(reason)
            await uow.grants.save(grant)
        await uow.commit()
    log.info("grant_discarded", grant_id=str(grant_id))
