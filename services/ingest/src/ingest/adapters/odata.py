"""Reading Exact Online's OData JSON: pages, ``/Date(ms)/`` values and typed rows.

* JSON is parsed by msgspec with ``float_hook=Decimal``: every number with a fraction or an
  exponent becomes a Decimal of its literal text (amounts stay exact), whole numbers ints;
  about twice as fast as the stdlib's ``json.loads(parse_float=Decimal)``, which it replaces
  with the same values. Only what RFC 8259 forbids (``NaN``/``Infinity``, lone surrogate
  escapes, bodies not in UTF-8) is refused where the stdlib took it: a malformed page.
* ``Date``-typed contract fields are calendar dates: Exact sends midnight as
  ``/Date(ms)/``; the date is taken from the instant in UTC.
* Date-time fields (``Created``, ``Modified``, ...) are Dutch wall-clock time written as a
  zone-less ``/Date(ms)/``: read as Europe/Amsterdam local time, stored in UTC.
* GUID strings become UUIDs, whole-number Decimals in integer fields ints (pydantic, lax);
  anything that does not fit the contract is :class:`InvalidData`.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from pydantic import AwareDatetime, NaiveDatetime, TypeAdapter, ValidationError

from contracts import Row
from ingest.domain.errors import InvalidData, MalformedResponse

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_EPOCH = dt.datetime(1970, 1, 1)
_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")

Converter = Callable[[Any], Any]

_JSON = msgspec.json.Decoder(float_hook=Decimal)
_BOM = b"\xef\xbb\xbf"


def parse_page(body: bytes, endpoint: str) -> tuple[list[dict[str, Any]], str | None]:
    """Rows and ``__next`` link of a list answer; MalformedResponse if it is not one."""
    if body.startswith(_BOM):  # allowed before JSON text (RFC 8259 8.1), as the stdlib did
        body = body[len(_BOM):]
    try:
        data = _JSON.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedResponse(f"{endpoint}: the page is not valid JSON ({exc.__class__.__name__})",
                                endpoint=endpoint) from None
    d = data.get("d") if isinstance(data, dict) else None
    if isinstance(d, list):  # some endpoints answer a bare list
        results, nxt = d, None
    elif isinstance(d, dict) and isinstance(d.get("results"), list):
        results, nxt = d["results"], d.get("__next")
    else:
        raise MalformedResponse(f"{endpoint}: the answer has no d.results list", endpoint=endpoint)
    if nxt is not None and not isinstance(nxt, str):
        raise MalformedResponse(f"{endpoint}: __next is not a link", endpoint=endpoint)
    if not all(isinstance(r, dict) for r in results):
        raise MalformedResponse(f"{endpoint}: a result is not an object", endpoint=endpoint)
    return results, nxt or None


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
    if value is None:
        return None
    if isinstance(value, str):
        return _utc_of(value)
    raise ValueError(f"not a date-time: {type(value).__name__}")


@lru_cache(maxsize=8192)
def _utc_of(text: str) -> dt.datetime:
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


def _converter(annotation: Any) -> Converter | None:
    """How an Exact value becomes the field's type before validation (None: as it is)."""
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
    return None  # GUIDs, numbers, text: validated (lax) by pydantic's core


_PLANS: dict[type[Row], tuple[tuple[str, Converter], ...]] = {}


def _plan(model: type[Row]) -> tuple[tuple[str, Converter], ...]:
    """(Exact field, converter) of the fields that need one, worked out once per model."""
    found = _PLANS.get(model)
    if found is None:
        found = _PLANS[model] = tuple(
            (str(info.validation_alias or name), convert)
            for name, info in model.model_fields.items()
            if (convert := _converter(info.annotation)) is not None)
    return found


@lru_cache(maxsize=64)
def _list_of(model: type[Row]) -> TypeAdapter[list[Row]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def to_rows(model: type[Row], results: list[dict[str, Any]], endpoint: str) -> list[Row]:
    """A page of Exact results -> the contract's typed rows, in one validation call
    (InvalidData if a row does not fit). ``results`` (freshly parsed) are converted in place.

    A page repeats few distinct dates: each field converts each distinct value once."""
    try:
        for alias, convert in _plan(model):
            seen: dict[Any, Any] = {}
            for raw in results:
                value = raw.get(alias)
                if value is None:
                    continue
                converted = seen.get(value)
                if converted is None:
                    converted = seen[value] = convert(value)
                raw[alias] = converted
        # lax: Exact's GUID strings become UUIDs and whole-number Decimals ints in pydantic's
        # core (fast); unknown fields are ignored; the rows stay strict contract models
        return _list_of(model).validate_python(results, strict=False)
    except (ValueError, TypeError, ValidationError) as exc:
        detail = exc.errors(include_input=False)[0]["msg"] if isinstance(exc, ValidationError) \
            else str(exc)
        raise InvalidData(f"{endpoint}: a row does not fit {model.__name__}: {detail}",
                          endpoint=endpoint) from None

