"""Full refresh of an entity without a sync endpoint, on fakes: the initial run seeds the
row hashes, a refresh sends only new and changed rows and the vanished ones as deletions,
a refresh without changes sends nothing, and a refresh that crashes resumes without losing
or double-counting a change."""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal
from typing import Any

import pytest

import contracts as c
from ingest.domain.model import RunStatus
from ingest.domain.refresh import vanished_seq
from ingest.entities import CATALOG
from ingest.row_hashes import page_hashes, row_key
from ingest.usecases.run import RunExecutor


class ProcessDied(BaseException):
    """The process is killed (not an error the run handles)."""


OWNER = "replica-a"
BUD = c.Entity.BUDGETS


def budgets(kit: Any, amounts: dict[int, str]) -> list[c.Row]:
    return [kit.budget_row(n, a) for n, a in sorted(amounts.items())]


def exact_of(kit: Any, rows: list[c.Row]) -> Any:
    """Budgets in pages of two rows."""
    pages = [kit.page_of(rows[i:i + 2], f"page={i // 2 + 1}" if i + 2 < len(rows) else None,
                         amount=True) for i in range(0, max(len(rows), 1), 2)]
    return kit.FakeExact({BUD: pages})


async def run_once(kit: Any, clock: Any, store: Any, rows: list[c.Row], *, kind: str,
                   datasource_id: uuid.UUID, fail_on_publish: int | None = None
                   ) -> tuple[Any, Any]:
    run = dataclasses.replace(kit.new_run((BUD,)), kind=kind, datasource_id=datasource_id)
    store.add(run, OWNER)
    publisher = kit.FakePublisher()
    publisher.fail_on_call = fail_on_publish
    executor = RunExecutor(store, exact_of(kit, rows), publisher, clock)
    await executor.execute(run.run_id, OWNER)
    return run, publisher


def sent_ids(publisher: Any) -> set[str]:
    return {row_key(r) for m in publisher.sent for r in m.payload.rows}


def deleted_ids(publisher: Any) -> set[str]:
    return {r.id for m in publisher.deletes for r in m.payload.rows}


def test_the_refreshed_entities_are_those_without_a_sync_endpoint() -> None:
    assert set(CATALOG.refresh) >= {"Divisions", "Journals", "FinancialPeriods", "CostCenters",
                                    "CostUnits", "Budgets", "ReportingBalance"}
    assert not set(CATALOG.refresh) & {"GLAccounts", "GLClassifications", "Accounts",
                                       "TransactionLines"}
    seqs = {vanished_seq(CATALOG.position(e), n) for e in CATALOG.refresh for n in (0, 1, 999)}
    assert len(seqs) == 3 * len(CATALOG.refresh)
    assert min(seqs) >= 1_000_000  # never meets sync/Deleted's pages


def test_a_row_hash_follows_its_content() -> None:
    row = c.ROW_MODELS[BUD].model_validate({"ID": uuid.UUID(int=1), "ReportingYear": 2024,
                                            "ReportingPeriod": 1, "AmountDC": Decimal("1.00"),
                                            "Division": 1})
    same = row.model_copy()
    other = row.model_copy(update={"amount_dc": Decimal("1.01")})
    a, b, d = (page_hashes("Budgets", [r], sweep=False).hashes for r in (row, same, other))
    assert a == b != d


async def test_a_refresh_sends_only_the_changes_and_the_vanished_rows(kit: Any, clock: Any
                                                                      ) -> None:
    store, ds = kit.FakeStore(), uuid.uuid4()
    before = budgets(kit, {0: "1.00", 1: "2.00", 2: "3.00", 3: "4.00", 4: "5.00"})
    _initial, first = await run_once(kit, clock, store, before, kind="initial", datasource_id=ds)
    assert len(sent_ids(first)) == 5 and len(store.hashes[(ds, "Budgets")]) == 5

    # nothing changed: the refresh reads everything and sends nothing
    quiet, publisher = await run_once(kit, clock, store, before, kind="incremental",
                                      datasource_id=ds)
    assert store.runs[quiet.run_id].status is RunStatus.COMPLETED
    assert publisher.sent == [] and publisher.deletes == []
    [done] = [e for e in store.of(c.RunCompleted) if e.payload.run_id == quiet.run_id]
    assert done.payload.batches == 0 and done.payload.totals[0].rows == 0

    # row 1 changed, row 3 vanished, row 7 is new
    after = budgets(kit, {0: "1.00", 1: "2.50", 2: "3.00", 4: "5.00", 7: "8.00"})
    refresh, publisher = await run_once(kit, clock, store, after, kind="incremental",
                                        datasource_id=ds)
    keys = [row_key(r) for r in after]
    assert sent_ids(publisher) == {keys[1], keys[4]}
    assert deleted_ids(publisher) == {row_key(before[3])}
    [gone] = publisher.deletes
    assert gone.payload.reason == "deleted" and gone.payload.batch_seq == vanished_seq(CATALOG.position("Budgets"), 0)
    [done] = [e for e in store.of(c.RunCompleted) if e.payload.run_id == refresh.run_id]
    assert done.payload.totals[0].rows == 2 and done.payload.totals[0].deleted == 1
    assert done.payload.batches == len(publisher.sent) + 1
    assert set(store.hashes[(ds, "Budgets")]) == set(keys)


async def test_a_refresh_that_crashes_resumes_without_losing_or_repeating_a_change(
        kit: Any, clock: Any) -> None:
    store, ds = kit.FakeStore(), uuid.uuid4()
    before = budgets(kit, {n: f"{n}.00" for n in range(6)})
    await run_once(kit, clock, store, before, kind="initial", datasource_id=ds)
    after = budgets(kit, {0: "0.10", 1: "1.00", 2: "2.00", 3: "3.30", 4: "4.00", 9: "9.00"})
    run = dataclasses.replace(kit.new_run((BUD,)), kind="incremental", datasource_id=ds)
    store.add(run, OWNER)
    publisher = kit.FakePublisher()
    executor = RunExecutor(store, exact_of(kit, after), publisher, clock)
    original, saves = store.save_page, {"n": 0}

    async def crash_after_publishing_the_second_page(*args: Any, **kwargs: Any) -> None:
        saves["n"] += 1
        if saves["n"] == 2:
            raise ProcessDied  # the process dies between the acks and the checkpoint
        await original(*args, **kwargs)

    store.save_page = crash_after_publishing_the_second_page
    with pytest.raises(ProcessDied):
        await executor.execute(run.run_id, OWNER)
    store.save_page = original
    first_try = [(m.payload.batch_seq, sent_ids_of(m)) for m in publisher.sent]
    publisher.sent.clear()
    await executor.execute(run.run_id, OWNER)  # resumes at the page in flight
    assert store.runs[run.run_id].status is RunStatus.COMPLETED
    again = [(m.payload.batch_seq, sent_ids_of(m)) for m in publisher.sent]
    keys = [row_key(r) for r in after]
    # page 1 (row 0 changed) committed; page 2 (row 3 changed) died in its commit while page 3
    # was sent (the pipeline): both are sent again, with the same batch_seq values
    assert first_try == [(0, {keys[0]}), (1, {keys[3]}), (2, {keys[5]})]
    assert again == [(1, {keys[3]}), (2, {keys[5]})]
    assert deleted_ids(publisher) == {row_key(before[5])}
    [done] = store.of(c.RunCompleted)[-1:]
    assert done.payload.totals[0].rows == 3 and done.payload.totals[0].deleted == 1


def sent_ids_of(message: c.LedgerBatch) -> set[str]:
    return {row_key(r) for r in message.payload.rows}
