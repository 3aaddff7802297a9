"""One function per message: load, let the domain decide, commit once.

Each runs in one unit of work: the inbox mark (a redelivered message is a no-op),
the state change and the outbox messages commit together or not at all. A
refused command raises :class:`~datasource.domain.errors.CommandRefused` with nothing
written; the subscriber then records the refusal with :func:`reject_command`. An
event that does not apply (stale authorization, revoked grant that is not current,
unknown data source) is logged and counted as handled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeAlias
from uuid import UUID, uuid4

import structlog

import contracts as c
from datasource import metrics
from datasource.domain import CompanyDomain, DataSource, ExpectedCompany, OfferedGrant, Run
from datasource.domain.errors import (
    CommandRefused,
    CompanyDomainExists,
    DataSourceExists,
    Ignored,
    InvalidCommand,
    UnknownCompanyDomain,
    UnknownDataSource,
    UnknownSubject,
)
from datasource.domain.events import Event
from datasource.ports import Clock, NewId, UnitOfWork
from datasource.usecases import messages
from datasource.usecases.runevents import RunEvent, apply_run_event

log = structlog.get_logger("datasource.usecases")

COMMANDS = "datasource.commands"
AUTH_EVENTS = "datasource.auth-events"
RUN_EVENTS = "datasource.run-events"

ALL_ENTITY_NAMES: tuple[str, ...] = tuple(e.value for e in c.ALL_ENTITIES)


def utcnow() -> datetime:
    return datetime.now(UTC)


Command: TypeAlias = (c.CreateDataSource | c.RecreateDataSource | c.RequestReimport
                      | c.ConfirmConnection | c.DisownConnection)
AuthEvent: TypeAlias = (c.AuthorizationLinkIssued | c.ExactAuthorized | c.AuthorizationFailed
                        | c.GrantRevoked | c.GrantExpiring)


async def handle_command(command: Command, uow: UnitOfWork, *, clock: Clock = utcnow,
                         new_id: NewId = uuid4) -> None:
    async with uow:
        if not await uow.first_delivery(COMMANDS, command.message_id):
            metrics.command(command.type, "duplicate")
            return
        match command:
            case c.CreateDataSource():
                ds = await _create(command, uow, clock(), new_id)
            case c.RecreateDataSource():
                ds = await _recreate(command, uow, clock(), new_id)
            case c.RequestReimport():
                ds = await _reimport(command, uow, clock(), new_id)
            case c.ConfirmConnection():
                ds = await _confirm(command, uow, clock(), new_id)
            case c.DisownConnection():
                ds = await _disown(command, uow, clock())
        await _publish(uow, ds.events, command.correlation_id)
        await uow.commit()
    metrics.command(command.type, "applied")
    log.info("command_applied", state=ds.state.value)


async def reject_command(command: Command, refusal: CommandRefused, uow: UnitOfWork) -> None:
    """Record a refused command: the inbox mark and ``CommandRejected``, in one transaction."""
    async with uow:
        if not await uow.first_delivery(COMMANDS, command.message_id):
            return
        message = messages.command_rejected(command, refusal.code, refusal.reason)
        await uow.publish(c.DATASOURCE_EVENTS, message)
        await uow.commit()
    metrics.command(command.type, refusal.code)
    log.info("command_rejected", reason_code=refusal.code, reason=refusal.reason)


async def handle_auth_event(event: AuthEvent, uow: UnitOfWork, *, clock: Clock = utcnow,
                            new_id: NewId = uuid4, confirm_unverified: bool = False) -> None:
    """``confirm_unverified``: the policy ``confirm`` (a company nobody named in advance waits
    for ConfirmConnection before its initial run)."""
    async with uow:
        if not await uow.first_delivery(AUTH_EVENTS, event.message_id):
            return
        events: list[Event] = []
        if isinstance(event, c.GrantExpiring):  # a warning for operators; nothing changes yet
            log.warning("grant_expiring", grant_id=str(event.payload.grant_id),
                        refresh_expires_at=event.payload.refresh_expires_at.isoformat(),
                        reason=event.payload.reason)
            await uow.commit()
            return
        try:
            match event:
                case c.AuthorizationLinkIssued():
                    ds = await _datasource(uow, event.datasource_id)
                    ds.link_issued(event.payload.authorization_id, fetch_url=event.payload.fetch_url,
                                   expires_at=event.payload.expires_at, now=clock())
                case c.ExactAuthorized():
                    ds = await _authorized(event, uow, clock(), new_id, confirm_unverified)
                case c.AuthorizationFailed():
                    ds = await _datasource(uow, event.datasource_id)
                    ds.authorization_failed(event.payload.authorization_id,
                                            code=event.payload.reason_code,
                                            reason=event.payload.reason, now=clock())
                case c.GrantRevoked():
                    found = await uow.datasources.get_by_grant(event.payload.grant_id)
                    if found is None:
                        raise UnknownSubject(f"grant {event.payload.grant_id} is no data source's grant")
                    ds = found
                    ds.grant_revoked(event.payload.grant_id, reason=event.payload.reason, now=clock())
            await uow.datasources.update(ds)
            events = ds.events
        except Ignored as ignored:
            log.warning("event_ignored", why=ignored.code, detail=ignored.detail)
        await _publish(uow, events, event.correlation_id)
        await uow.commit()


async def handle_run_event(event: RunEvent, uow: UnitOfWork, *, clock: Clock = utcnow) -> None:
    async with uow:
        if not await uow.first_delivery(RUN_EVENTS, event.message_id):
            return
        events: list[Event] = []
        try:
            events = await apply_run_event(event, uow, clock())
        except Ignored as ignored:
            log.warning("event_ignored", why=ignored.code, detail=ignored.detail)
        await _publish(uow, events, event.correlation_id)
        await uow.commit()


# -- commands ---------------------------------------------------------------------------------

async def _create(command: c.CreateDataSource, uow: UnitOfWork, now: datetime,
                  new_id: NewId) -> DataSource:
    p = command.payload
    if await uow.datasources.get(command.datasource_id) is not None:
        raise DataSourceExists(f"A data source with id {command.datasource_id} already exists.")
    if p.company_domain_id is not None:
        if p.new_company_domain_id is not None:
            raise InvalidCommand("new_company_domain_id is only for a new company domain.")
        domain = await uow.domains.get(p.company_domain_id)
        if domain is None:
            raise UnknownCompanyDomain(f"There is no company domain with id {p.company_domain_id}.")
        created = False
    else:
        domain_id = p.new_company_domain_id or new_id()
        if await uow.domains.get(domain_id) is not None:
            raise CompanyDomainExists(f"A company domain with id {domain_id} already exists.")
        domain = CompanyDomain(domain_id, p.new_company_domain_name or "", p.requested_by, now)
        await uow.domains.add(domain)
        created = True
    ds = DataSource.create(datasource_id=command.datasource_id, domain=domain,
                           domain_created=created, mode=p.authorization_mode,
                           requested_by=p.requested_by, authorization_id=new_id(), now=now,
                           expected=_expected(p.expected_company))
    await uow.datasources.add(ds)
    return ds


async def _recreate(command: c.RecreateDataSource, uow: UnitOfWork, now: datetime,
                    new_id: NewId) -> DataSource:
    ds = await _existing(uow, command.datasource_id)
    domain = await uow.domains.get(ds.company_domain_id)
    if domain is None:  # a foreign key makes this impossible
        raise UnknownCompanyDomain(f"There is no company domain with id {ds.company_domain_id}.")
    ds.request_recreate(authorization_id=new_id(), mode=command.payload.authorization_mode,
                        requested_by=command.payload.requested_by, domain=domain, now=now,
                        expected=_expected(command.payload.expected_company))
    await uow.datasources.update(ds)
    return ds


async def _reimport(command: c.RequestReimport, uow: UnitOfWork, now: datetime,
                    new_id: NewId) -> DataSource:
    ds = await _existing(uow, command.datasource_id)
    p = command.payload
    entities = tuple(e.value for e in p.entities) if p.entities else ALL_ENTITY_NAMES
    run = ds.request_reimport(run_id=new_id(), entities=tuple(dict.fromkeys(entities)),
                              date_from=p.date_from, date_to=p.date_to, now=now)
    await uow.runs.add(run)
    await uow.datasources.update(ds)
    return ds


async def _confirm(command: c.ConfirmConnection, uow: UnitOfWork, now: datetime,
                   new_id: NewId) -> DataSource:
    ds = await _existing(uow, command.datasource_id)
    run = ds.confirm(run_id=new_id(), entities=ALL_ENTITY_NAMES,
                     confirmed_by=command.payload.requested_by, now=now)
    await uow.runs.add(run)
    await uow.datasources.update(ds)
    return ds


async def _disown(command: c.DisownConnection, uow: UnitOfWork, now: datetime) -> DataSource:
    ds = await _existing(uow, command.datasource_id)
    ds.disown(disowned_by=command.payload.requested_by, reason=command.payload.reason,
              run_ids=tuple(await uow.runs.ids_of(ds.id)), now=now)
    await uow.datasources.update(ds)
    return ds


async def _existing(uow: UnitOfWork, datasource_id: UUID) -> DataSource:
    ds = await uow.datasources.get(datasource_id)
    if ds is None:
        raise UnknownDataSource(f"There is no data source with id {datasource_id}.")
    return ds


def _expected(company: c.ExpectedCompany | None) -> ExpectedCompany | None:
    return None if company is None else ExpectedCompany(company.division, company.vat_number)


# -- auth events ------------------------------------------------------------------------------

async def _authorized(event: c.ExactAuthorized, uow: UnitOfWork, now: datetime,
                      new_id: NewId, confirm_unverified: bool) -> DataSource:
    p = event.payload
    ds = await _datasource(uow, event.datasource_id)
    # Serializes binding divisions within the company domain across consumers and replicas.
    await uow.domains.get(ds.company_domain_id, lock=True)
    conflict = await uow.datasources.bound_to(ds.company_domain_id, p.division, other_than=ds.id)
    offer = OfferedGrant(p.authorization_id, p.grant_id, p.division, p.division_name,
                         p.exact_user_name, p.vat_number, p.company_verified)
    run: Run | None = ds.authorized(offer, conflicting_datasource=conflict, run_id=new_id(),
                                    entities=ALL_ENTITY_NAMES, now=now,
                                    confirm_unverified=confirm_unverified)
    if run is not None:
        await uow.runs.add(run)
    return ds


async def _datasource(uow: UnitOfWork, datasource_id: UUID) -> DataSource:
    ds = await uow.datasources.get(datasource_id)
    if ds is None:
        raise UnknownSubject(f"there is no data source {datasource_id}")
    return ds


async def _publish(uow: UnitOfWork, events: list[Event], correlation_id: UUID) -> None:
    for topic, message in messages.to_messages(events, correlation_id, uow.claims):
        await uow.publish(topic, message)
        log.info("event_recorded", topic=topic, event_type=message.type,
                 out_message_id=str(message.message_id))
