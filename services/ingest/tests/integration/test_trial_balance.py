"""The trial-balance check against the sandbox's ReportingBalance, with the real broker and
database: a clean run matches on every key, a line Exact's balance leaves out is found with
its key and amount, and after changes in Exact the next sync's check follows them.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import contracts as c
from connector_runtime.devstack.testing import Infra, eventually
from ledger_sink.reconcile import against_last_run
from ledger_sink.trial_balance import TrialBalanceReport, trial_balance

pytestmark = pytest.mark.integration

LINE_FIELDS = "ID,FinancialYear,FinancialPeriod,GLAccountCode,AmountDC,Status,Timestamp"


async def processed_line(sandbox: Any) -> dict[str, Any]:
    """A processed (Status 50) TransactionLine of the sandbox's division, read over its API."""
    token = (await sandbox.grant())["access_token"]
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=30) as http:
        r = await http.get(f"/api/v1/{sandbox.division}/sync/Financial/TransactionLines",
                           params={"$select": LINE_FIELDS, "$filter": "Timestamp gt 1L"},
                           headers={"Authorization": f"Bearer {token}",
                                    "Accept": "application/json"})
    r.raise_for_status()
    lines: list[dict[str, Any]] = r.json()["d"]["results"]
    return next(x for x in lines[7:] if x["Status"] == 50 and x["AmountDC"] != 0)


def checked_of(runs: Any, run_id: uuid.UUID) -> c.TrialBalanceCheckedPayload:
    [checked] = runs.of_run(run_id, c.TrialBalanceChecked)
    payload: c.TrialBalanceCheckedPayload = checked.payload
    return payload


async def test_a_clean_run_matches_on_every_key_and_the_check_comes_before_completion(
        make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, _batches = tails
    world = make_world(make_sandbox(lines=2_000))
    await world.start_app()
    request = await world.request_run()
    run_id = request.payload.run_id
    await runs.until(lambda m: len(runs.of_run(run_id, c.RunCompleted)) == 1)
    check = checked_of(runs, run_id)
    assert check.checked and check.reason is None
    assert check.basis == "processed" and check.opening_balance_period == "as_booked"
    assert check.keys_compared > 50
    assert check.keys_matching == check.keys_compared
    assert check.total_abs_difference == 0 and check.largest_differences == ()
    assert check.years_reread == ()  # ReportingBalance was read in full by the run itself
    kinds = [type(m) for m in runs.of_run(run_id)]
    assert kinds.index(c.TrialBalanceChecked) == kinds.index(c.RunCompleted) - 1


async def test_a_line_missing_from_exacts_balance_is_found_with_its_key_and_amount(
        make_sandbox: Any, make_world: Any, tails: Any, sink: AsyncEngine) -> None:
    runs, _batches = tails
    world = make_world(make_sandbox(lines=2_000))
    line = await processed_line(world.sandbox)
    await world.sandbox.faults(unreported_lines=[line["ID"]])
    await world.start_app()
    request = await world.request_run()
    run_id = request.payload.run_id
    await runs.until(lambda m: len(runs.of_run(run_id, c.RunCompleted)) == 1)
    [completed] = runs.of_run(run_id, c.RunCompleted)
    assert completed.payload.outcome == "completed"  # a difference never fails a run
    check = checked_of(runs, run_id)
    assert check.checked
    assert check.keys_matching == check.keys_compared - 1
    amount = Decimal(str(line["AmountDC"]))
    [diff] = check.largest_differences
    assert (diff.reporting_year, diff.reporting_period, diff.gl_account_code) == (
        line["FinancialYear"], line["FinancialPeriod"], line["GLAccountCode"])
    assert diff.difference == -amount
    assert diff.ledger_amount - diff.exact_amount == amount
    assert check.total_abs_difference == abs(amount)

    # the example sink finds the same difference in its own tables
    async def sink_report() -> TrialBalanceReport:
        async with sink.connect() as conn:
            return await trial_balance(conn, request.datasource_id)

    async def sink_caught_up() -> bool:
        try:
            async with sink.connect() as conn:
                checks = await against_last_run(conn, request.datasource_id)
        except ProgrammingError:
            return False  # the sink has not created its tables yet
        return bool(checks) and all(ch.ok for ch in checks)
    await eventually(sink_caught_up, timeout=30)
    report = await sink_report()
    assert [(k.year, k.period, k.gl_account_code, k.difference) for k in report.differing] == [
        (diff.reporting_year, diff.reporting_period, diff.gl_account_code, diff.difference)]


async def test_after_changes_the_next_sync_rereads_the_changed_periods_within_its_throttle(
        infra: Infra, make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, _batches = tails
    world, request = await _initial_run(make_sandbox, make_world, runs)
    ds = request.datasource_id

    division = world.sandbox.division
    changes = await world.sandbox.admin.change(division, entity="TransactionLines", insert=3,
                                               update=4, delete=2)
    assert changes["updated"]
    check, calls = await _next_sync_check(infra, world, runs, ds)
    assert check.checked
    assert check.keys_matching == check.keys_compared
    assert check.total_abs_difference == 0
    assert check.years_reread  # the years the changed lines are in, read from Exact again
    assert calls["financial/ReportingBalance"] >= len(check.years_reread)

    # a sync within the re-read interval changes lines but leaves ReportingBalance unread:
    # not checked, and its periods are kept for the next check
    await world.sandbox.admin.change(division, entity="TransactionLines", insert=2)
    check, calls = await _next_sync_check(infra, world, runs, ds)
    assert not check.checked and "read again" in (check.reason or "")
    assert "financial/ReportingBalance" not in calls

    await _sql(infra, "UPDATE ingest.trial_rereads SET reread_at = now() - interval '2 hours' "
                      "WHERE datasource_id = :d", ds)
    check, calls = await _next_sync_check(infra, world, runs, ds)
    assert check.checked and check.keys_matching == check.keys_compared
    assert calls["financial/ReportingBalance"] >= 1


async def _initial_run(make_sandbox: Any, make_world: Any, runs: Any) -> tuple[Any, Any]:
    """A data source's initial run, completed; its scheduled syncs are left to the test."""
    world = make_world(make_sandbox(lines=2_000))
    await world.start_app(incremental_interval_seconds=3600, incremental_jitter=0)
    request = await world.request_run()
    await runs.until(lambda m: len(runs.of_run(request.payload.run_id, c.RunCompleted)) == 1)
    return world, request


async def _sql(infra: Infra, statement: str, ds: Any) -> None:
    engine = create_async_engine(infra.database_url.replace("postgresql://",
                                                            "postgresql+psycopg://"))
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement), {"d": ds})
    finally:
        await engine.dispose()


async def _next_sync_check(infra: Infra, world: Any, runs: Any, ds: Any
                           ) -> tuple[c.TrialBalanceCheckedPayload, dict[str, int]]:
    """Run the data source's scheduled sync now; its check and the calls Exact answered."""
    await world.sandbox.admin.reset_stats()
    seen = len([m for m in runs.messages if isinstance(m, c.TrialBalanceChecked)])
    await _sql(infra, "UPDATE ingest.sync_states SET next_due_at = now() "
                      "WHERE datasource_id = :d", ds)

    def checks(msgs: list[c.Message]) -> list[c.TrialBalanceCheckedPayload]:
        return [m.payload for m in msgs if isinstance(m, c.TrialBalanceChecked)
                and m.datasource_id == ds and m.payload.kind == "incremental"]

    await runs.until(lambda m: len([x for x in m if isinstance(x, c.TrialBalanceChecked)])
                     > seen and len(checks(m)) > 0)
    check = checks(runs.messages)[-1]
    calls: dict[str, int] = dict((await world.sandbox.stats())["calls_by_endpoint"])
    return check, calls


RB = c.Entity.REPORTING_BALANCE
GroupKey = tuple[int, int, str | None, int | None, int | None]
"""(year, period, G/L account code, Type, Status): part of ReportingBalance's grouping."""


async def all_lines(sandbox: Any) -> list[dict[str, Any]]:
    """Every TransactionLine of the sandbox's division, read over its API (``__next`` pages)."""
    token = (await sandbox.grant())["access_token"]
    out: list[dict[str, Any]] = []
    url: str | None = f"/api/v1/{sandbox.division}/sync/Financial/TransactionLines"
    params: dict[str, str] | None = {"$select": LINE_FIELDS + ",Type",
                                     "$filter": "Timestamp gt 1L"}
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=30) as http:
        while url:
            r = await http.get(url, params=params, headers={
                "Authorization": f"Bearer {token}", "Accept": "application/json"})
            r.raise_for_status()
            out.extend(r.json()["d"]["results"])
            url, params = r.json()["d"].get("__next"), None
    return out


async def drained(tail: Any) -> None:
    """The tail holds everything published to its topic so far."""
    tps = list(tail.consumer.assignment())
    ends = await tail.consumer.end_offsets(tps)
    for _ in range(30):
        if all([await tail.consumer.position(tp) >= ends[tp] for tp in tps]):
            return
        try:  # read on until something more arrived (or a second passed)
            await tail.until(lambda m, n=len(tail.messages): len(m) > n, timeout=1)
        except AssertionError:
            pass
    raise AssertionError(f"{tail.topic}: not caught up with {ends}")


def balance_rows_of(batches: Any, run_id: uuid.UUID) -> list[Any]:
    return [r for b in batches.of_run(run_id, c.LedgerBatch) if b.payload.entity == RB
            for r in b.payload.rows]


def deleted_balances_of(batches: Any, run_id: uuid.UUID) -> list[str]:
    return [r.id for d in batches.of_run(run_id, c.LedgerDeletes) for r in d.payload.rows
            if r.entity == RB]


async def test_a_reread_sends_consumers_the_changed_and_vanished_balance_rows_of_its_periods(
        infra: Infra, make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, batches = tails
    world, request = await _initial_run(make_sandbox, make_world, runs)
    ds = request.datasource_id
    await drained(batches)
    held = {r.id: r for r in balance_rows_of(batches, request.payload.run_id)}
    groups: dict[GroupKey, list[Any]] = {}
    for row in held.values():
        groups.setdefault((row.reporting_year, row.reporting_period, row.gl_account_code,
                           row.type, row.status), []).append(row)

    # a ReportingBalance row made of one line (that line deleted: the row vanishes), and in
    # another period the only row of a line's group (the line's amount changed: it changes)
    lines = await all_lines(world.sandbox)

    def key(line: dict[str, Any]) -> GroupKey:
        return (line["FinancialYear"], line["FinancialPeriod"], line["GLAccountCode"],
                line["Type"], line["Status"])
    lone = next(x for x in lines if len(groups.get(key(x), [])) == 1
                and groups[key(x)][0].count == 1)
    [vanishing] = groups[key(lone)]
    moved = next(x for x in lines if len(groups.get(key(x), [])) == 1 and x["Status"] == 50
                 and key(x)[:2] != key(lone)[:2])
    [changing] = groups[key(moved)]
    await world.sandbox.admin.change(
        world.sandbox.division, entity="TransactionLines", delete_ids=[lone["ID"]],
        update_ids=[moved["ID"]], fields={"AmountDC": moved["AmountDC"] + 100})

    check, _calls = await _next_sync_check(infra, world, runs, ds)
    assert check.checked and check.keys_matching == check.keys_compared
    await drained(batches)
    sent = balance_rows_of(batches, check.run_id)
    assert [r.id for r in sent] == [changing.id]  # nothing of the periods left untouched
    assert sent[0].amount == changing.amount + 100
    assert deleted_balances_of(batches, check.run_id) == [str(vanishing.id)]
    [completed] = runs.of_run(check.run_id, c.RunCompleted)
    assert completed.payload.batches == len([
        m for m in batches.of_run(check.run_id) if isinstance(m, c.LedgerBatch | c.LedgerDeletes)])

    # the same periods read again with nothing changed in Exact: nothing more goes out
    for year, period in {key(lone)[:2], key(moved)[:2]}:
        await _sql(infra, f"INSERT INTO ingest.trial_stale (datasource_id, year, period) "
                          f"VALUES (:d, {year}, {period})", ds)
    await _sql(infra, "UPDATE ingest.trial_rereads SET reread_at = now() - interval '2 hours' "
                      "WHERE datasource_id = :d", ds)
    again, calls = await _next_sync_check(infra, world, runs, ds)
    assert again.checked and again.years_reread and calls["financial/ReportingBalance"] >= 1
    await drained(batches)
    assert balance_rows_of(batches, again.run_id) == []
    assert deleted_balances_of(batches, again.run_id) == []
