"""Company domains and data sources: the data-source lifecycle as an explicit state machine.

::

    create ─▶ awaiting_authorization ──authorized──▶ connected ◀─────────────┐
                 │        ▲                         │     ▲  grant revoked  │ accepted
         failed/ │        │ recreate                │     │       ▼         │ (same division)
   division used ▼        │ (retry)        recreate │     │  needs_reauthorization
              authorization_failed                  ▼     │       │ recreate
                                                 recreating ◀─────┘
                                      rejected / failed: back to where it came from

* ``awaiting_authorization``: created (or a failed create retried); auth was asked
  for a grant with ``purpose=create``.
* ``authorization_failed``: the create's authorization failed (auth's reason, or the
  division already backs another data source of the company domain). Never
  connected. A ``RecreateDataSource`` retries the *create* authorization: there is
  no division to keep yet, so the first one authorized is bound.
* ``connected``: bound to one Exact division and the current grant. Authorization
  completed for a create also requests the initial run (kind ``initial``).
* ``recreating``: a recreate's authorization is in progress; the data source keeps
  its division and grant, and remembers the state to return to (``connected`` or
  ``needs_reauthorization``).
* ``awaiting_confirmation``: connected to a company nobody named in advance, with the
  policy ``confirm``: the initial run waits for ``ConfirmConnection``.
* ``needs_reauthorization``: the current grant was revoked (auth's ``GrantRevoked``,
  or a run failed with ``grant_revoked``); only a recreate helps.

A recreate authorized for the *same* division is accepted (the new grant replaces
the old one, no data is re-imported); for another division it is rejected and the
data source stays exactly as it was. One authorization is in progress at a time:
a recreate while one is pending is refused, because the first one's link may
still be completed. Authorization outcomes for any other authorization id are
stale and ignored.

An authorization may name the company it must connect (``ExpectedCompany``); auth refuses
any other, and an ``ExactAuthorized`` that does not match it fails here too. Without one, the
connection is *unverified*: the portal is told who connected which company, and "not my
company" (``disown``) disconnects it, has auth revoke the grant and tells downstream consumers
to purge the rows. The methods below check these rules, change state and record
the domain events that announce each change.

Size: one state machine; its transitions and their refusals are kept together so every rule
above can be checked against the code in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from uuid import UUID

from datasource.domain import events as ev
from datasource.domain.errors import InvalidState, NotConnected, NotCurrentGrant, StaleAuthorization
from datasource.domain.runs import Run
from datasource.domain.values import (
    DIVISION_ALREADY_CONNECTED,
    NOT_MY_COMPANY,
    UNEXPECTED_COMPANY,
    AuthorizationFailure,
    AuthorizationLink,
    Binding,
    CompanyDomain,
    ExpectedCompany,
    OfferedGrant,
    PendingAuthorization,
    Reauthorization,
    RecreateRejection,
    State,
)


@dataclass(eq=False)
class DataSource:
    id: UUID
    company_domain_id: UUID
    state: State
    authorization_mode: ev.Mode
    requested_by: str
    created_at: datetime
    updated_at: datetime
    binding: Binding | None = None
    pending: PendingAuthorization | None = None
    last_failure: AuthorizationFailure | None = None
    last_rejection: RecreateRejection | None = None
    reauthorization: Reauthorization | None = None
    events: list[ev.Event] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def create(cls, *, datasource_id: UUID, domain: CompanyDomain, domain_created: bool,
               mode: ev.Mode, requested_by: str, authorization_id: UUID, now: datetime,
               expected: ExpectedCompany | None = None) -> DataSource:
        ds = cls(id=datasource_id, company_domain_id=domain.id,
                 state=State.AWAITING_AUTHORIZATION, authorization_mode=mode,
                 requested_by=requested_by, created_at=now, updated_at=now)
        ds.events.append(ev.DataSourceCreated(ds.id, domain.id, domain.name, domain_created, mode,
                                              requested_by))
        ds._request_authorization(authorization_id, "create", mode, requested_by, domain, now,
                                  resume_state=State.AUTHORIZATION_FAILED, expected=expected)
        return ds

    def request_recreate(self, *, authorization_id: UUID, mode: ev.Mode, requested_by: str,
                         domain: CompanyDomain, now: datetime,
                         expected: ExpectedCompany | None = None) -> None:
        if self.state is State.AWAITING_AUTHORIZATION:
            raise NotConnected(
                "This data source was never connected: its first authorization is still in "
                "progress. Complete that authorization, or wait until it fails or its link expires."
            )
        if self.state is State.RECREATING:
            raise InvalidState(
                "A recreate of this data source is already in progress. Complete that "
                "authorization, or wait until it fails or its link expires."
            )
        if self.state is State.AWAITING_CONFIRMATION:
            raise InvalidState(
                "This data source waits for the customer to confirm the connected company. "
                "Confirm it, or say it is not the customer's company (disown), first."
            )
        if self.state is State.AUTHORIZATION_FAILED:
            self.authorization_mode = mode
            self._request_authorization(authorization_id, "create", mode, requested_by, domain, now,
                                        resume_state=State.AUTHORIZATION_FAILED, expected=expected)
            self.state = State.AWAITING_AUTHORIZATION
            return
        self._request_authorization(authorization_id, "recreate", mode, requested_by, domain, now,
                                    resume_state=self.state, expected=expected)
        self.state = State.RECREATING

    def link_issued(self, authorization_id: UUID, *, fetch_url: str, expires_at: datetime,
                    now: datetime) -> None:
        pending = self._pending_for(authorization_id)
        self.pending = replace(pending, link=AuthorizationLink(fetch_url, expires_at, now))
        self.updated_at = now

    def authorized(self, offer: OfferedGrant, *, conflicting_datasource: UUID | None,
                   run_id: UUID, entities: tuple[str, ...], now: datetime,
                   confirm_unverified: bool = False) -> Run | None:
        """Apply ``ExactAuthorized``; returns the initial run when a create got connected.

        ``conflicting_datasource`` is another data source of the same company domain
        already bound to ``offer.division``, if any. ``confirm_unverified``: a company that
        was not named in advance waits for the customer's confirmation before the run.
        """
        pending = self._pending_for(offer.authorization_id)
        if pending.expected is not None and not pending.expected.matches(offer.division,
                                                                         offer.vat_number):
            # Auth refuses this before issuing a grant; checked again so no grant for another
            # company can ever bind a data source.
            self._fail(pending, code=UNEXPECTED_COMPANY, now=now, offer=offer, reason=(
                f"The authorization was for Exact Online division {offer.division} "
                f"({offer.division_name}), which is not the company this link was made for. "
                "Nothing was connected."))
            return None
        offer = replace(offer, company_verified=pending.expected is not None)
        if pending.purpose == "create":
            return self._connect(pending, offer, conflicting_datasource, run_id, entities, now,
                                 confirm_unverified and not offer.company_verified)
        self._finish_recreate(pending, offer, now)
        return None

    def authorization_failed(self, authorization_id: UUID, *, code: str, reason: str,
                             now: datetime) -> None:
        pending = self._pending_for(authorization_id)
        self._fail(pending, code=code, reason=reason, now=now)

    def grant_revoked(self, grant_id: UUID, *, reason: str, now: datetime) -> None:
        binding = self.binding
        if binding is None or binding.grant_id != grant_id:
            raise NotCurrentGrant(f"grant {grant_id} is not the current grant of data source {self.id}")
        if self.state is State.NEEDS_REAUTHORIZATION or (
            self.pending is not None and self.pending.resume_state is State.NEEDS_REAUTHORIZATION
        ):
            raise NotCurrentGrant(f"grant {grant_id} is already known to be revoked")
        if self.state is State.RECREATING and self.pending is not None:
            self.pending = replace(self.pending, resume_state=State.NEEDS_REAUTHORIZATION)
        else:
            self.state = State.NEEDS_REAUTHORIZATION
        self.reauthorization = Reauthorization(grant_id, reason, now)
        self.updated_at = now
        self.events.append(ev.NeedsReauthorization(self.id, binding.division, grant_id, reason))

    def confirm(self, *, run_id: UUID, entities: tuple[str, ...], confirmed_by: str,
                now: datetime) -> Run:
        """The customer confirms the connected company is theirs: the initial run starts."""
        if self.state is not State.AWAITING_CONFIRMATION or self.binding is None:
            raise InvalidState(f"Only a data source awaiting confirmation can be confirmed; "
                               f"this one is {self.state.value}.")
        self.state = State.CONNECTED
        self.binding = replace(self.binding, verified=True)
        self.updated_at = now
        self.events.append(ev.ConnectionConfirmed(self.id, self.binding.division,
                                                  self.binding.grant_id, run_id, confirmed_by))
        return self._request_run("initial", self.binding, run_id, entities, now)

    def disown(self, *, disowned_by: str, reason: str | None, run_ids: tuple[UUID, ...],
               now: datetime) -> None:
        """"Not my company": disconnect, have auth revoke the grant, purge the rows downstream.

        The data source goes back to ``authorization_failed``: a recreate connects it again
        (the first company authorized is bound, as for a create).
        """
        binding = self.binding
        if binding is None:
            raise NotConnected("This data source is not connected to any company.")
        if self.state not in (State.CONNECTED, State.AWAITING_CONFIRMATION,
                              State.NEEDS_REAUTHORIZATION):
            raise InvalidState(f"A data source that is {self.state.value} cannot be disowned "
                               "now; wait until the authorization in progress ends.")
        why = reason or (f"{disowned_by} said Exact Online division {binding.division} "
                         f"({binding.division_name}) is not their company.")
        self.binding = self.reauthorization = self.last_rejection = None
        self.state = State.AUTHORIZATION_FAILED
        self.last_failure = AuthorizationFailure(UUID(int=0), "create", NOT_MY_COMPANY, why, now,
                                                 binding.division)
        self.updated_at = now
        self.events.append(ev.Disowned(self.id, binding.division, binding.division_name,
                                       binding.grant_id, disowned_by, why, self.state.value))
        self.events.append(ev.Purged(self.id, run_ids, binding.division, why))

    def request_reimport(self, *, run_id: UUID, entities: tuple[str, ...], date_from: date | None,
                         date_to: date | None, now: datetime) -> Run:
        if self.binding is None:
            raise NotConnected("This data source was never connected, so there is nothing to re-import.")
        if self.state is not State.CONNECTED:
            raise InvalidState(
                f"A re-import needs a connected data source; this one is {self.state.value}."
            )
        return self._request_run("reimport", self.binding, run_id, entities, now, date_from, date_to)

    # -- transitions -------------------------------------------------------------------------

    def _request_authorization(self, authorization_id: UUID, purpose: ev.Purpose, mode: ev.Mode,
                               requested_by: str, domain: CompanyDomain, now: datetime, *,
                               resume_state: State, expected: ExpectedCompany | None) -> None:
        self.pending = PendingAuthorization(authorization_id, purpose, mode, requested_by, now,
                                            resume_state, expected=expected)
        self.updated_at = now
        bound = self.binding.division if self.binding and purpose == "recreate" else None
        self.events.append(ev.AuthorizationRequested(
            self.id, authorization_id, purpose, mode, domain.id, domain.name, requested_by, bound,
            expected.division if expected else None, expected.vat_number if expected else None))

    def _connect(self, pending: PendingAuthorization, offer: OfferedGrant, conflict: UUID | None,
                 run_id: UUID, entities: tuple[str, ...], now: datetime,
                 await_confirmation: bool) -> Run | None:
        if conflict is not None:
            reason = (
                f"Exact Online division {offer.division} ({offer.division_name}) is already "
                f"connected as data source {conflict} in this company domain; a division can "
                "back only one data source per company domain."
            )
            self._fail(pending, code=DIVISION_ALREADY_CONNECTED, reason=reason, now=now, offer=offer)
            return None
        self.binding = Binding(offer.division, offer.division_name, offer.grant_id,
                               offer.authorized_by, now, offer.vat_number, offer.company_verified)
        self.state = State.AWAITING_CONFIRMATION if await_confirmation else State.CONNECTED
        self.authorization_mode = pending.mode
        self.pending = self.last_failure = self.last_rejection = self.reauthorization = None
        self.updated_at = now
        self.events.append(ev.DataSourceConnected(
            self.id, self.company_domain_id, offer.division, offer.division_name, offer.grant_id,
            offer.authorized_by, offer.vat_number, offer.company_verified, await_confirmation))
        if await_confirmation:
            return None
        return self._request_run("initial", self.binding, run_id, entities, now)

    def _finish_recreate(self, pending: PendingAuthorization, offer: OfferedGrant,
                         now: datetime) -> None:
        binding = self.binding
        if binding is None:  # a recreate is only ever requested for a bound data source
            raise StaleAuthorization(f"data source {self.id} has no division to recreate")
        if offer.division != binding.division:
            reason = (
                f"Recreate rejected: this data source is connected to Exact Online division "
                f"{binding.division} ({binding.division_name}), but the authorization was for "
                f"division {offer.division} ({offer.division_name}). Sign in with the same "
                "company; the data source stays as it was."
            )
            self.state = pending.resume_state
            self.pending = None
            self.last_rejection = RecreateRejection(offer.authorization_id, offer.division,
                                                    offer.division_name, offer.grant_id, reason, now)
            self.updated_at = now
            self.events.append(ev.RecreateRejected(self.id, binding.division, offer.division,
                                                   offer.grant_id, reason))
            return
        previous = binding.grant_id if binding.grant_id != offer.grant_id else None
        self.binding = replace(binding, division_name=offer.division_name, grant_id=offer.grant_id,
                               authorized_by=offer.authorized_by, vat_number=offer.vat_number,
                               verified=binding.verified or offer.company_verified)
        self.state = State.CONNECTED
        self.authorization_mode = pending.mode
        self.pending = self.last_failure = self.last_rejection = self.reauthorization = None
        self.updated_at = now
        self.events.append(ev.RecreateAccepted(self.id, binding.division, offer.grant_id, previous))

    def _fail(self, pending: PendingAuthorization, *, code: str, reason: str, now: datetime,
              offer: OfferedGrant | None = None) -> None:
        self.state = pending.resume_state
        self.pending = None
        self.last_failure = AuthorizationFailure(pending.authorization_id, pending.purpose, code,
                                                 reason, now, offer.division if offer else None)
        self.updated_at = now
        self.events.append(ev.AuthorizationFailed(
            self.id, pending.authorization_id, pending.purpose, code, reason, self.state.value,
            offer.division if offer else None, offer.grant_id if offer else None))

    def _request_run(self, kind: str, binding: Binding, run_id: UUID, entities: tuple[str, ...],
                     now: datetime, date_from: date | None = None,
                     date_to: date | None = None) -> Run:
        run = Run.requested(run_id=run_id, datasource_id=self.id, kind=kind,
                            division=binding.division, grant_id=binding.grant_id, entities=entities,
                            now=now, date_from=date_from, date_to=date_to)
        self.events.append(ev.RunRequested(self.id, run_id, kind, binding.division, binding.grant_id,
                                           entities, date_from, date_to))
        return run

    def _pending_for(self, authorization_id: UUID) -> PendingAuthorization:
        if self.pending is None or self.pending.authorization_id != authorization_id:
            raise StaleAuthorization(
                f"authorization {authorization_id} is not the pending authorization of data "
                f"source {self.id} (state {self.state.value})"
            )
        return self.pending
