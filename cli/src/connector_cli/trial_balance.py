"""How a run's trial-balance check is shown: a one-line summary and the differing keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from contracts import TrialBalanceCheckedPayload


def summary(check: dict[str, Any] | None) -> str:
    """One line from the read API's ``trial_balance`` of a run ('' when not checked yet)."""
    if not check:
        return ""
    if not check["checked"]:
        return f"not checked: {check['reason']}"
    total = Decimal(str(check["total_abs_difference"]))
    return (f"{check['keys_matching']:,}/{check['keys_compared']:,} keys match "
            f"({check['keys_matching_percent']}%), |difference| {total:,.2f}")


def summary_of_event(p: TrialBalanceCheckedPayload) -> str:
    """The same line from a ``TrialBalanceChecked`` event."""
    if not p.checked:
        return f"trial balance not checked: {p.reason}"
    share = 100 * p.keys_matching / p.keys_compared if p.keys_compared else 100.0
    return (f"trial balance vs Exact's ReportingBalance: {p.keys_matching:,} of "
            f"{p.keys_compared:,} keys match ({share:.1f}%), total absolute difference "
            f"{p.total_abs_difference:,.2f}")


def print_check(console: Console, run: dict[str, Any]) -> bool:
    """Print a run's check with its largest differences; True when every key matches."""
    check = run.get("trial_balance")
    title = f"run {run['run_id']} ({run['kind']}, {run['status']})"
    if not check:
        console.print(f"{title}: no trial-balance check (yet)")
        return False
    console.print(f"{title}, checked {check['checked_at']} on basis {check['basis']} "
                  f"(opening balances {check['opening_balance_period']}, tolerance "
                  f"{check['tolerance']}):")
    console.print(f"  {summary(check)}")
    if check["years_reread"]:
        console.print(f"  ReportingBalance read again for {check['years_reread']}")
    differences = check["largest_differences"]
    if differences:
        table = Table(title="Largest differences (difference = Exact - ledger)")
        for col in ("year", "period", "G/L account", "ledger (AmountDC)", "Exact (Amount)",
                    "difference"):
            table.add_column(col, justify="right")
        for d in differences:
            table.add_row(str(d["reporting_year"]), str(d["reporting_period"]),
                          d["gl_account_code"], _money(d["ledger_amount"]),
                          _money(d["exact_amount"]), _money(d["difference"]))
        console.print(table)
    return bool(check["checked"]) and check["keys_matching"] == check["keys_compared"]


def _money(value: Any) -> str:
    return f"{Decimal(str(value)):,.2f}"
