"""The trial-balance check of a run: the ledger streamed, against Exact's own ReportingBalance.

Published by ingest on the run events topic once per completed run (before its
``RunCompleted``). The ledger side sums ``AmountDC`` of the TransactionLines the data source
holds after the run (everything streamed so far, net of changes and deletions); the Exact side
sums ``Amount`` of Exact's ``financial/ReportingBalance`` rows. Both are summed per reporting
year, period and G/L account code over the same statuses (``basis``); cost centre, cost unit
and transaction type, which ReportingBalance also groups by, are summed over. A difference
never fails a run; it is reported here.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import ClassVar, Literal

from contracts.common import Division
from contracts.datasource_events import RunKind
from contracts.envelope import Message, WireModel

TrialBalanceBasis = Literal["processed", "after_entry"]
"""Which entries count: ``processed`` (Status 50 only) or ``after_entry`` (Status 20 open and
50 processed, ReportingBalance's default per Exact's documentation)."""

OpeningBalancePeriod = Literal["as_booked", "zero"]
"""Where opening-balance lines (TransactionLines Type 10) are expected in ReportingBalance:
in the period they are booked in, or in reporting period 0."""


class TrialBalanceDifference(WireModel):
    """One key whose totals differ: ``difference = exact_amount - ledger_amount``."""

    reporting_year: int
    reporting_period: int
    gl_account_code: str
    ledger_amount: Decimal
    """Sum of AmountDC of the TransactionLines streamed for the key."""
    exact_amount: Decimal
    """Sum of Amount of Exact's ReportingBalance rows for the key."""
    difference: Decimal


class TrialBalanceCheckedPayload(WireModel):
    run_id: uuid.UUID
    kind: RunKind
    division: Division
    checked: bool
    """False when the check could not be made (``reason`` says why); the figures are then 0."""
    reason: str | None = None
    basis: TrialBalanceBasis
    opening_balance_period: OpeningBalancePeriod
    keys_compared: int
    """Distinct (reporting year, period, G/L account code) keys on either side."""
    keys_matching: int
    """Keys whose two totals are equal (within ``tolerance``)."""
    total_abs_difference: Decimal
    """Sum over the keys of ``abs(exact_amount - ledger_amount)``."""
    tolerance: Decimal
    """Largest difference still counted as equal (Exact's amounts are binary doubles)."""
    largest_differences: tuple[TrialBalanceDifference, ...] = ()
    """The keys that differ most (at most 20), largest first."""
    years_reread: tuple[int, ...] = ()
    """Reporting years of ReportingBalance the check read again because the run changed
    ledger lines in them (incremental syncs; initial runs and refreshes read it in full)."""


class TrialBalanceChecked(Message):
    SCHEMA_VERSION: ClassVar[int] = 1

    type: Literal["TrialBalanceChecked"] = "TrialBalanceChecked"
    payload: TrialBalanceCheckedPayload
