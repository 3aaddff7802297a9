"""Serving entity lists the OData way: validation of query options, paging with `__next`
links carrying `$skiptoken`, and fast rendering of fragment rows into JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from urllib.parse import quote

from exact_sandbox.dataset import EntityView, Row
from exact_sandbox.query import (
    Pred,
    QueryError,
    parse_filter,
    parse_select,
    parse_skiptoken,
    parse_top,
)
from exact_sandbox.schema import Schema

SELECT_REQUIRED = "Please add a $select or a $top=1 statement to the query string."
FILTER_REQUIRED = ("A $filter is required on this endpoint. Use the sync endpoint to retrieve "
                   "all records.")

SUPPORTED_OPTIONS = frozenset({"$select", "$filter", "$top", "$skiptoken"})

Getter = Callable[[Row], tuple[str, ...]]
_FORMATS: dict[tuple[str, tuple[str, ...], bool], tuple[str, Getter]] = {}


@dataclass
class Page:
    body: str
    rows: int


def row_format(schema: Schema, select: tuple[str, ...], int64_strings: bool = False
               ) -> tuple[str, Getter]:
    """`%`-template and getter rendering the selected fields of a fragment row (cached).

    With ``int64_strings`` Edm.Int64 values are quoted, as OData v2 JSON writes them (a null
    stays null: the fragment is unquoted by the getter below)."""
    key = (schema.name, select, int64_strings)
    found = _FORMATS.get(key)
    if found is None:
        quoted = {n for n in select if int64_strings and schema.kind(n) == "int64"}
        template = "{" + ",".join(f'"{n}":%s' for n in select) + "}"
        idx = [schema.index(n) for n in select]
        getter: Getter
        if len(idx) == 1:
            only = idx[0]
            getter = lambda row: (row[only],)  # noqa: E731
        else:
            getter = itemgetter(*idx)
        if quoted:
            plain, marks = getter, tuple(n in quoted for n in select)
            getter = lambda row: tuple(  # noqa: E731
                f'"{v}"' if q and v != "null" else v for v, q in zip(plain(row), marks,
                                                                     strict=True))
        found = _FORMATS[key] = (template, getter)
    return found


def render_rows(schema: Schema, select: tuple[str, ...], rows: list[Row],
                int64_strings: bool = False) -> str:
    template, getter = row_format(schema, select, int64_strings)
    return ",".join([template % getter(r) for r in rows])


def envelope(results: str, next_url: str | None) -> str:
    nxt = f',"__next":{json.dumps(next_url)}' if next_url else ""
    return '{"d":{"results":[' + results + "]" + nxt + "}}"


def next_link(base_url: str, params: Mapping[str, str], skiptoken: str,
              top_left: int | None) -> str:
    query = {k: v for k, v in params.items() if k not in ("$skiptoken", "$top")}
    if top_left is not None:
        query["$top"] = str(top_left)
    query["$skiptoken"] = skiptoken
    safe = "$'(),:*"
    return base_url + "?" + "&".join(
        f"{quote(k, safe=safe)}={quote(v, safe=safe)}" for k, v in query.items()
    )


@dataclass
class ListRequest:
    view: EntityView
    params: Mapping[str, str]
    mode: str  # "sync", "bulk" or "regular"
    page_size: int
    base_url: str
    require_filter: bool = False
    id_kind: str = "guid"  # how $skiptoken names the last row: guid, int (ReportingBalance)
    retired: tuple[str, ...] = ()
    """Fields Exact no longer has on this endpoint (ModelSettings.retired_fields)."""
    int64_strings: bool = False


def check_options(params: Mapping[str, str]) -> None:
    """Query options the sandbox does not implement are refused, never silently ignored."""
    for name in params:
        if name.startswith("$") and name not in SUPPORTED_OPTIONS:
            raise QueryError(f"The query option '{name}' is not supported here.")


def serve_list(req: ListRequest) -> Page:
    schema = req.view.schema
    params = req.params
    check_options(params)
    allowed = tuple(n for n in schema.visible(req.mode == "sync") if n not in req.retired)
    top = parse_top(params.get("$top"))
    chosen = params.get("$select", "").strip()
    # sync and bulk endpoints want named fields: $select=* does not get around the rule
    if req.mode in ("sync", "bulk") and chosen in ("", "*") and top != 1:
        raise QueryError(SELECT_REQUIRED)
    select = parse_select(params.get("$select"), schema, allowed)
    raw_filter = params.get("$filter")
    preds = parse_filter(raw_filter, schema, allowed) if raw_filter else []
    if req.require_filter and not preds:
        raise QueryError(FILTER_REQUIRED)
    token = parse_skiptoken(params.get("$skiptoken"))
    limit = req.page_size if top is None else min(top, req.page_size)
    if req.mode == "sync":
        rows_iter, key_of = _sync_rows(req.view, preds, token)
    else:
        rows_iter, key_of = _indexed_rows(req, preds, token)
    rows = list(islice(rows_iter, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    top_left = None if top is None else top - len(rows)
    next_url = None
    if rows and more and (top_left is None or top_left > 0):
        next_url = next_link(req.base_url, params, key_of(rows[-1]), top_left)
    return Page(envelope(render_rows(schema, select, rows, req.int64_strings), next_url),
                len(rows))


def _sync_rows(view: EntityView, preds: list[Pred], token: str | int | None
               ) -> tuple[Iterator[Row], Callable[[Row], str]]:
    after = 0
    for p in preds:
        if p.field != "Timestamp" or p.op != "gt" or not isinstance(p.value, int):
            raise QueryError("Only a 'Timestamp gt' filter is allowed on sync endpoints.")
        after = p.value
    if isinstance(token, int):
        after = max(after, token)
    elif token is not None:
        raise QueryError("Invalid $skiptoken for a sync endpoint")
    ts_index = view.schema.index("Timestamp")
    return view.scan_sync(after), lambda row: f"{row[ts_index]}L"


def _indexed_rows(req: ListRequest, preds: list[Pred], token: str | int | None
                  ) -> tuple[Iterator[Row], Callable[[Row], str]]:
    view = req.view
    start = 0
    if token is not None:
        pos = view.position_of(token)
        if pos is None:
            raise QueryError("Invalid $skiptoken")
        start = pos + 1
    rows = (row for _i, row in view.scan(start, preds))
    if req.id_kind == "int":
        return rows, lambda row: f"{row[0]}L"
    return rows, lambda row: f"guid'{row[0][1:-1]}'"
