"""OData query options as the sandbox understands them: $select, $filter, $top, $skiptoken.

$filter supports comparisons (eq ne gt ge lt le) joined by `and`, with Exact's literal forms:
guid'...', datetime'...', '...', 123, 123L, 1.5M, true, false, null.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exact_sandbox.schema import Schema, decode_fragment, parse_datetime_ms


class QueryError(ValueError):
    """A query option the API would refuse with 400."""


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt,
    "ge": operator.ge, "lt": operator.lt, "le": operator.le,
}

_TOKEN = re.compile(
    r"\s*(?:(?P<guid>guid'[^']*')|(?P<dt>datetime'[^']*')|(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?[LMDlmd]?)|(?P<word>[A-Za-z_][A-Za-z0-9_/]*)|(?P<paren>[()]))"
)


@dataclass(frozen=True)
class Pred:
    field: str
    op: str
    value: Any
    index: int = -1
    kind: str = "str"

    def test(self, row: tuple[str, ...]) -> bool:
        actual = decode_fragment(self.kind, row[self.index])
        if actual is None or self.value is None:
            return _OPS[self.op](actual, self.value) if self.op in ("eq", "ne") else False
        try:
            return _OPS[self.op](actual, self.value)
        except TypeError:
            return False


def _literal(kind: str, text: str) -> Any:
    if text.startswith("guid'"):
        return text[5:-1].lower()
    if text.startswith("datetime'"):
        try:
            return parse_datetime_ms(text[9:-1])
        except ValueError as exc:
            raise QueryError(f"Invalid datetime literal {text}") from exc
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    digits = text.rstrip("LMDlmd")
    return float(digits) if "." in digits or kind in ("money", "rate") else int(digits)


def parse_filter(text: str, schema: Schema, allowed: tuple[str, ...]) -> list[Pred]:
    tokens = [m.group(0).strip() for m in _TOKEN.finditer(text)]
    if "".join(tokens).replace(" ", "") != text.replace(" ", ""):
        raise QueryError(f"The $filter could not be parsed: {text}")
    tokens = [t for t in tokens if t not in ("(", ")")]
    preds: list[Pred] = []
    pos = 0
    while pos < len(tokens):
        if len(tokens) - pos < 3:
            raise QueryError(f"The $filter could not be parsed: {text}")
        field, op, lit = tokens[pos], tokens[pos + 1].lower(), tokens[pos + 2]
        if field not in allowed:
            raise QueryError(f"Property '{field}' does not exist on type {schema.name}")
        if op not in _OPS:
            raise QueryError(f"Unsupported operator '{op}' in $filter")
        kind = schema.kind(field)
        preds.append(Pred(field, op, _literal(kind, lit), schema.index(field), kind))
        pos += 3
        if pos < len(tokens):
            if tokens[pos].lower() != "and":
                raise QueryError("Only 'and' is supported between $filter comparisons")
            pos += 1
    return preds


def parse_select(text: str | None, schema: Schema, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if text is None or text.strip() in ("", "*"):
        return allowed
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for name in names:
        if name not in allowed:
            raise QueryError(f"Property '{name}' does not exist on type {schema.name}")
    return names


def parse_top(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        top = int(text)
    except ValueError as exc:
        raise QueryError(f"Invalid $top value '{text}'") from exc
    if top < 0:
        raise QueryError("$top must not be negative")
    return top


def parse_skiptoken(text: str | None) -> str | int | None:
    """guid'...' -> lower-case guid string; 123L / 123 -> int."""
    if text is None:
        return None
    text = text.strip()
    if text.lower().startswith("guid'") and text.endswith("'"):
        return text[5:-1].lower()
    try:
        return int(text.rstrip("Ll"))
    except ValueError as exc:
        raise QueryError(f"Invalid $skiptoken '{text}'") from exc
