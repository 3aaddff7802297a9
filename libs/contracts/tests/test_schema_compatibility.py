"""Published events may only change additively.

The JSON schema of every message is kept in ``libs/contracts/schemas``. A field
that was published may not disappear or change type, and a new field must be
optional, so that older consumers and older stored messages keep working. To
record an allowed (additive) change, bump the message's ``SCHEMA_VERSION`` and run
``UPDATE_SCHEMAS=1 make test``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import contracts as c

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
MESSAGES = sorted({cls for classes in c.TOPIC_MESSAGES.values() for cls in classes}, key=str)


def _schema(cls: type[c.Message]) -> dict[str, Any]:
    return cls.model_json_schema(mode="serialization")


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].split("/")[-1]]
    return schema


def _type_of(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A comparable shape of a field's type, following refs."""
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return (key, sorted(json.dumps(_type_of(s, root), sort_keys=True) for s in schema[key]))
    if schema.get("type") == "array":
        return ("array", _type_of(schema.get("items", {}), root))
    if schema.get("type") == "object" and "properties" in schema:
        return ("object",)
    return (schema.get("type"), schema.get("format"), schema.get("const"), schema.get("enum"))


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    problems: list[str] = []

    def walk(o: dict[str, Any], n: dict[str, Any], path: str) -> None:
        o, n = _resolve(o, old), _resolve(n, new)
        for variant_key in ("oneOf", "anyOf"):
            if variant_key in o and variant_key in n:
                old_variants = {_variant_tag(v, old): v for v in o[variant_key]}
                new_variants = {_variant_tag(v, new): v for v in n[variant_key]}
                for tag, variant in old_variants.items():
                    if tag not in new_variants:
                        problems.append(f"{path}: variant {tag} removed")
                    elif tag is not None:
                        walk(variant, new_variants[tag], f"{path}[{tag}]")
                return
        o_props, n_props = o.get("properties", {}), n.get("properties", {})
        for name, o_field in o_props.items():
            if name not in n_props:
                problems.append(f"{path}.{name}: removed")
                continue
            if _type_of(o_field, old) != _type_of(n_props[name], new):
                problems.append(f"{path}.{name}: type changed")
            walk(o_field, n_props[name], f"{path}.{name}")
        o_required = set(o.get("required", []))
        for name in set(n.get("required", [])) - o_required:
            if name in n_props and name not in o_props:
                problems.append(f"{path}.{name}: new field is required")
        if o.get("type") == "array" and n.get("type") == "array":
            walk(o.get("items", {}), n.get("items", {}), f"{path}[]")

    walk(old, new, "")
    return problems


def _variant_tag(schema: dict[str, Any], root: dict[str, Any]) -> str | None:
    schema = _resolve(schema, root)
    props = schema.get("properties", {})
    for key in ("entity", "type"):
        if key in props and "const" in props[key]:
            return str(props[key]["const"])
    return schema.get("type")


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda cls: cls.__name__)
def test_published_schema_only_changes_additively(cls: type[c.Message]) -> None:
    path = SCHEMA_DIR / f"{cls.__name__}.json"
    current = _schema(cls)
    if os.environ.get("UPDATE_SCHEMAS") == "1" or not path.exists():
        if os.environ.get("CI") == "true" and not path.exists():
            pytest.fail(f"{path.name} missing: run UPDATE_SCHEMAS=1 make test and commit it")
        path.write_text(json.dumps({"schema_version": cls.SCHEMA_VERSION, "schema": current},
                                   indent=1, sort_keys=True) + "\n")
    recorded = json.loads(path.read_text())
    assert breaking_changes(recorded["schema"], current) == []
    if recorded["schema"] != current:
        assert cls.SCHEMA_VERSION > recorded["schema_version"], (
            f"{cls.__name__} changed: bump SCHEMA_VERSION and record it with UPDATE_SCHEMAS=1"
        )


def test_removing_a_field_is_detected() -> None:
    old = _schema(c.ExactAuthorized)
    new = json.loads(json.dumps(old))
    del new["$defs"]["ExactAuthorizedPayload"]["properties"]["division"]
    assert any("division: removed" in p for p in breaking_changes(old, new))


def test_retyping_a_field_is_detected() -> None:
    old = _schema(c.ExactAuthorized)
    new = json.loads(json.dumps(old))
    new["$defs"]["ExactAuthorizedPayload"]["properties"]["division"] = {"type": "string"}
    assert any("division: type changed" in p for p in breaking_changes(old, new))


def test_a_new_required_field_is_detected_and_an_optional_one_allowed() -> None:
    old = _schema(c.ExactAuthorized)
    new = json.loads(json.dumps(old))
    payload = new["$defs"]["ExactAuthorizedPayload"]
    payload["properties"]["extra"] = {"type": "string"}
    assert breaking_changes(old, new) == []
    payload["required"].append("extra")
    assert any("extra: new field is required" in p for p in breaking_changes(old, new))


def test_removing_a_ledger_row_field_is_detected() -> None:
    old = _schema(c.LedgerBatch)
    new = json.loads(json.dumps(old))
    del new["$defs"]["TransactionLine"]["properties"]["amount_dc"]
    assert any("amount_dc: removed" in p for p in breaking_changes(old, new))
