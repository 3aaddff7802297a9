"""The AsyncAPI document of the whole connector, generated from the services' FastStream apps.

``python -m connector_demo.asyncapi`` writes ``docs/asyncapi.json`` (all three services'
channels and the contract schemas in one document) and ``docs/asyncapi.html`` (rendered).
A test regenerates it and fails when the committed document is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from faststream.asyncapi.generate import get_app_schema
from faststream.asyncapi.site import get_asyncapi_html

DOCS = Path(__file__).resolve().parents[3] / "docs"
SERVICES = ("auth", "datasource", "ingest")


def service_schema(service: str) -> dict[str, Any]:
    module = __import__(f"{service}.app", fromlist=["asyncapi_app"])
    schema = get_app_schema(module.asyncapi_app())
    data: dict[str, Any] = json.loads(schema.to_json())
    return data


def combined() -> dict[str, Any]:
    doc: dict[str, Any] = {
        "asyncapi": "2.6.0",
        "defaultContentType": "application/json",
        "info": {
            "title": "Exact Online connector",
            "version": "1.0.0",
            "description": (
                "Commands and events of the auth, datasource and ingest services. Every message "
                "has the envelope message_id, type, schema_version, occurred_at (UTC), "
                "correlation_id, datasource_id, payload; the Kafka key is datasource_id. "
                "Delivery is at least once: dedupe on message_id, or on (run_id, entity, "
                "batch_seq) for LedgerBatch. Every topic T has a dead-letter topic T.dlq."
            ),
        },
        "servers": {"kafka": {"url": "kafka:9092", "protocol": "kafka"}},
        "channels": {},
        "components": {"messages": {}, "schemas": {}},
    }
    for service in SERVICES:
        schema = service_schema(service)
        for name, channel in schema.get("channels", {}).items():
            channel.pop("servers", None)
            doc["channels"][f"{service}/{name}"] = channel
        for kind in ("messages", "schemas"):
            doc["components"][kind].update(schema.get("components", {}).get(kind, {}))
    doc["components"]["messages"] = dict(sorted(doc["components"]["messages"].items()))
    doc["components"]["schemas"] = dict(sorted(doc["components"]["schemas"].items()))
    doc["channels"] = dict(sorted(doc["channels"].items()))
    return doc


def render() -> tuple[str, str]:
    doc = combined()
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    from faststream.asyncapi.schema import Schema

    html = get_asyncapi_html(Schema(**doc), sidebar=True, title="Exact Online connector")
    return text, html


def main() -> None:
    text, html = render()
    DOCS.mkdir(exist_ok=True)
    (DOCS / "asyncapi.json").write_text(text)
    (DOCS / "asyncapi.html").write_text(html)
    sys.stdout.write(f"wrote {DOCS / 'asyncapi.json'} and asyncapi.html\n")


if __name__ == "__main__":
    main()
