"""Published messages may only change additively (:mod:`contracts.schema_history`).

The JSON schema of every message is recorded in ``libs/contracts/schemas``. This test only
compares and never writes: a missing record, a removed or retyped field, a new required
field fail everywhere, and an additive change fails until its ``SCHEMA_VERSION`` is bumped
and it is recorded with ``make schemas``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import contracts as c
from contracts.schema_history import (
    SCHEMA_DIR,
    breaking_changes,
    current_schema,
    problems,
    published_messages,
    record,
)


@pytest.mark.parametrize("cls", published_messages(), ids=lambda cls: cls.__name__)
def test_published_schema_is_recorded_and_only_changed_additively(cls: type[c.Message]) -> None:
    before = {p.name: p.read_bytes() for p in SCHEMA_DIR.glob("*.json")}
    assert problems(cls) == []
    assert {p.name: p.read_bytes() for p in SCHEMA_DIR.glob("*.json")} == before


def test_every_recorded_schema_belongs_to_a_published_message() -> None:
    names = {cls.__name__ for cls in published_messages()}
    assert {p.stem for p in SCHEMA_DIR.glob("*.json")} <= names


@pytest.fixture
def history(tmp_path: Path) -> Path:
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, copy)
    return copy


def test_a_missing_schema_fails_and_is_not_written_by_the_check(history: Path) -> None:
    (history / "ExactAuthorized.json").unlink()
    assert "missing" in problems(c.ExactAuthorized, history)[0]
    assert not (history / "ExactAuthorized.json").exists()


def test_a_field_removed_since_the_record_fails_and_cannot_be_recorded(history: Path) -> None:
    # the record has a field the code no longer has: as if the code removed it
    path = history / "ExactAuthorized.json"
    doc = json.loads(path.read_text())
    doc["schema"]["$defs"]["ExactAuthorizedPayload"]["properties"]["legacy_code"] = {
        "type": "string"}
    path.write_text(json.dumps(doc))
    found = problems(c.ExactAuthorized, history)
    assert any("legacy_code: removed" in p for p in found)
    assert record(c.ExactAuthorized, history) is not None  # make schemas refuses it too
    assert "legacy_code" in (history / "ExactAuthorized.json").read_text()


def _with_an_optional_field() -> tuple[type[c.Message], str, str]:
    """A message, one of its schema definitions and an optional field of it."""
    for cls in published_messages():
        for name, definition in current_schema(cls).get("$defs", {}).items():
            required = set(definition.get("required", []))
            for field in definition.get("properties", {}):
                if field not in required:
                    return cls, name, field
    raise AssertionError("no message has an optional field")


def test_an_additive_change_needs_a_version_bump_then_a_record(
        history: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cls, definition, field = _with_an_optional_field()
    # a record of the schema without the optional field: as if the code just added it
    older = current_schema(cls)
    del older["$defs"][definition]["properties"][field]
    (history / f"{cls.__name__}.json").write_text(json.dumps(
        {"schema_version": cls.SCHEMA_VERSION, "schema": older}))
    assert "bump SCHEMA_VERSION" in problems(cls, history)[0]
    assert record(cls, history) is not None  # make schemas refuses an unversioned change
    monkeypatch.setattr(cls, "SCHEMA_VERSION", cls.SCHEMA_VERSION + 1)
    assert "make schemas" in problems(cls, history)[0]  # allowed, but not recorded yet
    assert record(cls, history) is None
    assert problems(cls, history) == []


def test_removing_a_field_is_detected() -> None:
    old = current_schema(c.ExactAuthorized)
    new = json.loads(json.dumps(old))
    del new["$defs"]["ExactAuthorizedPayload"]["properties"]["division"]
    assert any("division: removed" in p for p in breaking_changes(old, new))


def test_retyping_a_field_is_detected() -> None:
    old = current_schema(c.ExactAuthorized)
    new = json.loads(json.dumps(old))
    new["$defs"]["ExactAuthorizedPayload"]["properties"]["division"] = {"type": "string"}
    assert any("division: type changed" in p for p in breaking_changes(old, new))


def test_a_new_required_field_is_detected_and_an_optional_one_allowed() -> None:
    old = current_schema(c.ExactAuthorized)
    new = json.loads(json.dumps(old))
    payload = new["$defs"]["ExactAuthorizedPayload"]
    payload["properties"]["extra"] = {"type": "string"}
    assert breaking_changes(old, new) == []
    payload["required"].append("extra")
    assert any("extra: new field is required" in p for p in breaking_changes(old, new))


def test_removing_a_ledger_row_field_is_detected() -> None:
    old = current_schema(c.LedgerBatch)
    new = json.loads(json.dumps(old))
    del new["$defs"]["TransactionLine"]["properties"]["amount_dc"]
    assert any("amount_dc: removed" in p for p in breaking_changes(old, new))


def test_a_new_code_is_allowed_and_a_removed_one_detected() -> None:
    old = current_schema(c.AuthorizationFailed)
    new = json.loads(json.dumps(old))
    codes = new["$defs"]["AuthorizationFailedPayload"]["properties"]["reason_code"]["enum"]
    codes.append("another_code")
    assert breaking_changes(old, new) == []
    codes.remove("access_denied")
    assert any("values removed" in p for p in breaking_changes(old, new))


def test_a_batch_of_a_new_entity_is_allowed_and_a_removed_one_detected() -> None:
    old = current_schema(c.LedgerBatch)
    new = json.loads(json.dumps(old))
    payload = new["properties"]["payload"]
    variants = payload["oneOf"]
    variants.append({"$ref": "#/$defs/AnotherBatch"})
    new["$defs"]["AnotherBatch"] = {"type": "object", "properties": {
        "entity": {"const": "Another", "type": "string"}}}
    assert breaking_changes(old, new) == []
    del variants[0]
    assert any("removed" in p for p in breaking_changes(old, new))


def test_every_entity_has_its_batch() -> None:
    assert set(c.BATCH_MODELS) == set(c.Entity) == set(c.ROW_MODELS)
