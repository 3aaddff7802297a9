"""Envelope, strict validation and parsing of messages from their topic."""

from __future__ import annotations

import json
import typing
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import AwareDatetime

import contracts as c


def _create(**payload: object) -> c.CreateDataSource:
    base: dict[str, object] = {"authorization_mode": "self", "requested_by": "portal-user-1"}
    base.update(payload)
    return c.CreateDataSource.create(
        datasource_id=uuid.uuid4(), payload=c.CreateDataSourcePayload(**base)  # type: ignore[arg-type]
    )


def test_message_round_trips_through_its_topic() -> None:
    msg = _create(new_company_domain_name="Acme BV")
    parsed = c.parse_message(c.DATASOURCE_COMMANDS, msg.to_bytes())
    assert parsed == msg
    assert isinstance(parsed, c.CreateDataSource)


def test_key_is_the_datasource_id() -> None:
    msg = _create(new_company_domain_name="Acme BV")
    assert msg.key == str(msg.datasource_id).encode()


def test_caused_message_keeps_datasource_and_correlation() -> None:
    cmd = _create(new_company_domain_name="Acme BV")
    event = cmd.caused(
        c.DataSourceCreated,
        c.DataSourceCreatedPayload(
            company_domain_id=uuid.uuid4(),
            company_domain_name="Acme BV",
            company_domain_created=True,
            authorization_mode="self",
            requested_by="portal-user-1",
        ),
    )
    assert event.correlation_id == cmd.correlation_id
    assert event.datasource_id == cmd.datasource_id
    assert event.message_id != cmd.message_id


def test_occurred_at_is_normalised_to_utc() -> None:
    msg = _create(new_company_domain_name="Acme BV")
    raw = msg.model_dump(mode="json")
    raw["occurred_at"] = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))).isoformat()
    parsed = c.parse_message(c.DATASOURCE_COMMANDS, json.dumps(raw))
    assert parsed.occurred_at == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert parsed.occurred_at.utcoffset() == timedelta(0)


def test_create_needs_exactly_one_company_domain() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        _create()
    with pytest.raises(ValueError, match="exactly one"):
        _create(company_domain_id=uuid.uuid4(), new_company_domain_name="Acme")


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        (b"not json", "Invalid JSON"),
        (b'{"type": "Nope"}', "does not match any of the expected tags"),
        (b'{"type": "CreateDataSource"}', "message_id: Field required"),
    ],
)
def test_bad_bytes_raise_contract_error_with_reason(raw: bytes, reason_part: str) -> None:
    with pytest.raises(c.ContractError) as info:
        c.parse_message(c.DATASOURCE_COMMANDS, raw)
    assert reason_part in info.value.reason


def test_strict_types_refuse_coercion() -> None:
    raw = _create(new_company_domain_name="Acme").model_dump(mode="json")
    raw["schema_version"] = "1"
    with pytest.raises(c.ContractError, match="schema_version"):
        c.parse_message(c.DATASOURCE_COMMANDS, json.dumps(raw))


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    raw = _create(new_company_domain_name="Acme").model_dump(mode="json")
    raw["payload"]["added_in_a_later_version"] = 1
    raw["added_to_envelope"] = "x"
    parsed = c.parse_message(c.DATASOURCE_COMMANDS, json.dumps(raw))
    assert isinstance(parsed, c.CreateDataSource)


def test_a_message_over_its_topic_size_limit_is_refused_even_when_otherwise_valid() -> None:
    raw = _create(new_company_domain_name="Acme").model_dump(mode="json")
    raw["padding"] = "x" * c.MAX_MESSAGE_BYTES[c.DATASOURCE_COMMANDS]
    with pytest.raises(c.ContractError, match="limit"):
        c.parse_message(c.DATASOURCE_COMMANDS, json.dumps(raw))
    del raw["padding"]
    assert isinstance(c.parse_message(c.DATASOURCE_COMMANDS, json.dumps(raw)), c.CreateDataSource)
    assert c.MAX_MESSAGE_BYTES[c.LEDGER_BATCHES] >= 900_000  # ingest's largest batch fits


def test_message_of_another_topic_is_refused() -> None:
    with pytest.raises(c.ContractError):
        c.parse_message(c.AUTH_REQUESTS, _create(new_company_domain_name="Acme").to_bytes())


def test_contract_error_does_not_echo_input_values() -> None:
    raw = _create(new_company_domain_name="Acme").model_dump(mode="json")
    raw["payload"]["authorization_mode"] = "refresh_token=SECRET123"
    with pytest.raises(c.ContractError) as info:
        c.parse_message(c.DATASOURCE_COMMANDS, json.dumps(raw))
    assert "SECRET123" not in info.value.reason


def test_every_topic_has_a_dead_letter_topic() -> None:
    for topic in c.TOPICS:
        assert c.dead_letter_topic(topic) in c.DEAD_LETTER_TOPICS
    assert len(set(c.ALL_TOPICS)) == len(c.ALL_TOPICS)


def test_ledger_batch_rows_are_typed_by_entity() -> None:
    line = c.ROW_MODELS[c.Entity.TRANSACTION_LINES].model_validate(
        {
            "ID": uuid.uuid4(),
            "EntryID": uuid.uuid4(),
            "Division": 7,
            "Date": date(2024, 3, 1),
            "FinancialYear": 2024,
            "FinancialPeriod": 3,
            "AmountDC": Decimal("-12.34"),
        }
    )
    batch = c.LedgerBatch.create(
        datasource_id=uuid.uuid4(),
        payload=c.BATCH_MODELS[c.Entity.TRANSACTION_LINES](
            run_id=uuid.uuid4(),
            kind="initial",
            division=7,
            batch_seq=0,
            entity=c.Entity.TRANSACTION_LINES,
            rows=(line,),
        ),
    )
    raw = batch.to_bytes()
    assert b'"amount_dc":"-12.34"' in raw  # Decimal on the wire as a string: no float rounding
    parsed = c.parse_message(c.LEDGER_BATCHES, raw)
    assert isinstance(parsed, c.LedgerBatch)
    assert parsed.payload.rows[0].amount_dc == Decimal("-12.34")
    assert parsed.payload.rows[0].date == date(2024, 3, 1)


def test_ledger_batch_refuses_rows_of_another_entity() -> None:
    raw = {
        "message_id": str(uuid.uuid4()),
        "type": "LedgerBatch",
        "schema_version": 1,
        "occurred_at": "2026-01-01T00:00:00Z",
        "correlation_id": str(uuid.uuid4()),
        "datasource_id": str(uuid.uuid4()),
        "payload": {
            "run_id": str(uuid.uuid4()),
            "kind": "initial",
            "division": 7,
            "batch_seq": 0,
            "entity": "GLAccounts",
            "rows": [{"id": str(uuid.uuid4()), "entry_id": str(uuid.uuid4())}],
        },
    }
    with pytest.raises(c.ContractError, match="GLAccounts"):
        c.parse_message(c.LEDGER_BATCHES, json.dumps(raw))


def test_exact_fields_are_the_select_list() -> None:
    fields = c.exact_fields(c.ROW_MODELS[c.Entity.TRANSACTION_LINES])
    assert {"ID", "EntryID", "AmountDC", "Date", "Timestamp"} <= set(fields)
    assert all(f[0].isupper() for f in fields)


def test_id_texts_and_their_hash_sum_are_those_of_each_id() -> None:
    ids: list[object] = [uuid.UUID("4E383ED4-D9D3-4FDB-A6C3-EFE176B918CA"), 34466345255080216,
                         "AbC", -3, *(uuid.uuid4() for _ in range(50))]
    for some in (ids, ids[4:], ids[1:4], ids[:1], []):
        assert c.id_texts(some) == [str(i).lower() for i in some]
        assert c.id_hash_sum(some) == sum(c.id_hash_term(i) for i in some)


def test_id_hash_is_order_and_case_insensitive() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    assert c.id_hash([a, b]) == c.id_hash([str(b).upper(), a])
    assert c.id_hash([a]) != c.id_hash([b])
    assert len(c.id_hash([a])) == 16


def test_id_hash_streams_and_matches_the_batch_form() -> None:
    ids = [uuid.uuid4() for _ in range(50)]
    running = c.IdHash()
    for i in ids:
        running.add(i)
    assert running.hexdigest() == c.id_hash(ids)
    running.remove(ids[0])
    assert running.hexdigest() == c.id_hash(ids[1:])
    assert c.id_hash([]) == "0" * 16


def _started(plan: c.RunPlan | None) -> c.RunStarted:
    return c.RunStarted.create(datasource_id=uuid.uuid4(), payload=c.RunStartedPayload(
        run_id=uuid.uuid4(), kind="initial", division=7,
        entities=(c.Entity.TRANSACTION_LINES, c.Entity.REPORTING_BALANCE), plan=plan))


def test_run_started_carries_the_run_plan_and_its_eta() -> None:
    plan = c.RunPlan(
        entities=(c.PlannedEntity(entity=c.Entity.TRANSACTION_LINES, estimated_rows=1_000_000,
                                  calls=1_000, day=0),
                  c.PlannedEntity(entity=c.Entity.REPORTING_BALANCE, calls=1, day=0)),
        calls=1_001, days=0, eta_seconds=1_001.0, daily_limit=5_000,
        finishes_at=datetime(2026, 3, 2, 22, 16, 41, tzinfo=UTC), daily_budget_remaining=4_800,
        lower_bound=True)
    msg = _started(plan)
    parsed = c.parse_message(c.RUN_EVENTS, msg.to_bytes())
    assert isinstance(parsed, c.RunStarted) and parsed.payload.plan == plan
    assert parsed.payload.plan.entities[1].estimated_rows is None


def test_a_run_started_of_the_version_before_the_plan_still_parses() -> None:
    raw = _started(None).model_dump(mode="json")
    raw["schema_version"] = c.RunStarted.SCHEMA_VERSION - 1
    del raw["payload"]["plan"]
    parsed = c.parse_message(c.RUN_EVENTS, json.dumps(raw))
    assert isinstance(parsed, c.RunStarted) and parsed.payload.plan is None


_EVERY_CHARACTER = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
"""Text with every Unicode scalar value (quotes, backslash, control characters included)."""


def _awkward_value(annotation: object) -> object:
    """A value of a row field's type that is awkward on the wire."""
    kinds = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    kind = kinds[0]
    if typing.get_origin(kind) is typing.Annotated:
        kind = typing.get_args(kind)[0]
    values: dict[object, object] = {
        uuid.UUID: uuid.UUID("4e383ed4-d9d3-4fdb-a6c3-efe176b918ca"),
        Decimal: Decimal("-12345678901234567890.123456789E-3"),
        AwareDatetime: datetime(2024, 3, 31, 1, 2, 3, 4500, tzinfo=UTC),
        date: date(1, 1, 1), bool: True, int: -(2**70), str: 'Café 😀 "x"\\\n\u2028\x7f'}
    return values[kind]


@pytest.mark.parametrize("entity", list(c.Entity))
def test_a_ledger_batch_serializes_to_what_pydantic_makes_of_the_whole_message(
        entity: c.Entity) -> None:
    model = c.ROW_MODELS[entity]
    full = model.model_validate({name: _awkward_value(f.annotation)
                                 for name, f in model.model_fields.items()})
    bare = model.model_validate({name: _awkward_value(f.annotation)
                                 for name, f in model.model_fields.items() if f.is_required()})
    for checkpoint, last, rows in (("api/v1/1/x?$skiptoken=guid'ab'", True, (full, bare, full)),
                                   (None, False, ())):
        batch = c.LedgerBatch.create(datasource_id=uuid.uuid4(), payload=c.BATCH_MODELS[entity](
            run_id=uuid.uuid4(), kind="reimport", division=7, batch_seq=3,
            checkpoint=checkpoint, last=last, entity=entity, rows=rows))
        assert batch.to_bytes() == batch.model_dump_json().encode()
        assert c.parse_message(c.LEDGER_BATCHES, batch.to_bytes()) == batch


def test_a_ledger_batch_writes_every_character_as_pydantic_does() -> None:
    model = c.ROW_MODELS[c.Entity.GL_ACCOUNTS]
    row = model.model_validate({"ID": uuid.uuid4(), "Code": _EVERY_CHARACTER, "Division": 1})
    batch = c.LedgerBatch.create(datasource_id=uuid.uuid4(), payload=c.BATCH_MODELS[
        c.Entity.GL_ACCOUNTS](run_id=uuid.uuid4(), kind="initial", division=1, batch_seq=0,
                              entity=c.Entity.GL_ACCOUNTS, rows=(row,)))
    assert batch.to_bytes() == batch.model_dump_json().encode()
