"""ReportingBalance is read one ReportingYear at a time, the most recent year first, after the
ledger; a run stopped in the middle of a year resumes that year's next page. What was asked
of Exact is read from the sandbox's access log, not from ingest's own account."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa

import contracts as c
from connector_runtime.devstack.testing import eventually
from connector_runtime.persistence.db import create_engine
from exact_sandbox.config import FaultSettings

pytestmark = pytest.mark.integration

_YEAR = re.compile(r"^ReportingYear eq (\d+)$")


async def reads(world: Any, since: int = 0) -> list[dict[str, Any]]:
    """The division's calls after access-log entry ``since``, in the order they were made."""
    log = await world.sandbox.admin.access_log(since=since, division=world.sandbox.division)
    entries: list[dict[str, Any]] = log["entries"]
    return entries


def balance_reads(entries: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(ReportingYear filtered on, $skiptoken) of each ReportingBalance call."""
    out = []
    for e in entries:
        if not e["endpoint"].endswith("financial/ReportingBalance") or e["status"] != 200:
            continue
        query = parse_qs(e["query"])
        match = _YEAR.match(query["$filter"][0])
        assert match, f"ReportingBalance read without a single year: {e['query']}"
        out.append((int(match.group(1)), e["page"]))
    return out


async def checkpoint(world: Any, run_id: uuid.UUID) -> Any:
    engine = create_engine(world.infra.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(sa.text(
                "SELECT year, cursor, pages, done, year_rows FROM ingest.run_checkpoints "
                "WHERE run_id = :r AND entity = 'ReportingBalance'"), {"r": run_id})).first()
    finally:
        await engine.dispose()


def years_of(expected: dict[str, Any]) -> dict[int, int]:
    return {y["reporting_year"]: y["count"] for y in expected["ReportingBalance"]["by_year"]}


async def test_balances_are_read_by_year_most_recent_first_after_the_ledger(
        make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, batches = tails
    world = make_world(make_sandbox(lines=2_500))
    await world.start_app()
    run_id = (await world.request_run()).payload.run_id
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted) and x.payload.run_id == run_id
                                   for x in m))
    expected = await world.sandbox.expected()
    by_year = years_of(expected)
    assert len(by_year) > 1

    entries = await reads(world)
    read = balance_reads(entries)
    years = [y for y, _ in read]
    assert years == sorted(years, reverse=True)  # most recent first, never back up
    assert set(years) == set(by_year)
    first_page = [y for y, page in read if page == ""]
    assert first_page == sorted(by_year, reverse=True)  # each year read once from its start
    calls = {y: years.count(y) for y in by_year}
    assert calls == {y: max(1, -(-n // 60)) for y, n in by_year.items()}
    # the ledger and the financial periods were read before the first balance
    first = next(i for i, e in enumerate(entries) if "ReportingBalance" in e["endpoint"])
    assert all("ReportingBalance" in e["endpoint"] for e in entries[first:])
    assert any("TransactionLines" in e["endpoint"] for e in entries[:first])
    assert any("FinancialPeriods" in e["endpoint"] for e in entries[:first])

    [completed] = runs.of_run(run_id, c.RunCompleted)
    totals = {str(t.entity): t for t in completed.payload.totals}
    figures = expected["ReportingBalance"]
    assert totals["ReportingBalance"].rows == figures["count"]
    assert totals["ReportingBalance"].id_hash == figures["id_hash"]
    assert str(totals["ReportingBalance"].amount_dc_sum) == figures["sum_amount"]
    assert totals["ReportingBalance"].pages == sum(calls.values())
    # the batches carry the years in the order read
    await batches.until(lambda m: sum(len(b.payload.rows) for b in batches.of_run(run_id)
                                      if b.payload.entity == c.Entity.REPORTING_BALANCE)
                        >= figures["count"])
    sent = sorted((b for b in batches.of_run(run_id)
                   if b.payload.entity == c.Entity.REPORTING_BALANCE),
                  key=lambda b: b.payload.batch_seq)
    sent_years = [r.reporting_year for b in sent for r in b.payload.rows]
    assert sent_years == sorted(sent_years, reverse=True)
    cp = await checkpoint(world, run_id)
    assert cp.done and cp.year == min(by_year)
    assert {int(y): n for y, n in cp.year_rows.items()} == by_year


async def test_a_run_stopped_in_the_middle_of_a_year_resumes_that_years_next_page(
        make_sandbox: Any, make_world: Any, tails: Any) -> None:
    runs, _ = tails
    world = make_world(make_sandbox(lines=2_500, faults=FaultSettings(latency_ms=20)))
    app = await world.start_app()
    run_id = (await world.request_run()).payload.run_id

    async def in_a_year() -> bool:
        cp = await checkpoint(world, run_id)
        return cp is not None and cp.year is not None and cp.pages >= 2

    await eventually(in_a_year, timeout=60)
    await world.stop_app(app)  # gives the run back after the pages in flight
    stopped = await checkpoint(world, run_id)
    assert not stopped.done and stopped.cursor is not None, "stopped between two years"
    assert f"ReportingYear eq {stopped.year}" in parse_qs(stopped.cursor.split("?", 1)[1])[
        "$filter"]
    mark = (await world.sandbox.admin.access_log(since=0))["last"]

    await world.start_app()
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted) and x.payload.run_id == run_id
                                   for x in m), timeout=60)
    after = balance_reads(await reads(world, mark))
    skiptoken = parse_qs(stopped.cursor.split("?", 1)[1])["$skiptoken"][0]
    assert after[0] == (stopped.year, skiptoken)  # the same year, from the checkpoint's page
    years = [y for y, _ in balance_reads(await reads(world))]
    assert years == sorted(years, reverse=True)

    expected = await world.sandbox.expected()
    [completed] = runs.of_run(run_id, c.RunCompleted)
    totals = {str(t.entity): t for t in completed.payload.totals}
    assert totals["ReportingBalance"].rows == expected["ReportingBalance"]["count"]
    assert totals["ReportingBalance"].id_hash == expected["ReportingBalance"]["id_hash"]
    minimum = world.sandbox.minimum_calls(expected)
    calls = (await world.sandbox.stats())["calls_by_division"][str(world.sandbox.division)]
    assert minimum <= calls <= minimum + 2  # at most the pages in flight again
