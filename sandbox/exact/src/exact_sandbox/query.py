"""OData query options as the sandbox understands them: $select, $filter, $top, $skiptoken.

$filter supports comparisons (eq ne gt ge lt le) joined by `and`, with Exact's literal forms:
guid'...', datetime'...', '...', 123, 123L, 1.5M, true, false, null. As strict as Exact: an
unknown property is Exact's 400 "Could not find a property named 'X' on type 'T'"; operators
and `and` are lower-case; parentheses must balance; a literal must fit the property's type
(``ID eq 'text'`` is a 400, not "no match"). Anything else is refused, never ignored.
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


def unknown_property(name: str, schema: Schema) -> QueryError:
    return QueryError(f"Could not find a property named '{name}' on type '{schema.type_name}'.")


_FORMS: dict[str, tuple[str, ...]] = {
    "guid": ("guid",), "str": ("str",), "int": ("int",), "int64": ("int",),
    "money": ("int", "dec"), "rate": ("int", "dec"), "num": ("int", "dec"),
    "date": ("datetime",), "bool": ("bool",),
}


def _form(text: str) -> str:
    if text.startswith("guid'"):
        return "guid"
    if text.startswith("datetime'"):
        return "datetime"
    if text.startswith("'"):
        return "str"
    if text in ("true", "false"):
        return "bool"
    if text == "null":
        return "null"
    return "dec" if "." in text or text[-1:] in "MDmd" else "int"


def _literal(kind: str, text: str) -> Any:
    form = _form(text)
    if form != "null" and form not in _FORMS.get(kind, ()):
        raise QueryError(f"A binary operator with incompatible types was detected: the literal "
                         f"{text} does not fit a property of type {kind}.")
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
    depth = 0
    for t in tokens:
        depth += {"(": 1, ")": -1}.get(t, 0)
        if depth < 0:
            break
    if depth != 0:
        raise QueryError(f"Unbalanced parentheses in the $filter: {text}")
    tokens = [t for t in tokens if t not in ("(", ")")]
    preds: list[Pred] = []
    pos = 0
    while pos < len(tokens):
        if len(tokens) - pos < 3:
            raise QueryError(f"The $filter could not be parsed: {text}")
        field, op, lit = tokens[pos], tokens[pos + 1], tokens[pos + 2]
        if field not in allowed:
            raise unknown_property(field, schema)
        if op not in _OPS:  # case-sensitive, as Exact's: 'Eq' is not an operator
            raise QueryError(f"Syntax error: '{op}' is not a comparison operator in $filter")
        kind = schema.kind(field)
        preds.append(Pred(field, op, _literal(kind, lit), schema.index(field), kind))
        pos += 3
        if pos < len(tokens):
            if tokens[pos] != "and":
                raise QueryError(f"Syntax error at '{tokens[pos]}': only 'and' joins $filter "
                                 "comparisons here")
            pos += 1
    return preds


def parse_select(text: str | None, schema: Schema, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if text is None or text.strip() in ("", "*"):
        return allowed
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for name in names:
        if name not in allowed:
            raise unknown_property(name, schema)
    return names


def string_literal(params: dict[str, str], name: str) -> str:
    """A function parameter given as an OData string literal (``endpoint='financial/X'``)."""
    raw = params.get(name)
    if raw is None or len(raw) < 2 or raw[0] != "'" or raw[-1] != "'":
        raise QueryError(f"The parameter '{name}' must be a string literal in quotes.")
    return raw[1:-1].replace("''", "'")


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
