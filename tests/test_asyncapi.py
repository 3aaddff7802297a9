"""The committed AsyncAPI document is the one the code generates (``make docs`` refreshes it)."""

import json

from connector_demo.asyncapi import DOCS, render


def test_committed_asyncapi_document_is_current() -> None:
    text, _html = render()
    committed = (DOCS / "asyncapi.json").read_text()
    assert json.loads(committed) == json.loads(text), "docs/asyncapi.json is stale: run `make docs`"
    assert (DOCS / "asyncapi.html").is_file()


def test_document_names_every_topic_with_its_producer_and_consumers() -> None:
    doc = json.loads((DOCS / "asyncapi.json").read_text())
    channels = set(doc["channels"])
    assert "ingest/exact.ledger.batches:publish" in channels
    assert "datasource/exact.datasource.commands:OnCommand" in channels
    assert "auth/exact.auth.requests:OnAuthorizationRequested" in channels
    assert {"LedgerBatch", "TransactionLine", "ExactAuthorized"} <= set(doc["components"]["schemas"])
