"""A full initial run against the sandbox, the real broker and database: the events, the
batches and the figures reconcile exactly with the sandbox's expected figures, with the
minimum number of API calls."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

import contracts as c
from connector_runtime.devstack.testing import signed_claim

pytestmark = pytest.mark.integration


def batches_by_key(batches: list[c.LedgerBatch]) -> dict[tuple[Any, ...], c.LedgerBatch]:
    """What a consumer deduplicating on (run_id, entity, batch_seq) keeps; a batch_seq sent
    twice must carry the same rows."""
    kept: dict[tuple[Any, ...], c.LedgerBatch] = {}
    for b in batches:
        key = (b.payload.run_id, b.payload.entity, b.payload.batch_seq)
        if key in kept:
            assert [r.model_dump() for r in kept[key].payload.rows] == \
                [r.model_dump() for r in b.payload.rows], f"{key} re-sent with other rows"
        kept.setdefault(key, b)
    return kept


def assert_reconciles(completed: c.RunCompleted, kept: dict[tuple[Any, ...], c.LedgerBatch],
                      expected: dict[str, Any], *, budgets: bool = True) -> None:
    totals = {str(t.entity): t for t in completed.payload.totals}
    rows: dict[str, list[Any]] = {}
    for b in kept.values():
        rows.setdefault(str(b.payload.entity), []).extend(b.payload.rows)
    for entity, figures in expected.items():
        if entity == "Deleted":
            continue
        total = totals[entity]
        assert total.rows == figures["count"] == len(rows.get(entity, [])), entity
        ids = [r.id for r in rows.get(entity, [])]
        assert len(set(ids)) == len(ids), f"{entity}: a row delivered twice"
        assert total.id_hash == figures["id_hash"] == c.id_hash(ids), entity
    tl = totals["TransactionLines"]
    assert tl.amount_dc_sum == Decimal(expected["TransactionLines"]["sum_amount_dc"])
    assert tl.amount_dc_debit_sum == Decimal(expected["TransactionLines"]["sum_debit_dc"])
    if budgets:
        assert totals["Budgets"].amount_dc_sum == Decimal(expected["Budgets"]["sum_amount_dc"])
    assert totals["ReportingBalance"].amount_dc_sum == Decimal(expected["ReportingBalance"]["sum_amount"])
    assert totals["Divisions"].rows == 1


async def test_a_full_initial_run_reconciles_with_the_sandbox(make_sandbox: Any, make_world: Any,
                                                              tails: Any) -> None:
    runs, batches = tails
    world = make_world(make_sandbox(lines=2_500))
    await world.start_app()
    request = await world.request_run()
    run_id = request.payload.run_id
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted) and x.payload.run_id == run_id
                                   for x in m), timeout=60)
    [completed] = runs.of_run(run_id, c.RunCompleted)
    await batches.until(lambda m: sum(1 for x in m if x.payload.run_id == run_id)
                        >= completed.payload.batches)
    expected = await world.sandbox.expected()
    kept = batches_by_key(batches.of_run(run_id))
    assert_reconciles(completed, kept, expected)
    assert len(kept) == completed.payload.batches
    for entity in c.ALL_ENTITIES:  # seqs are dense from 0, the last one marked
        seqs = sorted(k[2] for k in kept if k[1] == entity)
        assert seqs == list(range(len(seqs)))
        assert kept[(run_id, entity, seqs[-1])].payload.last
    assert max(batches.sizes) < 1_000_000
    assert {m.datasource_id for m in batches.of_run(run_id)} == {request.datasource_id}

    stats = await world.sandbox.stats()
    minimum = world.sandbox.minimum_calls(expected)
    assert stats["calls_by_division"][str(world.sandbox.division)] == minimum
    assert completed.payload.calls_used == minimum
    assert stats["responses_429"] == 0 and stats["rule_violations"] == {}

    [started] = runs.of_run(run_id, c.RunStarted)
    assert started.payload.resumed is False and started.correlation_id == request.correlation_id
    progress = runs.of_run(run_id, c.RunProgress)
    assert progress and progress[-1].payload.calls_used <= minimum
    assert progress[-1].payload.minutely_budget_remaining is not None
    row = await world.run_row(run_id)
    assert (row.status, row.owner) == ("completed", None)


async def test_a_redelivered_request_does_not_start_the_run_twice(make_sandbox: Any,
                                                                 make_world: Any, tails: Any) -> None:
    runs, _ = tails
    world = make_world(make_sandbox(lines=10))
    await world.start_app()
    request = await world.request_run(entities=(c.Entity.GL_ACCOUNTS, c.Entity.DIVISIONS))
    await world.publish(c.INGEST_REQUESTS, request)  # delivered again
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted) and x.payload.run_id ==
                                   request.payload.run_id for x in m))
    stats = await world.sandbox.stats()
    assert stats["calls_total"] == 2
    assert len(runs.of_run(request.payload.run_id, c.RunStarted)) == 1



async def test_a_reimport_for_a_date_range_fetches_only_that_range(make_sandbox: Any,
                                                                   make_world: Any, tails: Any) -> None:
    runs, _ = tails
    world = make_world(make_sandbox(lines=2_500))
    await world.start_app()
    datasource_id, grant_id = uuid.uuid4(), uuid.uuid4()
    message = c.InitialRunRequested.create(
        datasource_id=datasource_id, payload=c.InitialRunRequestedPayload(
            run_id=uuid.uuid4(), kind="reimport", division=world.sandbox.division,
            grant_id=grant_id, date_from=date(2023, 1, 1), date_to=date(2023, 12, 31),
            entities=(c.Entity.TRANSACTION_LINES, c.Entity.BUDGETS, c.Entity.GL_ACCOUNTS),
            grant_claim=signed_claim(datasource_id, grant_id, world.sandbox.division)))
    world.auth.add(message.payload.grant_id, await world.sandbox.grant(), world.sandbox.division)
    world.run_ids.append(message.payload.run_id)
    await world.publish(c.INGEST_REQUESTS, message)
    await runs.until(lambda m: any(isinstance(x, c.RunCompleted | c.RunFailed)
                                   and x.payload.run_id == message.payload.run_id for x in m))
    [completed] = runs.of_run(message.payload.run_id, c.RunCompleted)
    assert completed.payload.kind == "reimport"
    totals = {t.entity: t for t in completed.payload.totals}
    expected = await world.sandbox.expected()
    in_2023 = [p for p in expected["TransactionLines"]["by_period"] if p["financial_year"] == 2023]
    assert totals[c.Entity.TRANSACTION_LINES].rows == sum(p["count"] for p in in_2023) > 0
    assert totals[c.Entity.TRANSACTION_LINES].amount_dc_debit_sum == \
        sum(Decimal(p["sum_debit_dc"]) for p in in_2023)
    assert totals[c.Entity.BUDGETS].rows == 16 * 12  # 16 accounts x 12 periods of 2023
    assert totals[c.Entity.GL_ACCOUNTS].rows == expected["GLAccounts"]["count"]  # master data: all
    stats = await world.sandbox.stats()
    assert "bulk/Financial/TransactionLines" in stats["calls_by_endpoint"]
