"""Kafka subscribers of the auth service: typed contract in, bind log context, one use case."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from auth.settings import AuthSettings


def build_router(settings: AuthSettings, group_id: str) -> KafkaRouter:
    router = KafkaRouter()
    return router
