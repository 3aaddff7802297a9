"""Kafka subscribers of the ingest service: typed contract in, bind log context, one use case."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from ingest.settings import IngestSettings


def build_router(settings: IngestSettings, group_id: str) -> KafkaRouter:
    router = KafkaRouter()
    return router
