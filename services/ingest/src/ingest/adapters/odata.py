"""Reading Exact Online's OData JSON: pages, ``/Date(ms)/`` values and typed rows.

* JSON is parsed by msgspec. A page's rows are decoded straight into the contract's types
  (:class:`RowReader`): numbers in Decimal fields become Decimals of their literal text
  (amounts stay exact), GUID strings UUIDs, whole numbers (``5``, ``5.0``, ``"5"``) in
  integer fields ints, as pydantic's lax mode took them. :func:`parse_page` gives untyped
  rows (numbers with a fraction or an exponent as exact Decimals, whole numbers ints), the
  same values as the stdlib's ``json.loads(parse_float=Decimal)``. Only what RFC 8259 forbids
  (``NaN``/``Infinity``, lone surrogate escapes, bodies not in UTF-8) is refused where the
  stdlib took it: a malformed page.
* ``Date``-typed contract fields are calendar dates: Exact sends midnight as
  ``/Date(ms)/``; the date is taken from the instant in UTC.
* Date-time fields (``Created``, ``Modified``, ...) are Dutch wall-clock time written as a
  zone-less ``/Date(ms)/``: read as Europe/Amsterdam local time, stored in UTC.
* Anything that does not fit the contract is :class:`InvalidData`. GUIDs must be in OData's
  JSON form of Edm.Guid (8-4-4-4-12 hex digits, either case; also 32 digits without hyphens),
  as Exact writes its keys (EXACT_API.md section 5); braces or ``urn:uuid:`` prefixes, which
  pydantic's lax mode also took, are refused.

Size: the page envelope, the dates and the typed rows are one reader of Exact's JSON with one
set of rules for what is a malformed page (retried) and what is invalid data (not): apart,
each part would restate them.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from pydantic import AwareDatetime, NaiveDatetime

from contracts import Row
from ingest.domain.errors import InvalidData, MalformedResponse

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_EPOCH = dt.datetime(1970, 1, 1)
_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")

Converter = Callable[[Any], Any]

_JSON = msgspec.json.Decoder(float_hook=Decimal)
_BOM = b"\xef\xbb\xbf"


class _Envelope(msgspec.Struct):
    d: msgspec.Raw


class _List(msgspec.Struct):
    results: msgspec.Raw
    next: str | None = msgspec.field(default=None, name="__next")


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_LIST = msgspec.json.Decoder(_List)


def _without_bom(body: bytes) -> bytes:
    """A UTF-8 byte order mark is allowed before JSON text (RFC 8259 8.1), as the stdlib did."""
    return body[len(_BOM):] if body.startswith(_BOM) else body


def split_page(body: bytes, endpoint: str) -> tuple[bytes, str | None]:
    """The ``results`` array (its JSON, checked to be valid) and ``__next`` link of a list
    answer; MalformedResponse if it is not one. The rows are decoded by the caller."""
    try:
        d = bytes(_ENVELOPE.decode(_without_bom(body)).d)
    except msgspec.DecodeError as exc:
        valid = isinstance(exc, msgspec.ValidationError)
        raise MalformedResponse(f"{endpoint}: " + ("the answer has no d.results list" if valid
                                else f"the page is not valid JSON ({exc.__class__.__name__})"),
                                endpoint=endpoint) from None
    if d.lstrip()[:1] == b"[":  # some endpoints answer a bare list
        return d, None
    try:
        page = _LIST.decode(d)
    except msgspec.DecodeError:
        raise MalformedResponse(f"{endpoint}: the answer has no d.results list or __next is "
                                "not a link", endpoint=endpoint) from None
    results = bytes(page.results)
    if results.lstrip()[:1] != b"[":
        raise MalformedResponse(f"{endpoint}: the answer has no d.results list", endpoint=endpoint)
    return results, page.next or None


def parse_page(body: bytes, endpoint: str) -> tuple[list[dict[str, Any]], str | None]:
    """Rows (as dicts, numbers with fractions as exact Decimals) and ``__next`` link of a list
    answer; MalformedResponse if it is not one."""
    raw, nxt = split_page(body, endpoint)
    return untyped_rows(raw, endpoint), nxt


def untyped_rows(raw: bytes, endpoint: str) -> list[dict[str, Any]]:
    """A ``results`` array from :func:`split_page` as dicts (Exact's field names)."""
    results: list[Any] = _JSON.decode(raw)
    if not all(isinstance(r, dict) for r in results):
        raise MalformedResponse(f"{endpoint}: a result is not an object", endpoint=endpoint)
    return results


def _ms_and_offset(value: str) -> tuple[int, int | None]:
    match = _DATE.match(value)
    if match is None:
        raise ValueError(f"not an OData date: {value[:40]!r}")
    offset = match.group(2)
    minutes = None
    if offset:
        minutes = (int(offset[1:3]) * 60 + int(offset[3:5])) * (1 if offset[0] == "+" else -1)
    return int(match.group(1)), minutes


def to_date(value: Any) -> dt.date | None:
    """``/Date(ms)/`` of a calendar date (midnight) -> that date."""
    if value is None:
        return None
    if isinstance(value, str):
        return _date_of(value)
    raise ValueError(f"not a date: {type(value).__name__}")


@lru_cache(maxsize=8192)  # a ledger has few distinct dates: convert each once
def _date_of(text: str) -> dt.date:
    if text.startswith("/Date("):
        ms, _ = _ms_and_offset(text)
        return (_EPOCH + dt.timedelta(milliseconds=ms)).date()
    return dt.date.fromisoformat(text[:10])


def to_utc(value: Any) -> dt.datetime | None:
    """``/Date(ms)/`` of Dutch wall-clock time -> aware UTC datetime."""
    if type(value) is str and value[:6] == "/Date(" and value[-2:] == ")/" and \
            (digits := value[6:-2]).isascii() and digits.isdigit():
        # the usual form (no offset, from 1970), worked out without a cache: a row's Created
        # and Modified are mostly distinct, so a cache only added its misses. Amsterdam's
        # offset is that of the wall-clock hour, as its changes fall on whole hours.
        ms = int(digits)
        return _UTC_EPOCH + dt.timedelta(milliseconds=ms - _amsterdam_offset_ms(ms // _HOUR_MS))
    if value is None:
        return None
    if isinstance(value, str):
        return _utc_of(value)
    raise ValueError(f"not a date-time: {type(value).__name__}")


@lru_cache(maxsize=8192)
def _utc_of(text: str) -> dt.datetime:
    """The rarer forms: an explicit offset, before 1970, ISO 8601 text."""
    if text.startswith("/Date("):
        ms, offset = _ms_and_offset(text)
        wall = _EPOCH + dt.timedelta(milliseconds=ms)
        if offset is not None:  # an explicit offset wins over the Dutch default
            return (wall - dt.timedelta(minutes=offset)).replace(tzinfo=dt.UTC)
        return wall.replace(tzinfo=AMSTERDAM).astimezone(dt.UTC)
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=AMSTERDAM)
    return parsed.astimezone(dt.UTC)


_UTC_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_HOUR_MS = 3_600_000


@lru_cache(maxsize=65536)
def _amsterdam_offset_ms(wall_hour: int) -> int:
    """UTC offset (ms) of Amsterdam wall-clock time in hour ``wall_hour`` since 1970 (an hour
    that does not exist or occurs twice takes the offset zoneinfo gives it, fold 0)."""
    wall = (_EPOCH + dt.timedelta(hours=wall_hour)).replace(tzinfo=AMSTERDAM)
    offset = wall.utcoffset()
    assert offset is not None
    return offset // dt.timedelta(milliseconds=1)


def _converter(annotation: Any) -> Converter | None:
    """How an Exact value becomes the field's type after decoding (None: as decoded)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _converter(inner[0]) if len(inner) == 1 else None
    if typing.get_origin(annotation) is typing.Annotated:
        return _converter(args[0])
    if annotation in (dt.datetime, AwareDatetime, NaiveDatetime):
        return to_utc
    if annotation is dt.date:
        return to_date
    return None


_NOT_AN_OBJECT = re.compile(r"Expected `object`, got `[^`]+` - at `\$\[\d+\]`$")

_DECODED = (uuid.UUID, Decimal, int, str, bool)
"""Field types msgspec decodes as the contract has them (the rest is refused at start-up)."""


def _wire_type(annotation: Any, optional: bool) -> Any:
    """The msgspec type a contract field is decoded as: its own type, or ``str`` where a
    converter (dates) takes over; optional fields may be null."""
    inner, nullable = annotation, optional
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"unsupported row field type {annotation!r}")
        inner, nullable = rest[0], True
    if _converter(inner) is not None:
        inner = str
    elif inner not in _DECODED:
        raise TypeError(f"unsupported row field type {annotation!r}")
    return inner | None if nullable else inner


class RowReader:
    """Decodes a page's ``results`` array straight into contract rows of ``model``.

    msgspec decodes the JSON into a struct derived from the row model (Exact's field names,
    the contract's types, lax like pydantic's: ``5.0``/``"5"`` in an integer field is 5;
    numbers in Decimal fields keep their literal text); the dates are converted once per
    distinct value; the rows are then made without validating them again, which is what
    cost most before: pydantic's validation of a page of 1,000 TransactionLines took about
    twice the whole decoding. What msgspec cannot check is checked here: Decimals are
    finite, as pydantic's default requires. ``nullable_division``: Exact leaves
    ``Division`` empty on some rows; the caller fills it in (the row must not be used
    before)."""

    def __init__(self, model: type[Row], *, nullable_division: bool = False) -> None:
        self.model = model
        fields = []
        for name, info in model.model_fields.items():
            alias = str(info.validation_alias or name)
            optional = not info.is_required() or (nullable_division and alias == "Division")
            wire = _wire_type(info.annotation, optional)
            fields.append((name, wire, msgspec.field(default=None, name=alias) if optional
                           else msgspec.field(name=alias)))
        # not tracked by the cyclic collector: decoded JSON is a tree, so no wire struct can
        # be part of a reference cycle (about 7 % less decoding)
        struct = msgspec.defstruct(f"{model.__name__}Wire", fields, kw_only=True, gc=False)
        self._decoder = msgspec.json.Decoder(list[struct], strict=False)  # type: ignore[valid-type]
        listing = msgspec.defstruct(f"{model.__name__}Page", [
            ("results", list[struct]),  # type: ignore[valid-type]
            ("next", str | None, msgspec.field(default=None, name="__next"))], gc=False)
        envelope = msgspec.defstruct(f"{model.__name__}Envelope",
                                     [("d", listing | list[struct])])  # type: ignore[valid-type]
        self._page: msgspec.json.Decoder[Any] = msgspec.json.Decoder(envelope, strict=False)
        self._converters = tuple((name, convert) for name, info in model.model_fields.items()
                                 if (convert := _converter(info.annotation)) is not None)
        self._decimals = tuple(name for name, info in model.model_fields.items()
                               if Decimal in (info.annotation, *typing.get_args(info.annotation)))
        self._fields_set = frozenset(model.model_fields)

    def page(self, body: bytes, endpoint: str) -> tuple[list[dict[str, Any]], str | None]:
        """A whole list answer in one pass: its rows' values (as :meth:`values`) and its
        ``__next`` link. A page this cannot read is read again the way :func:`split_page` and
        :meth:`values` read it, which says precisely what is wrong with it (a malformed page
        or a row that does not fit); reading the envelope apart cost every page a second
        scan of its JSON (about 1 ms for 1,000 TransactionLines)."""
        try:
            d: Any = self._page.decode(_without_bom(body)).d
            if isinstance(d, list):
                return self._checked(d, endpoint), None
            return self._checked(d.results, endpoint), d.next or None
        except msgspec.DecodeError:
            raw, next_link = split_page(body, endpoint)
            return self.values(raw, endpoint), next_link

    def values(self, raw: bytes, endpoint: str) -> list[dict[str, Any]]:
        """The rows' field values by contract name (InvalidData if a row does not fit)."""
        try:
            return self._checked(self._decoder.decode(raw), endpoint)
        except msgspec.ValidationError as exc:
            if _NOT_AN_OBJECT.match(str(exc)):
                raise MalformedResponse(f"{endpoint}: a result is not an object",
                                        endpoint=endpoint) from None
            raise InvalidData(f"{endpoint}: a row does not fit {self.model.__name__}: {exc}",
                              endpoint=endpoint) from None
        except msgspec.DecodeError:
            raise MalformedResponse(f"{endpoint}: the page is not valid JSON",
                                    endpoint=endpoint) from None

    def _checked(self, decoded: list[Any], endpoint: str) -> list[dict[str, Any]]:
        """Decoded structs -> values by contract name, dates converted, Decimals finite."""
        try:
            rows = [msgspec.structs.asdict(s) for s in decoded]
            for name, convert in self._converters:
                seen: dict[Any, Any] = {}  # a page repeats few distinct dates
                for row in rows:
                    value = row[name]
                    if value is None:
                        continue
                    converted = seen.get(value)
                    if converted is None:
                        converted = seen[value] = convert(value)
                    row[name] = converted
            for name in self._decimals:
                if not all(v.is_finite() for row in rows if (v := row[name]) is not None):
                    raise ValueError(f"{name} is not a finite number")
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidData(f"{endpoint}: a row does not fit {self.model.__name__}: {exc}",
                              endpoint=endpoint) from None
        return rows

    def rows(self, values: list[dict[str, Any]]) -> list[Row]:
        """Contract rows of values from :meth:`values` (checked there: not validated again)."""
        model, fields_set, new, put = self.model, self._fields_set, self.model.__new__, \
            object.__setattr__
        out: list[Row] = []
        for value in values:
            row = new(model)
            put(row, "__dict__", value)
            put(row, "__pydantic_fields_set__", fields_set)
            put(row, "__pydantic_extra__", None)
            put(row, "__pydantic_private__", None)
            out.append(row)
        return out


@lru_cache(maxsize=64)
def row_reader(model: type[Row], nullable_division: bool = False) -> RowReader:
    return RowReader(model, nullable_division=nullable_division)


def to_rows(model: type[Row], raw: bytes, endpoint: str) -> list[Row]:
    """A page's ``results`` array (JSON) -> the contract's typed rows (InvalidData if a row
    does not fit)."""
    reader = row_reader(model)
    return reader.rows(reader.values(raw, endpoint))
