"""The published JSON schema of every message, kept in ``libs/contracts/schemas``, and the rule
a change to it must follow: additive only.

* never allowed: a field removed, a field's type changed, a new field that is required (a
  consumer reading an older stored message would not find it: consumers do not branch on
  ``schema_version``, they ignore unknown fields);
* an additive change (a new optional field, a new message, a new value of a code list such
  as a reason code or an entity, a new variant of a tagged union such as a batch of a new
  entity, every earlier value kept) is recorded with a higher ``SCHEMA_VERSION`` on
  the message class. Consumers are deployed before the producers that use a new code.

The contract test only compares and never writes. ``make schemas`` (``python -m
contracts.schema_history``) records the current schemas, and refuses to record a breaking
change or a change whose version was not bumped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from contracts.envelope import Message
from contracts.topics import TOPIC_MESSAGES

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def published_messages() -> list[type[Message]]:
    return sorted({cls for classes in TOPIC_MESSAGES.values() for cls in classes},
                  key=lambda cls: cls.__name__)


def current_schema(cls: type[Message]) -> dict[str, Any]:
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
    return (schema.get("type"), schema.get("format"), schema.get("const"), "enum" in schema)


def _enum(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    return {json.dumps(v) for v in _resolve(schema, root).get("enum", [])}


def _variant_tag(schema: dict[str, Any], root: dict[str, Any]) -> str | None:
    schema = _resolve(schema, root)
    props = schema.get("properties", {})
    for key in ("entity", "type"):
        if key in props and "const" in props[key]:
            return str(props[key]["const"])
    return schema.get("type")


def _tagged_union(schema: dict[str, Any], root: dict[str, Any]) -> bool:
    """A discriminated union (e.g. LedgerBatch's payload, one variant per entity): gaining a
    variant is additive; its variants are compared one by one (a removed one is breaking)."""
    return "discriminator" in _resolve(schema, root)


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Fields removed or retyped, new required fields: what no version bump makes right."""
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
            if (_type_of(o_field, old) != _type_of(n_props[name], new)
                    and not _tagged_union(o_field, old) | _tagged_union(n_props[name], new)):
                problems.append(f"{path}.{name}: type changed")
            lost = _enum(o_field, old) - _enum(n_props[name], new)
            if lost:
                problems.append(f"{path}.{name}: values removed {sorted(lost)}")
            walk(o_field, n_props[name], f"{path}.{name}")
        o_required = set(o.get("required", []))
        for name in set(n.get("required", [])) - o_required:
            if name in n_props and name not in o_props:
                problems.append(f"{path}.{name}: new field is required")
            elif name in o_props:
                problems.append(f"{path}.{name}: optional field became required")
        if o.get("type") == "array" and n.get("type") == "array":
            walk(o.get("items", {}), n.get("items", {}), f"{path}[]")

    walk(old, new, "")
    return problems


def problems(cls: type[Message], schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Why the current schema of ``cls`` does not match its record; [] when it does."""
    path = schema_dir / f"{cls.__name__}.json"
    if not path.exists():
        return [f"{path.name} missing: a published message needs its schema recorded "
                "(`make schemas`, then commit the file)"]
    recorded = json.loads(path.read_text())
    current = current_schema(cls)
    found = [f"{cls.__name__}{p}: never allowed (additive changes only)"
             for p in breaking_changes(recorded["schema"], current)]
    if found:
        return found
    if recorded["schema"] != current and cls.SCHEMA_VERSION <= recorded["schema_version"]:
        return [f"{cls.__name__} changed additively: bump SCHEMA_VERSION above "
                f"{recorded['schema_version']}, then record it with `make schemas`"]
    if recorded["schema"] != current or recorded["schema_version"] != cls.SCHEMA_VERSION:
        return [f"{cls.__name__} (version {cls.SCHEMA_VERSION}) is not recorded: `make schemas`"]
    return []


def record(cls: type[Message], schema_dir: Path = SCHEMA_DIR) -> str | None:
    """Write the current schema of ``cls`` unless the change is not allowed; the refusal."""
    refused = [p for p in problems(cls, schema_dir)
               if "never allowed" in p or "bump SCHEMA_VERSION" in p]
    if refused:
        return "; ".join(refused)
    path = schema_dir / f"{cls.__name__}.json"
    text = json.dumps({"schema_version": cls.SCHEMA_VERSION, "schema": current_schema(cls)},
                      indent=1, sort_keys=True) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return None


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    refusals = {cls.__name__: r for cls in published_messages() if (r := record(cls))}
    for name, reason in refusals.items():
        sys.stderr.write(f"not recorded: {name}: {reason}\n")
    sys.stdout.write(f"schemas: {len(published_messages()) - len(refusals)} recorded in "
                     f"{SCHEMA_DIR}, {len(refusals)} refused\n")
    sys.exit(1 if refusals else 0)


if __name__ == "__main__":
    main()
