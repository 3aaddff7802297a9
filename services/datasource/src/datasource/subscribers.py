"""Kafka subscribers of the datasource service: typed contract in, bind log context, one use case."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from datasource.settings import DatasourceSettings


def build_router(settings: DatasourceSettings, group_id: str) -> KafkaRouter:
    router = KafkaRouter()
    return router
