"""Executing a run on fakes: batches and checkpoints, resuming without loss or renumbering,
and how a run ends (completed, waiting, paused for a grant, failed, lease lost).

Size: one test module per source module (the run use case), one test per way a run goes or ends.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import structlog.testing

import contracts as c
from ingest.domain.budget import BudgetView
from ingest.domain.errors import (
    BudgetSpent,
    ExactRequestRejected,
    Forbidden,
    GrantRevoked,
    InvalidData,
    PageFailed,
    TokenNotYetAllowed,
)
from ingest.domain.model import RunStatus
from ingest.domain.plan import BudgetShare
from ingest.pipeline import PAGES_IN_FLIGHT
from ingest.usecases.planning import RunPlanner
from ingest.usecases.run import RunExecutor, RunnerConfig


class ProcessDied(BaseException):
    """The process is killed (not an error the run handles)."""


OWNER = "replica-a"
GL, BUD = c.Entity.GL_ACCOUNTS, c.Entity.BUDGETS


def setup(kit: Any, clock: Any, entities: tuple[c.Entity, ...] = (GL, BUD), **config: Any
          ) -> tuple[Any, Any, Any, Any, RunExecutor]:
    gl = [kit.gl_row(i) for i in range(5)]
    budgets = [kit.budget_row(i, a) for i, a in enumerate(["10.50", "-3.25", "0.01"])]
    exact = kit.FakeExact({
        GL: [kit.page_of(gl[:2], "page=1"), kit.page_of(gl[2:4], "page=2"),
             kit.page_of(gl[4:], None)],
        BUD: [kit.page_of(budgets[:2], "page=1", amount=True),
              kit.page_of(budgets[2:], None, amount=True)],
    })
    run = kit.new_run(entities)
    store, publisher = kit.FakeStore(), kit.FakePublisher()
    store.add(run, OWNER)
    executor = RunExecutor(store, exact, publisher, clock, RunnerConfig(**config))
    return run, store, publisher, exact, executor


async def test_run_started_carries_the_plan_made_before_the_first_call(kit: Any, clock: Any
                                                                      ) -> None:
    run, store, publisher, exact, _ = setup(kit, clock)
    calls_when_planned: list[int] = []

    async def known_rows(datasource_id: uuid.UUID) -> dict[str, int]:
        assert datasource_id == run.datasource_id
        calls_when_planned.append(len(exact.requests))
        return {"GLAccounts": 5}

    async def budget(division: int) -> BudgetView:
        return BudgetView(minutely_limit=60, minutely_remaining=59, daily_limit=5_000,
                          daily_remaining=4_321, seconds_per_call=1.0,
                          seconds_to_daily_reset=3_600.0)

    planner = RunPlanner(clock, known_rows=known_rows, budget=budget)
    executor = RunExecutor(store, exact, publisher, clock, planner=planner)
    await executor.execute(run.run_id, OWNER)
    assert calls_when_planned == [0]
    [started] = store.of(c.RunStarted)
    plan = started.payload.plan
    assert plan is not None
    assert [(p.entity, p.estimated_rows, p.calls, p.day) for p in plan.entities] == [
        (GL, 5, 1, 0), (BUD, None, 1, 0)]
    assert (plan.calls, plan.days, plan.eta_seconds) == (2, 0, 2.0)
    assert plan.lower_bound and plan.daily_budget_remaining == 4_321
    assert plan.finishes_at == clock.now() + timedelta(seconds=2)


def delivered(publisher: Any) -> dict[tuple[uuid.UUID, str, int], c.LedgerBatch]:
    """What a consumer deduplicating on (run_id, entity, batch_seq) keeps."""
    kept: dict[tuple[uuid.UUID, str, int], c.LedgerBatch] = {}
    for m in publisher.sent:
        kept.setdefault((m.payload.run_id, m.payload.entity, m.payload.batch_seq), m)
    return kept


async def test_a_run_streams_every_page_and_completes_with_totals(kit: Any, clock: Any) -> None:
    run, store, publisher, _exact, executor = setup(kit, clock)
    await executor.execute(run.run_id, OWNER)
    assert store.runs[run.run_id].status is RunStatus.COMPLETED
    batches = [m.payload for m in publisher.sent]
    assert [(b.entity, b.batch_seq, b.last) for b in batches] == [
        (GL, 0, False), (GL, 1, False), (GL, 2, True), (BUD, 0, False), (BUD, 1, True)]
    assert batches[0].checkpoint == "1001"  # sync entity: the highest Timestamp reached
    assert all(m.datasource_id == run.datasource_id and m.correlation_id == run.correlation_id
               for m in publisher.sent)
    [started] = store.of(c.RunStarted)
    assert started.payload.resumed is False
    [completed] = store.of(c.RunCompleted)
    totals = {t.entity: t for t in completed.payload.totals}
    assert totals[GL].rows == 5 and totals[GL].pages == 3
    assert totals[GL].id_hash == c.id_hash(uuid.UUID(int=i + 1) for i in range(5))
    assert totals[BUD].amount_dc_sum == Decimal("7.26")
    assert totals[BUD].amount_dc_debit_sum == Decimal("10.51")
    assert totals[GL].amount_dc_sum is None
    assert completed.payload.batches == 5 and completed.payload.calls_used == 5
    progress = store.of(c.RunProgress)
    assert progress[-1].payload.entities[-1].done is True
    assert progress[-1].payload.eta_seconds == 0


async def test_an_initial_run_reads_with_the_reserve_it_leaves_for_syncs(kit: Any, clock: Any
                                                                         ) -> None:
    run, _store, _publisher, exact, executor = setup(
        kit, clock, share=BudgetShare(sync_reserve=0.06, floor=0.004))
    await executor.execute(run.run_id, OWNER)
    assert run.kind == "initial"
    assert {request.reserve for request, _ in exact.requests} == {0.06}


async def test_the_checkpoint_moves_only_after_the_broker_acknowledged(kit: Any, clock: Any) -> None:
    run, store, publisher, _exact, executor = setup(kit, clock)
    publisher.fail_on_call = 2  # the broker is gone while the second page is published
    with pytest.raises(ConnectionError):
        await executor.execute(run.run_id, OWNER)
    cp = store.runs[run.run_id].checkpoints[str(GL)]
    assert (cp.pages, cp.rows, cp.next_batch_seq, cp.cursor) == (1, 2, 1, "page=1")
    assert store.runs[run.run_id].status is RunStatus.RUNNING  # the lease expires, it resumes


async def test_a_resumed_run_resends_only_the_unacknowledged_page_with_the_same_batch_seq(
        kit: Any, clock: Any) -> None:
    run, store, publisher, exact, executor = setup(kit, clock)
    original = store.save_page
    calls = {"n": 0}

    async def crash_after_publishing_the_second_page(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ProcessDied  # the process dies between the acks and the checkpoint
        await original(*args, **kwargs)

    store.save_page = crash_after_publishing_the_second_page
    with pytest.raises(ProcessDied):
        await executor.execute(run.run_id, OWNER)
    store.save_page = original
    first_time = list(publisher.sent)
    await executor.execute(run.run_id, OWNER)  # another replica (same owner here) resumes
    assert exact.requests[-2][1] == "page=1"  # GL resumed at the page in flight, not before
    resent = publisher.sent[len(first_time):][0]
    assert (resent.payload.entity, resent.payload.batch_seq) == (GL, 1)
    assert resent.message_id == first_time[1].message_id
    assert resent.payload.rows == first_time[1].payload.rows
    kept = delivered(publisher)
    rows = [r.id for b in kept.values() for r in b.payload.rows]
    assert len(rows) == len(set(rows)) == 8
    [started_again] = store.of(c.RunStarted)[1:]
    assert started_again.payload.resumed is True
    [completed] = store.of(c.RunCompleted)
    assert {t.entity: t.rows for t in completed.payload.totals} == {GL: 5, BUD: 3}


async def test_a_large_page_is_split_into_batches_under_the_size_limit(kit: Any, clock: Any) -> None:
    rows = [kit.gl_row(i) for i in range(200)]
    run, store, publisher, _, _ = setup(kit, clock, entities=(GL,))
    executor = RunExecutor(store, kit.FakeExact({GL: [kit.page_of(rows, None)]}), publisher, clock,
                           RunnerConfig(max_batch_bytes=12_000))
    await executor.execute(run.run_id, OWNER)
    sizes = [len(m.to_bytes()) for m in publisher.sent]
    assert len(sizes) > 1 and max(sizes) <= 12_000
    assert [m.payload.batch_seq for m in publisher.sent] == list(range(len(sizes)))
    assert [m.payload.last for m in publisher.sent].count(True) == 1 and publisher.sent[-1].payload.last
    assert [r.id for m in publisher.sent for r in m.payload.rows] == [r.id for r in rows]


async def test_a_spent_daily_budget_makes_the_run_wait_and_say_until_when(kit: Any, clock: Any) -> None:
    run, store, _, exact, executor = setup(kit, clock)
    exact.raise_at[(GL, 1)] = BudgetSpent("the daily API budget of this company is spent",
                                          kind="daily", wait_seconds=3600)
    await executor.execute(run.run_id, OWNER)
    stored = store.runs[run.run_id]
    assert stored.status is RunStatus.WAITING
    assert store.not_before[run.run_id] == clock.now().replace(hour=11)
    waiting = store.of(c.RunProgress)[-1].payload
    assert waiting.waiting_until == clock.now().replace(hour=11)
    assert "daily" in waiting.waiting_reason
    store.owners[run.run_id] = OWNER  # claimed again after the reset
    await executor.execute(run.run_id, OWNER)
    assert store.runs[run.run_id].status is RunStatus.COMPLETED
    assert len(store.of(c.RunStarted)) == 1  # waiting is not a restart


async def test_no_new_token_yet_makes_the_run_wait_until_exact_allows_one(
        kit: Any, clock: Any) -> None:
    run, store, _, exact, executor = setup(kit, clock)
    exact.raise_at[(GL, 1)] = TokenNotYetAllowed("Exact allows a new token later",
                                                 wait_seconds=120)
    await executor.execute(run.run_id, OWNER)
    assert store.runs[run.run_id].status is RunStatus.WAITING
    waiting = store.of(c.RunProgress)[-1].payload
    assert waiting.waiting_until == clock.now().replace(minute=2)
    assert "new token" in waiting.waiting_reason
    assert not store.of(c.RunFailed)


async def test_a_revoked_grant_pauses_the_run_and_keeps_its_checkpoint(kit: Any, clock: Any) -> None:
    run, store, _, exact, executor = setup(kit, clock)
    exact.raise_at[(GL, 2)] = GrantRevoked("the grant can no longer be used: withdrawn")
    await executor.execute(run.run_id, OWNER)
    stored = store.runs[run.run_id]
    assert stored.status is RunStatus.PAUSED
    assert stored.checkpoints[str(GL)].pages == 2
    [failed] = store.of(c.RunFailed)
    assert failed.payload.reason_code == "grant_revoked" and failed.payload.retryable is True
    assert "authorized again" in failed.payload.reason


async def test_a_grant_replaced_meanwhile_is_used_instead_of_pausing(kit: Any, clock: Any) -> None:
    run, store, _, exact, executor = setup(kit, clock)
    exact.raise_at[(GL, 1)] = GrantRevoked("gone")
    new_grant = uuid.uuid4()

    async def recreate_accepted_meanwhile(run_id: uuid.UUID) -> uuid.UUID:
        return new_grant

    store.current_grant = recreate_accepted_meanwhile
    await executor.execute(run.run_id, OWNER)
    assert store.runs[run.run_id].status is RunStatus.COMPLETED
    assert exact.requests[1][0].grant_id == new_grant and exact.requests[1][1] == "page=1"


async def test_a_page_that_cannot_be_had_fails_the_run_with_the_reason(
        kit: Any, clock: Any) -> None:
    run, store, _, exact, executor = setup(kit, clock)
    error = PageFailed("sync/Financial/GLAccounts: page failed 6 times, last: HTTP 500")
    exact.raise_at[(GL, 1)] = error
    await executor.execute(run.run_id, OWNER)
    assert store.runs[run.run_id].status is RunStatus.FAILED
    [failed] = store.of(c.RunFailed)
    assert (failed.payload.reason_code, failed.payload.retryable) == ("exact_error", True)
    assert str(error) in failed.payload.reason
    assert store.runs[run.run_id].checkpoints[str(GL)].pages == 1


@pytest.mark.parametrize("error,code", [
    (InvalidData("a row does not fit GLAccount"), "invalid_data"),
    (ExactRequestRejected("sync/Financial/GLAccounts: HTTP 400: bad", status=400), "exact_error"),
    (Forbidden("HTTP 403: Forbidden - Application Scope Violated"), "not_authorized"),
])
async def test_one_entity_that_cannot_be_imported_does_not_sink_the_others(
        kit: Any, clock: Any, error: Exception, code: str) -> None:
    run, store, publisher, exact, executor = setup(kit, clock)
    exact.raise_at[(GL, 1)] = error
    await executor.execute(run.run_id, OWNER)
    assert store.runs[run.run_id].status is RunStatus.COMPLETED
    [completed] = store.of(c.RunCompleted)
    p = completed.payload
    assert p.outcome == "completed_with_errors"
    assert [(f.entity, f.reason_code) for f in p.failed_entities] == [(GL, code)]
    assert str(error) in p.failed_entities[0].reason
    assert [t.entity for t in p.totals] == [BUD]  # only entities read in full are reconciled
    assert {b.payload.entity for b in publisher.sent} == {GL, BUD}
    assert store.runs[run.run_id].checkpoints[str(GL)].failed_code == code
    last = store.of(c.RunProgress)[-1].payload
    assert {e.entity: e.failed for e in last.entities} == {GL: True, BUD: False}


async def test_a_run_where_no_entity_could_be_imported_fails(kit: Any, clock: Any) -> None:
    run, store, _, exact, executor = setup(kit, clock)
    exact.raise_at[(GL, 0)] = ExactRequestRejected("GL: HTTP 404: not found", status=404)
    exact.raise_at[(BUD, 0)] = InvalidData("Budgets: a row does not fit Budget")
    await executor.execute(run.run_id, OWNER)
    assert store.runs[run.run_id].status is RunStatus.FAILED
    [failed] = store.of(c.RunFailed)
    assert (failed.payload.reason_code, failed.payload.retryable) == ("exact_error", False)
    assert [f.entity for f in failed.payload.failed_entities] == [GL, BUD]
    assert store.of(c.RunCompleted) == []


async def test_a_403_that_bars_the_whole_company_stops_the_run(kit: Any, clock: Any) -> None:
    run, store, _, exact, executor = setup(kit, clock)
    exact.raise_at[(GL, 0)] = Forbidden("HTTP 403: blocked", reason="NoDivisionAccess")
    await executor.execute(run.run_id, OWNER)
    assert store.runs[run.run_id].status is RunStatus.FAILED
    assert exact.requests[-1][0].entity == GL  # Budgets was not even tried


async def test_fields_exact_dropped_are_reported_with_the_run(kit: Any, clock: Any) -> None:
    run, store, _, exact, executor = setup(kit, clock)
    for page in exact.script[BUD]:
        page.dropped = ("Costcenter",)
    await executor.execute(run.run_id, OWNER)
    [completed] = store.of(c.RunCompleted)
    assert completed.payload.outcome == "completed"
    assert [(d.entity, d.endpoint, d.field) for d in completed.payload.dropped_fields] == [
        (BUD, "fake/Budgets", "Costcenter")]


async def test_a_run_whose_lease_was_taken_over_stops_without_writing(kit: Any, clock: Any) -> None:
    run, store, publisher, _, executor = setup(kit, clock)
    store.owners[run.run_id] = "replica-b"
    await executor.execute(run.run_id, OWNER)
    assert publisher.sent == [] and store.events == []


async def test_finished_runs_are_not_run_again(kit: Any, clock: Any) -> None:
    run, store, publisher, _, executor = setup(kit, clock)
    store.runs[run.run_id].status = RunStatus.COMPLETED
    await executor.execute(run.run_id, OWNER)
    assert publisher.sent == []


async def test_checkpoints_commit_in_page_order_each_behind_its_acks_while_the_next_is_sent(
        kit: Any, clock: Any) -> None:
    run, store, publisher, _exact, executor = setup(kit, clock)
    log: list[tuple[str, str, int]] = []
    publish, save_page = publisher.publish, store.save_page

    async def acked_later(batches: Any) -> None:
        for _ in range(3):
            await asyncio.sleep(0)  # the broker takes a while
        await publish(batches)
        log.extend(("acked", b.message.payload.entity, b.message.payload.batch_seq)
                   for b in batches)

    async def slow_commit(run_: Any, cp: Any, *args: Any, **kwargs: Any) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        log.append(("saved", cp.entity, cp.next_batch_seq - 1))
        await save_page(run_, cp, *args, **kwargs)

    publisher.publish, store.save_page = acked_later, slow_commit
    await executor.execute(run.run_id, OWNER)
    assert store.runs[run.run_id].status is RunStatus.COMPLETED
    saved = [e for e in log if e[0] == "saved"]
    assert [(e, s) for _, e, s in saved] == [(GL, 0), (GL, 1), (GL, 2), (BUD, 0), (BUD, 1)]
    for _, entity, seq in saved:  # a checkpoint only after its page's acks
        assert log.index(("acked", entity, seq)) < log.index(("saved", entity, seq))
    # the pipeline: page 2 was sent while page 1's checkpoint was being committed
    assert log.index(("acked", GL, 1)) < log.index(("saved", GL, 0))


async def test_a_crash_costs_at_most_the_pages_in_flight_and_resumes_with_the_same_batch_seq(
        kit: Any, clock: Any) -> None:
    gl = [kit.gl_row(i) for i in range(8)]
    exact = kit.FakeExact({GL: [kit.page_of([r], f"page={i + 1}" if i < 7 else None)
                                for i, r in enumerate(gl)]})
    run = kit.new_run((GL,))
    store, publisher = kit.FakeStore(), kit.FakePublisher()
    store.add(run, OWNER)
    executor = RunExecutor(store, exact, publisher, clock)
    save_page, served = store.save_page, {"n": 0}
    original_pages = exact.pages

    async def counted(*args: Any) -> Any:
        async for page in original_pages(*args):
            served["n"] += 1
            yield page

    async def dies_at_the_third_commit(*args: Any, **kwargs: Any) -> None:
        if store.saves == 2:
            raise ProcessDied
        await save_page(*args, **kwargs)

    exact.pages, store.save_page = counted, dies_at_the_third_commit  # type: ignore[method-assign]
    with pytest.raises(ProcessDied):
        await executor.execute(run.run_id, OWNER)
    cp = store.runs[run.run_id].checkpoints[str(GL)]
    assert cp.pages == 2 and cp.cursor == "page=2"
    assert served["n"] - cp.pages <= PAGES_IN_FLIGHT  # fetched beyond the checkpoint
    first = {m.payload.batch_seq: m.message_id for m in publisher.sent}
    store.save_page = save_page  # type: ignore[method-assign]
    await executor.execute(run.run_id, OWNER)
    again = publisher.sent[len(first):]
    assert again[0].payload.batch_seq == 2  # resumed at the checkpoint
    assert all(first[m.payload.batch_seq] == m.message_id for m in again
               if m.payload.batch_seq in first)
    assert sorted({m.payload.batch_seq for m in publisher.sent}) == list(range(8))
    [completed] = store.of(c.RunCompleted)
    assert completed.payload.totals[0].rows == 8


async def test_each_entity_read_to_the_end_is_logged_with_its_rows_pages_and_time(
        kit: Any, clock: Any) -> None:
    run, _store, _publisher, _exact, executor = setup(kit, clock)
    with structlog.testing.capture_logs() as logs:
        await executor.execute(run.run_id, OWNER)
    read = [(x["entity"], x["rows"], x["pages"]) for x in logs if x["event"] == "entity_read"]
    assert read == [("GLAccounts", 5, 3), ("Budgets", 3, 2)]
    assert all(x["seconds"] >= 0 for x in logs if x["event"] == "entity_read")
