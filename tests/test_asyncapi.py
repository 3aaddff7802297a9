"""The committed AsyncAPI document is the one the code generates (``make docs`` refreshes it),
and it documents the contracts: every topic, every message of ``libs/contracts`` on its
topic's channels, with the schema the contracts library defines."""

from __future__ import annotations

import json
from typing import Any

import pytest

import contracts as c
from connector_demo.asyncapi import DOCS, render

DOC: dict[str, Any] = json.loads((DOCS / "asyncapi.json").read_text())
SCHEMAS: dict[str, Any] = DOC["components"]["schemas"]
MESSAGES = [(topic, cls) for topic, classes in c.TOPIC_MESSAGES.items() for cls in classes]
REF = "#/components/schemas/"


def test_committed_asyncapi_document_is_current() -> None:
    text, _html = render()
    assert json.loads(text) == DOC, "docs/asyncapi.json is stale: run `make docs`"
    html = (DOCS / "asyncapi.html").read_text()
    assert all(topic in html for topic in c.TOPICS), "docs/asyncapi.html is stale: `make docs`"


def test_document_names_every_topic_with_its_producer_and_consumers() -> None:
    channels = set(DOC["channels"])
    assert "ingest/exact.ledger.batches:publish" in channels
    assert "datasource/exact.datasource.commands:OnCommand" in channels
    assert "auth/exact.auth.requests:OnAuthorizationRequested" in channels
    documented = {ch["bindings"]["kafka"]["topic"] for ch in DOC["channels"].values()}
    assert set(c.TOPICS) <= documented, f"topics missing: {set(c.TOPICS) - documented}"


def _refs(node: Any) -> set[str]:
    """Schema names a part of the document refers to, following refs transitively."""
    found: set[str] = set()
    todo = [node]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            ref = item.get("$ref", "")
            if ref.startswith(REF) and ref[len(REF):] not in found:
                found.add(ref[len(REF):])
                todo.append(SCHEMAS.get(ref[len(REF):]))
            elif ref.startswith("#/components/messages/"):
                todo.append(DOC["components"]["messages"][ref.rsplit("/", 1)[1]])
            todo.extend(v for k, v in item.items() if k != "$ref")
        elif isinstance(item, list):
            todo.extend(item)
    return found


def _without_mappings(node: Any) -> Any:
    """AsyncAPI 2.6 names a discriminator by its property alone (no OpenAPI mapping)."""
    if isinstance(node, dict):
        return {k: (v["propertyName"] if k == "discriminator" and isinstance(v, dict)
                    else _without_mappings(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_mappings(v) for v in node]
    return node


@pytest.mark.parametrize(("topic", "cls"), MESSAGES, ids=lambda v: getattr(v, "__name__", v))
def test_every_message_is_on_its_topic_with_the_contract_schema(topic: str,
                                                                cls: type[c.Message]) -> None:
    on_topic = [ch for ch in DOC["channels"].values() if ch["bindings"]["kafka"]["topic"] == topic]
    assert cls.__name__ in _refs(on_topic), f"{cls.__name__} is not on a channel of {topic}"
    schema = cls.model_json_schema(ref_template=REF + "{model}")
    definitions = schema.pop("$defs", {})
    assert _without_mappings(SCHEMAS.get(cls.__name__)) == _without_mappings(schema), \
        f"{cls.__name__}: the document's schema is not the contract's"
    for name, definition in definitions.items():  # payloads, ledger rows, enums
        assert _without_mappings(SCHEMAS.get(name)) == _without_mappings(definition), \
            f"{cls.__name__}: {name} differs from the contract"
