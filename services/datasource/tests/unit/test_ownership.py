"""Which company a data source may be connected to: the expected company, the confirmation
the policy ``confirm`` waits for, and "not my company" (disown)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from datasource.domain import CompanyDomain, DataSource, ExpectedCompany, OfferedGrant, State
from datasource.domain import events as ev
from datasource.domain.errors import InvalidState, NotConnected

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
ENTITIES = ("TransactionLines", "GLAccounts")
DOMAIN = CompanyDomain(uuid.uuid4(), "Acme Holding", "anna@portal", T0)


def created(expected: ExpectedCompany | None = None) -> DataSource:
    return DataSource.create(datasource_id=uuid.uuid4(), domain=DOMAIN, domain_created=True,
                             mode="share", requested_by="anna@portal",
                             authorization_id=uuid.uuid4(), now=T0, expected=expected)


def authorize(ds: DataSource, division: int = 101, vat: str | None = "NL001234567B01",
              confirm: bool = False):  # type: ignore[no-untyped-def]
    assert ds.pending is not None
    offer = OfferedGrant(ds.pending.authorization_id, uuid.uuid4(), division,
                         f"Division {division}", "jan.admin", vat, company_verified=True)
    return ds.authorized(offer, conflicting_datasource=None, run_id=uuid.uuid4(),
                         entities=ENTITIES, now=T1, confirm_unverified=confirm)


def test_the_expected_company_travels_to_auth_with_the_authorization_request() -> None:
    ds = created(ExpectedCompany(vat_number="NL001234567B01"))
    requested = next(e for e in ds.events if isinstance(e, ev.AuthorizationRequested))
    assert (requested.expected_division, requested.expected_vat_number) == (None, "NL001234567B01")


def test_a_grant_for_another_company_than_expected_never_connects() -> None:
    ds = created(ExpectedCompany(division=101))
    assert authorize(ds, division=202) is None
    assert ds.state is State.AUTHORIZATION_FAILED and ds.binding is None
    failed = ds.events[-1]
    assert isinstance(failed, ev.AuthorizationFailed) and failed.code == "unexpected_company"
    assert failed.offered_grant_id is not None  # auth discards that grant's tokens


def test_the_expected_company_connects_verified_and_starts_the_run() -> None:
    ds = created(ExpectedCompany(division=101, vat_number="nl 0012.34567 b01"))
    assert authorize(ds, confirm=True) is not None
    assert ds.state is State.CONNECTED and ds.binding and ds.binding.verified
    connected = next(e for e in ds.events if isinstance(e, ev.DataSourceConnected))
    assert (connected.company_verified, connected.authorized_by) == (True, "jan.admin")


def test_without_an_expected_company_notify_connects_and_says_it_is_unverified() -> None:
    ds = created()
    assert authorize(ds) is not None
    connected = next(e for e in ds.events if isinstance(e, ev.DataSourceConnected))
    # auth's word alone does not verify: nobody named a company to check against
    assert (connected.company_verified, connected.awaiting_confirmation) == (False, False)


def test_with_confirm_the_initial_run_waits_for_the_customer() -> None:
    ds = created()
    assert authorize(ds, confirm=True) is None
    assert ds.state is State.AWAITING_CONFIRMATION
    assert not any(isinstance(e, ev.RunRequested) for e in ds.events)
    with pytest.raises(InvalidState):
        ds.request_recreate(authorization_id=uuid.uuid4(), mode="share", requested_by="anna",
                            domain=DOMAIN, now=T1)
    run = ds.confirm(run_id=uuid.uuid4(), entities=ENTITIES, confirmed_by="anna", now=T1)
    assert ds.state is State.CONNECTED and run.kind == "initial"
    assert isinstance(ds.events[-1], ev.RunRequested)
    with pytest.raises(InvalidState):
        ds.confirm(run_id=uuid.uuid4(), entities=ENTITIES, confirmed_by="anna", now=T1)


def test_not_my_company_disconnects_revokes_and_purges() -> None:
    ds = created()
    authorize(ds)
    assert ds.binding is not None
    grant_id, runs = ds.binding.grant_id, (uuid.uuid4(), uuid.uuid4())
    ds.events.clear()
    ds.disown(disowned_by="anna", reason=None, run_ids=runs, now=T1)
    assert ds.state is State.AUTHORIZATION_FAILED and ds.binding is None
    assert ds.last_failure is not None and ds.last_failure.code == "not_my_company"
    disowned, purged = ds.events
    assert isinstance(disowned, ev.Disowned) and disowned.grant_id == grant_id
    assert isinstance(purged, ev.Purged) and purged.run_ids == runs
    with pytest.raises(NotConnected):
        ds.disown(disowned_by="anna", reason=None, run_ids=(), now=T1)
    ds.request_recreate(authorization_id=uuid.uuid4(), mode="share", requested_by="anna",
                        domain=DOMAIN, now=T1)
    assert ds.state is State.AWAITING_AUTHORIZATION
