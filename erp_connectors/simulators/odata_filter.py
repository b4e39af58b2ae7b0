"""A small OData V2 `$filter` evaluator for the SAP simulator.

Supports `eq ne gt ge lt le`, `and`, `or`, `not`, parentheses, literals `'text'` (with `''`),
`guid'…'`, `datetime'…'`, enum literals (`NS.ProdStatus'Released'`), numbers, `true`/`false`, `null`, `substringof('x', Field)` (V2) and `contains(Field, 'x')` (V4).
Anything else raises `FilterError` (the simulator answers 400 with SAP's error body).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<str>(?:[A-Za-z][\w.]*)?'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?[mMdDlL]?)(?![\w])"
    r"|(?P<op>\(|\)|,)"
    r"|(?P<word>[A-Za-z_][\w/]*))"
)
COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}


class FilterError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterError(f"invalid $filter near {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _literal(kind: str, raw: str) -> Any:
    if kind == "str":
        body = raw[raw.index("'") + 1 : -1]
        return body.replace("''", "'")
    if kind == "num":
        return Decimal(raw.rstrip("mMdDlL"))
    raise FilterError(f"not a literal: {raw}")


OPERATORS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, Decimal) or isinstance(left, Decimal):
        try:
            left, right = Decimal(str(left)), Decimal(str(right))
        except InvalidOperation:
            return False
    elif left is None or right is None:
        return (left == right) if op == "eq" else (left != right) if op == "ne" else False
    elif type(left) is not str or type(right) is not str:
        left, right = str(left), str(right)
    return OPERATORS[op](left, right)


_EQUALITIES = re.compile(r"^\s*\w+ eq '(?:[^']|'')*'(?:\s+and\s+\w+ eq '(?:[^']|'')*')*\s*$")
_EQUALITY = re.compile(r"(\w+) eq '((?:[^']|'')*)'")


def compile_filter(text: str, fields: set[str]) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over an entity dict; unknown properties raise FilterError."""
    if _EQUALITIES.match(text):  # the common lookup (`A eq 'x' and B eq 'y'`): a fast path
        wanted = [(name, value.replace("''", "'")) for name, value in _EQUALITY.findall(text)]
        for name, _ in wanted:
            if name not in fields:
                raise FilterError(f"Property {name} not found in type")
        if len(wanted) == 2:
            (a, x), (b, y) = wanted
            return lambda e: e.get(a) == x and e.get(b) == y
        return lambda e: all(e.get(name) == value for name, value in wanted)
    tokens = _tokens(text)
    pos = 0

    def peek() -> tuple[str, str]:
        return tokens[pos] if pos < len(tokens) else ("", "")

    def take(expected: str = "") -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise FilterError("unexpected end of $filter")
        token = tokens[pos]
        if expected and token[1] != expected:
            raise FilterError(f"expected {expected!r}, got {token[1]!r}")
        pos += 1
        return token

    def operand() -> Callable[[Mapping[str, Any]], Any]:
        kind, raw = take()
        if kind in {"str", "num"}:
            value = _literal(kind, raw)
            return lambda _e: value
        if kind == "word":
            if raw in {"true", "false"}:
                return lambda _e: raw == "true"
            if raw == "null":
                return lambda _e: None
            if raw not in fields:
                raise FilterError(f"Property {raw} not found in type")
            return lambda e: e.get(raw)
        raise FilterError(f"unexpected {raw!r} in $filter")

    def primary() -> Callable[[Mapping[str, Any]], bool]:
        _kind, raw = peek()
        if raw == "(":
            take("(")
            inner = disjunction()
            take(")")
            return inner
        if raw == "not":
            take()
            inner = primary()
            return lambda e: not inner(e)
        if raw == "contains":  # OData v4: contains(Field, 'x')
            take()
            take("(")
            hay = operand()
            take(",")
            needle = operand()
            take(")")
            return lambda e: str(needle(e)) in str(hay(e) or "")
        if raw == "substringof":
            take()
            take("(")
            needle = operand()
            take(",")
            hay = operand()
            take(")")
            return lambda e: str(needle(e)) in str(hay(e) or "")
        left = operand()
        op = take()[1]
        if op not in COMPARE:
            raise FilterError(f"unsupported operator {op!r}")
        right = operand()
        return lambda e: _compare(left(e), op, right(e))

    def conjunction() -> Callable[[Mapping[str, Any]], bool]:
        parts = [primary()]
        while peek()[1] == "and":
            take()
            parts.append(primary())
        return lambda e: all(p(e) for p in parts)

    def disjunction() -> Callable[[Mapping[str, Any]], bool]:
        parts = [conjunction()]
        while peek()[1] == "or":
            take()
            parts.append(conjunction())
        return lambda e: any(p(e) for p in parts)

    predicate = disjunction()
    if pos != len(tokens):
        raise FilterError(f"unexpected {tokens[pos][1]!r} in $filter")
    return predicate
