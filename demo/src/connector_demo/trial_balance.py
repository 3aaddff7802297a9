"""The demo's trial balance: the connector's check of the run, and the sink's own report.

The connector compared the ledger it streamed with Exact's ReportingBalance when the run
completed (``TrialBalanceChecked``, shown by the read API next to the run); the example sink
then computes the same trial balance from the rows it stored.
"""

from __future__ import annotations

import uuid
from typing import Any

from rich.console import Console
from sqlalchemy.ext.asyncio import create_async_engine

from connector_cli import api
from connector_cli.settings import CliSettings
from connector_cli.trial_balance import print_check
from connector_demo.system import LocalSystem
from connector_runtime.devstack.testing import eventually
from ledger_sink.cli import print_trial_balance
from ledger_sink.trial_balance import TrialBalanceReport, trial_balance


async def show_trial_balance(system: LocalSystem, console: Console, cfg: CliSettings,
                             datasource_id: uuid.UUID, run_id: uuid.UUID) -> bool:
    """Print both; True when every key matches on both sides."""
    run: dict[str, Any] = {}

    async def checked() -> bool:
        nonlocal run
        run = await api.datasource_run(cfg, run_id)
        return run.get("trial_balance") is not None

    await eventually(checked, timeout=60, interval=0.5)
    console.print("The connector's check when the run completed (connector trial-balance):")
    ok = print_check(console, run)
    engine = create_async_engine(system.database_url.replace("postgresql://",
                                                             "postgresql+psycopg://"))
    try:
        async with engine.connect() as conn:
            report = await trial_balance(conn, datasource_id)
    finally:
        await engine.dispose()
    console.print("The example sink's own trial balance from its tables "
                  "(connector sink trial-balance):")
    if report.keys:
        year, period = max((k.year, k.period) for k in report.keys)
        latest = [k for k in report.keys if (k.year, k.period) == (year, period)]
        print_trial_balance(TrialBalanceReport(latest, report.tolerance), show_all=True,
                            out=console, title=f"Trial balance {year}-{period:02d} "
                            "(sink: TransactionLines vs ReportingBalance, processed entries)")
    return print_trial_balance(report, out=console) and ok
