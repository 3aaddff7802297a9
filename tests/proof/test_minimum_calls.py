"""The suites' fewest-calls figure (``bench.calls``) pages each entity as Exact does."""

from __future__ import annotations

from bench.calls import NOT_IMPORTED, SYNC_ENTITIES, minimum_calls
from exact_sandbox.endpoints import RESOURCES


def test_entities_served_from_a_sync_or_bulk_endpoint_are_counted_1000_rows_a_call() -> None:
    """The sandbox's resource table says which entities have a sync or bulk endpoint. (A new
    sync entity missing from ``SYNC_ENTITIES`` made R4 expect a second page of it that the
    division does not have.)"""
    served = {r.entity for r in RESOURCES.values() if r.mode in ("sync", "bulk")}
    assert SYNC_ENTITIES == served - NOT_IMPORTED


def test_every_entity_costs_a_call_even_empty_and_the_division_one_more() -> None:
    expected = {"entities": {"TransactionLines": {"count": 1001}, "PaymentTerms": {"count": 999},
                             "ReportingBalance": {"count": 61}, "Budgets": {"count": 0},
                             "Deleted": {"count": 5}}}
    assert minimum_calls(expected) == 1 + 2 + 1 + 2 + 1


def test_reporting_balance_is_paged_per_year_each_year_at_least_one_call() -> None:
    """Read one ReportingYear at a time, each year ends with its own partial page, and a
    financial year without balances still costs its call."""
    by_year = [{"reporting_year": 2023, "count": 61}, {"reporting_year": 2024, "count": 60},
               {"reporting_year": 2025, "count": 0}]
    expected = {"entities": {"ReportingBalance": {"count": 121, "by_year": by_year}}}
    assert minimum_calls(expected) == 1 + 2 + 1 + 1
