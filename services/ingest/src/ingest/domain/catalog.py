"""What run and sync planning needs to know of the entities: their order and which are synced.

Built once from the entity table (:mod:`ingest.entities`); the domain takes it as a value so
it never imports the table (which names row models and endpoints).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

DELETED = "Deleted"
"""The pseudo-entity of a run that reads ``sync/Deleted`` (its checkpoint is that cursor)."""


@dataclass(frozen=True)
class EntityCatalog:
    order: tuple[str, ...]
    """The data entities in the order a run fetches them (``Deleted`` comes after them all)."""
    sync: frozenset[str]
    """Entities with a sync endpoint: incremental runs read them from their Timestamp cursor."""
    topics: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Exact webhook topic -> the entities its notifications cover."""

    @property
    def synced(self) -> tuple[str, ...]:
        """The sync entities in import order."""
        return tuple(e for e in self.order if e in self.sync)

    @property
    def refresh(self) -> tuple[str, ...]:
        """Entities without a sync endpoint: re-read in full on the refresh schedule."""
        return tuple(e for e in self.order if e not in self.sync)

    def ordered(self, entities: Iterable[str]) -> tuple[str, ...]:
        """``entities`` in import order (``Deleted`` after the data, unknown names last)."""
        given = list(dict.fromkeys(entities))
        known = [e for e in (*self.order, DELETED) if e in given]
        return tuple(known + [e for e in given if e not in known])

    def position(self, entity: str) -> int:
        """The entity's place in the table (numbers its refresh deletion messages)."""
        return self.order.index(entity)
