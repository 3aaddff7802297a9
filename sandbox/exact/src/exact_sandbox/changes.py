"""Admin changes to a division: insert, update and delete rows of the sync entities.

Each change gets a Timestamp above every existing one and goes into the entity's overlay;
deletions are also recorded for sync/Deleted. TransactionLines are inserted and deleted as
whole entries so every entry stays balanced (explicit IDs are honoured as given).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from exact_sandbox.dataset import SYNC_ENTITY_TYPES, DivisionData, Row
from exact_sandbox.ids import GuidCodec, derive_key, mix64
from exact_sandbox.schema import amsterdam_wall_ms, enc_date, enc_guid, encode_value


class ChangeError(ValueError):
    """A change request that cannot be applied."""


@dataclass
class ChangeResult:
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    max_timestamp: int = 0
    changed: dict[str, str] = field(default_factory=dict)
    """Webhook key -> "Update" or "Delete": the transaction (EntryID) of a changed line, else
    the row's ID (see :mod:`exact_sandbox.webhooks`)."""

    def as_dict(self) -> dict[str, Any]:
        return {"inserted": self.inserted, "updated": self.updated, "deleted": self.deleted,
                "max_timestamp": self.max_timestamp}


_TEXT_FIELD = {"TransactionLines": "Description", "GLAccounts": "Description",
               "GLClassifications": "Description", "Accounts": "Name",
               "PaymentTerms": "Description"}
_PROTECTED = frozenset({"ID", "Timestamp", "Division", "EntryID"})


class Changer:
    def __init__(self, data: DivisionData, seed: int, entity: str, now: float,
                 deleted_by: str) -> None:
        if entity not in SYNC_ENTITY_TYPES:
            raise ChangeError(f"changes are supported for {sorted(SYNC_ENTITY_TYPES)}")
        self.data = data
        self.entity = entity
        self.view = data.view(entity)
        self.schema = self.view.schema
        self.ov = data.overlays[entity]
        self.now = now
        self.now_ms = amsterdam_wall_ms(now)
        self.deleted_by = deleted_by
        self.key = derive_key(seed, data.division.code, entity, "changes", data.version)
        self.codec = GuidCodec(seed, data.division.code, f"{entity}:new")
        self.result = ChangeResult()
        self._draw = 0
        self._ix = {n: self.schema.index(n) for n in self.schema.names}

    def pick(self) -> int:
        """A deterministic live generated row (inserted rows change only by explicit ID)."""
        size = self.view.base.size
        for _ in range(1000):
            self._draw += 1
            i = mix64(self._draw, self.key) % size
            if i not in self.ov.deleted:
                return i
        raise ChangeError("no live rows left to change")

    def _row(self, i: int) -> Row:
        if i in self.ov.rows:
            return self.ov.rows[i]
        for _i, row in self.view.base.rows(i, i + 1):
            return row
        raise ChangeError(f"row {i} does not exist")

    def _store(self, i: int, row: list[str]) -> None:
        ts = self.data.bump_ts()
        row[self._ix["Timestamp"]] = str(ts)
        self.ov.put(i, tuple(row), ts)
        self.result.max_timestamp = ts

    def _changed(self, row: list[str] | Row, action: str) -> None:
        key_field = "EntryID" if self.entity == "TransactionLines" else "ID"
        key = row[self._ix[key_field]][1:-1]
        if self.result.changed.get(key) != "Delete":
            self.result.changed[key] = action

    def _touch(self, row: list[str]) -> None:
        row[self._ix["Modified"]] = enc_date(self.now_ms)

    def insert(self, count: int) -> None:
        for _ in range(count):
            if self.entity == "TransactionLines":
                e_start, e_stop = self.data.ledger.entry_range(self.pick())
                template = [self._row(i) for i in range(e_start, e_stop)]
            else:
                template = [self._row(self.pick())]
            entry_id = enc_guid(self.codec.encode((1 << 40) + self.ov.inserted))
            for line in template:
                row = list(line)
                n = self.ov.inserted
                guid = self.codec.encode(n)
                row[0] = enc_guid(guid)
                row[self._ix["Created"]] = enc_date(self.now_ms)
                self._touch(row)
                self._fresh_fields(row, n, entry_id)
                index = self.ov.base_size + n
                self.ov.inserted += 1
                self.ov.ids[guid] = index
                self._store(index, row)
                self.result.inserted.append(guid)
                self._changed(row, "Update")

    def _fresh_fields(self, row: list[str], n: int, entry_id: str) -> None:
        ix = self._ix
        if self.entity == "TransactionLines":
            day = datetime.fromtimestamp(self.now_ms / 1000, tz=UTC)
            midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
            row[ix["EntryID"]] = entry_id
            row[ix["EntryNumber"]] = str(900_000_000 + n)
            row[ix["Date"]] = enc_date(midnight * 1000)
            row[ix["FinancialYear"]] = str(day.year)
            row[ix["FinancialPeriod"]] = str(day.month)
            row[ix["Description"]] = encode_value("str", f"Nieuwe boeking {900_000_000 + n}")
            row[ix["Status"]] = "20"
        elif self.entity == "Accounts":
            row[ix["Code"]] = encode_value("str", str(900_000 + n))
            row[ix["Name"]] = encode_value("str", f"Nieuwe relatie {n + 1}")
        elif self.entity == "PaymentTerms":
            row[ix["InvoiceNumber"]] = str(900_000_000 + n)
            row[ix["Description"]] = encode_value("str", f"Nieuwe factuur {900_000_000 + n}")
        else:
            row[ix["Code"]] = encode_value("str", f"N{n + 1:04d}")
            row[ix["Description"]] = encode_value("str", f"Nieuw {n + 1}")

    def update(self, indexes: list[int], fields: dict[str, Any] | None) -> None:
        for i in indexes:
            row = list(self._row(i))
            if fields:
                for name, value in fields.items():
                    if name not in self._ix or name in _PROTECTED:
                        raise ChangeError(f"field {name!r} cannot be changed")
                    row[self._ix[name]] = encode_value(self.schema.kind(name), value)
            else:
                text = self._ix[_TEXT_FIELD[self.entity]]
                old = row[text][1:-1] if row[text] != "null" else ""
                row[text] = encode_value("str", f"{old.split(' (gewijzigd')[0]} "
                                                f"(gewijzigd {self.data.version})")
            self._touch(row)
            self._store(i, row)
            self.result.updated.append(row[0][1:-1])
            self._changed(row, "Update")

    def delete(self, indexes: list[int]) -> None:
        etype = str(SYNC_ENTITY_TYPES[self.entity])
        for i in indexes:
            if i in self.ov.deleted:
                continue
            guid = self._row(i)[0]
            self._changed(list(self._row(i)), "Delete")
            self.ov.delete(i)
            ts = self.data.bump_ts()
            record_id = enc_guid(GuidCodec(0, self.data.division.code, "deleted").encode(ts))
            self.data.deleted_rows.append((str(ts), record_id, guid, etype,
                                           enc_guid(self.deleted_by), enc_date(self.now_ms),
                                           str(self.data.division.code)))
            self.data.deleted_ts.append(ts)
            self.result.deleted.append(guid[1:-1])
            self.result.max_timestamp = ts

    def picked_for_delete(self, count: int) -> list[int]:
        out: list[int] = []
        for _ in range(count):
            i = self.pick()
            if self.entity == "TransactionLines" and i < self.data.ledger.n:
                start, stop = self.data.ledger.entry_range(i)
                out.extend(j for j in range(start, stop) if j not in self.ov.deleted)
            else:
                out.append(i)
        return out

    def resolve(self, ids: list[str]) -> list[int]:
        out = []
        for guid in ids:
            i = self.view.index_of_id(guid)
            if i is None:
                raise ChangeError(f"no {self.entity} row with ID {guid}")
            out.append(i)
        return out


def apply_changes(data: DivisionData, seed: int, request: dict[str, Any], now: float,
                  deleted_by: str) -> ChangeResult:
    """Apply one change request (see the README for its shape) and bump the data version."""
    entity = str(request.get("entity", "TransactionLines"))
    changer = Changer(data, seed, entity, now, deleted_by)
    changer.insert(int(request.get("insert", 0)))
    updates = [changer.pick() for _ in range(int(request.get("update", 0)))]
    updates += changer.resolve(list(request.get("update_ids", [])))
    changer.update(updates, request.get("fields"))
    deletes = changer.picked_for_delete(int(request.get("delete", 0)))
    deletes += changer.resolve(list(request.get("delete_ids", [])))
    changer.delete(deletes)
    data.version += 1
    return changer.result
