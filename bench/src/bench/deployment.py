"""What the deployed system consumes: topic -> the consumer groups that must read it.

Taken from the services' own declarations - each service's FastStream app, built the way
the service builds it, with the environment the system starts it with - and not from what
the running system happened to do (its dead letters, its committed offsets). A check that
every message reached every group then cannot be satisfied by a group that never shows up.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

SERVICES = ("auth", "datasource", "ingest")
"""The services of the system (the example sink reads only ``exact.ledger.batches``)."""


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def service_subscriptions(service: str, env: Mapping[str, str]) -> dict[str, set[str]]:
    """Topic -> consumer groups one service declares when started with ``env``."""
    module = importlib.import_module(f"{service}.app")
    with _environment(env):
        app = module.asyncapi_app()  # the broker and routers the service runs, without IO
    found: dict[str, set[str]] = {}
    for subscriber in app.broker._subscribers.values():  # FastStream has no public view
        group = getattr(subscriber, "group_id", None)
        for topic in getattr(subscriber, "topics", ()) or ():
            if group:
                found.setdefault(topic, set()).add(group)
    return found


def consumer_groups(env: Mapping[str, str], services: tuple[str, ...] = SERVICES
                    ) -> dict[str, set[str]]:
    """Topic -> every consumer group of every service that must read it."""
    groups: dict[str, set[str]] = {}
    for service in services:
        for topic, names in service_subscriptions(service, env).items():
            groups.setdefault(topic, set()).update(names)
    return groups
