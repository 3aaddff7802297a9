"""The shape of an entity declaration (:mod:`ingest.entities`): the Exact endpoint(s) it is
read from with their sourced fields, and how ingest reads, reconciles and refreshes it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from contracts import ROW_MODELS, Entity, Row

Edm = Literal["Guid", "String", "Int16", "Int32", "Int64", "Double", "DateTime", "Boolean"]
Mode = Literal["sync", "bulk", "regular"]
PAGE_SIZES: dict[Mode, int] = {"sync": 1000, "bulk": 1000, "regular": 60}
"""Rows a page on each kind of endpoint (Exact's fixed page sizes)."""


@dataclass(frozen=True)
class ExactField:
    name: str
    edm: Edm
    note: str = ""
    source: str = ""
    """Where the name was taken from, when not the endpoint's own source."""


def fields(spec: str, note: str = "", source: str = "") -> tuple[ExactField, ...]:
    """``"ID:Guid EntryID:Guid ..."`` -> fields (one note/source for all of them)."""
    out = []
    for item in spec.split():
        name, edm = item.split(":")
        out.append(ExactField(name, edm, note, source))  # type: ignore[arg-type]
    return tuple(out)


@dataclass(frozen=True)
class Endpoint:
    """One Exact endpoint with every field ingest selects on it."""

    path: str
    mode: Mode
    page: str
    """Exact's reference page name."""
    source: str
    fields: tuple[ExactField, ...]
    note: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def select(self) -> str:
        return ",".join(self.names)

    def source_of(self, f: ExactField) -> str:
        return f.source or self.source


@dataclass(frozen=True)
class EntitySpec:
    """Everything ingest knows about one entity."""

    entity: Entity
    endpoint: Endpoint
    """Where the entity is read from (sync endpoint where Exact has one)."""
    bulk: Endpoint | None = None
    """Read instead by a re-import with a date range (sync endpoints filter on Timestamp only)."""
    id_field: str = "ID"
    """Exact field whose values form the entity's id hash."""
    amount_field: str | None = None
    """Exact field summed for reconciliation (RunCompleted ``amount_dc_sum``)."""
    year_field: str | None = None
    """Field a date range filters on, by year (None: master data, never filtered)."""
    period_field: str | None = None
    """Field a request's reporting periods filter on, within the years."""
    count_field: str | None = None
    """Field summed into the run's ``count_sum`` (ReportingBalance counts the lines coming)."""
    only_division: bool = False
    """The endpoint lists every granted division: the run's one is asked with ``Code eq``."""
    division_may_be_empty: bool = False
    """Exact leaves ``Division`` empty on some rows (general taxonomies): the division the
    rows were read from is filled in."""
    header_rows: bool = False
    """The endpoint mixes entry header rows (``LineNumber`` 0) with the lines: skipped."""
    deleted_type: int | None = None
    """``EntityType`` of the entity's rows on ``sync/Deleted`` (None: deletions not read)."""
    webhook_topic: str | None = None
    """Exact's webhook topic whose notifications cover the entity (EXACT_API.md section 7;
    None: only the scheduled sync keeps it current)."""

    @property
    def path(self) -> str:
        return self.endpoint.path

    @property
    def mode(self) -> Mode:
        return self.endpoint.mode

    @property
    def synced(self) -> bool:
        """Read incrementally from a Timestamp cursor; else re-read in full (refresh)."""
        return self.endpoint.mode == "sync"

    @property
    def page_size(self) -> int:
        return PAGE_SIZES[self.mode]

    @property
    def select(self) -> str:
        return self.endpoint.select

    @property
    def row_model(self) -> type[Row]:
        model: type[Row] = ROW_MODELS[self.entity]
        return model

    @property
    def required(self) -> frozenset[str]:
        """Fields the import cannot do without: the row model's required ones, the id, the
        amount and year reconciled and filtered on, and the sync cursor."""
        model = {str(info.validation_alias or name) for name, info
                 in self.row_model.model_fields.items() if info.is_required()}
        extra = {self.id_field, self.amount_field, self.year_field,
                 "Timestamp" if self.mode == "sync" else None}
        return frozenset(model | {f for f in extra if f is not None})

    def reading(self, ranged: bool) -> EntitySpec:
        """The spec as a read with (``ranged``) or without a date range asks Exact."""
        if ranged and self.bulk is not None:
            return replace(self, endpoint=self.bulk, header_rows=False)
        return self
