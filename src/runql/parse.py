"""Text to AST: the lark tree becomes runql's typed nodes, and lark's errors become QueryErrors.

Lark's exceptions stop here: :mod:`runql.diagnose` turns each into a QuerySyntaxError, and nothing
from lark escapes the public functions.
"""

from __future__ import annotations

import ast as pyast
import difflib
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, cast

from lark import Token, Transformer
from lark.exceptions import UnexpectedInput

from . import _grammar
from .ast import (
    ATTRIBUTE_ALIASES,
    ENTITY_ALIASES,
    And,
    Compare,
    Entity,
    Expr,
    In,
    IsNull,
    Key,
    Literal,
    Not,
    Op,
    Or,
    Query,
    SortKey,
    Span,
)
from .diagnose import QUOTES, syntax_error
from .errors import QueryError, QuerySyntaxError, QueryValueError

__all__ = ["parse", "parse_filter", "parse_order_by"]

# One segment of a dotted key, as the IDENT terminal in grammar/common.lark lexes it.
_SEGMENT = re.compile(r"\w*[^\W\d]\w*|`(?:``|[^`])*`|\"(?:\"\"|[\\]\"|[^\"])*\"|'(?:''|[\\]'|[^'])*'")


def _span(token: Token) -> Span:
    assert token.start_pos is not None and token.end_pos is not None
    return Span(token.start_pos, token.end_pos, token.line or 1, token.column or 1)


def _cover(first: Any, last: Any) -> Span | None:
    a, b = first.span, last.span
    return None if a is None or b is None else a.cover(b)


def _strip_pair(text: str, quotes: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in quotes:
        return text[1:-1]
    return text


def _segments(text: str) -> list[str]:
    parts, pos = [], 0
    while True:
        match = _SEGMENT.match(text, pos)
        if match is None:  # the lexer accepted it, so this only guards against drift
            raise QuerySyntaxError(f"cannot read the key {text!r}", code="syntax")
        parts.append(match.group())
        pos = match.end()
        if pos >= len(text):
            return parts
        pos += 1  # the dot


def _entity_hint(prefix: str) -> str:
    lowered = {alias.lower(): alias for alias in ENTITY_ALIASES}
    if prefix.lower() in lowered:
        return f"prefixes are case-sensitive: write {lowered[prefix.lower()]}.<name>"
    close = difflib.get_close_matches(prefix, list(ENTITY_ALIASES), n=1)
    if close:
        return f"did you mean {close[0]}? A key is written prefix.name, e.g. metrics.auc"
    return (
        "a key is metrics.<name>, params.<name>, tags.<name>, attributes.<name> or "
        "datasets.<name>; quote a name that holds a dot: attributes.`a.b`"
    )


@dataclass(frozen=True, slots=True)
class WrittenKey:
    """A key as the text writes it: the prefix before the first dot (None without one, backticks
    removed) and the name after it, with MLflow's quote stripping; ``quoted`` when quotes were removed."""

    prefix: str | None
    name: str
    quoted: bool


def written_key(text: str) -> WrittenKey:
    """How an IDENT text splits into prefix and name, before any alias is resolved."""
    segments = _segments(text)
    prefix, raw = (None, text) if len(segments) == 1 else (segments[0], text[len(segments[0]) + 1 :])
    # As MLflow does: one pair of single or double quotes, then one pair of backticks.
    name = _strip_pair(_strip_pair(raw, "'\""), "`")
    return WrittenKey(None if prefix is None else _strip_pair(prefix, "`"), name, name != raw)


def key_from_ident(token: Token) -> Key:
    """The Key an IDENT token names: split at the first dot, prefix resolved, quotes removed."""
    text = str(token)
    span = _span(token)
    written = written_key(text)
    if written.prefix is None:
        entity = Entity.ATTRIBUTE
    else:
        entity_or_none = ENTITY_ALIASES.get(written.prefix) if not text.startswith('"') else None
        if entity_or_none is None:
            prefix_text = _segments(text)[0]
            raise QueryValueError(
                f"unknown key type {prefix_text!r}",
                code="unknown-key-type",
                span=Span(span.start, span.start + len(prefix_text), span.line, span.column),
                hint=_entity_hint(written.prefix),
            )
        entity = entity_or_none
    name = written.name
    if entity is Entity.ATTRIBUTE:
        name = ATTRIBUTE_ALIASES.get(name, name)
    return Key(entity, name, span)


def _number(text: str) -> int | float:
    if any(c in text for c in ".eE"):
        return float(text)
    try:
        return int(text)
    except ValueError:  # more digits than Python converts to int: as MLflow does, read it as a float
        return float(text)


def _literal(token: Token) -> Literal:
    text = str(token)
    if token.type == "NUMBER":
        return Literal(_number(text), _span(token))
    if token.type in ("SQ_STRING", "DQ_STRING"):
        return Literal(text[1:-1], _span(token))
    suggestion = _strip_pair(text, "`").replace("'", "")
    hint = f"quote string values: '{suggestion}'"
    if text.upper() == "NULL":
        hint = "to test for a missing param or tag write IS NULL, e.g. tags.team IS NULL"
    raise QueryValueError(
        f"the value {text} is not quoted", code="unquoted-value", span=_span(token), hint=hint
    )


def _python_string(token: Token) -> str:
    # MLflow reads IN lists with Python's literal rules: escapes are processed here.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = pyast.literal_eval(str(token))
    except (SyntaxError, ValueError) as error:
        reason = error.msg if isinstance(error, SyntaxError) else str(error)
        hint = "list items are quoted strings: ('a', 'b')"
        if "\\" in str(token):
            hint = "in a list a backslash starts an escape: write \\\\ for a backslash, or use r'...'"
        raise QueryValueError(
            f"cannot read the list item {token}: {reason}", code="bad-list", span=_span(token), hint=hint
        ) from None
    assert isinstance(value, str)
    return value


class _Builder(Transformer[Token, Any]):
    """Lark tree to AST, run inside the LALR parser so no intermediate tree is built."""

    def start(self, children: list[Any]) -> Any:
        return children[0]

    def or_(self, terms: list[Expr]) -> Expr:
        return terms[0] if len(terms) == 1 else Or(tuple(terms), _cover(terms[0], terms[-1]))

    def and_(self, terms: list[Expr]) -> Expr:
        return terms[0] if len(terms) == 1 else And(tuple(terms), _cover(terms[0], terms[-1]))

    def not_(self, children: list[Any]) -> Not:
        token, term = children
        return Not(term, term.span and _span(token).cover(term.span))

    def group(self, children: list[Any]) -> Expr:
        left, expr, right = children
        span = _span(left).cover(_span(right))
        result: Expr = replace(expr, span=span)
        return result

    def compare(self, children: list[Any]) -> Compare:
        ident, op_token, value_token = children
        key = key_from_ident(ident)
        op = Op(" ".join(str(op_token).upper().split()))
        value = _literal(value_token)
        return Compare(key, op, value, _cover(key, value))

    def in_(self, children: list[Any]) -> In:
        ident, (values, end) = children
        key = key_from_ident(ident)
        return In(key, values, False, key.span and key.span.cover(end))

    def not_in(self, children: list[Any]) -> In:
        ident, _, (values, end) = children
        key = key_from_ident(ident)
        return In(key, values, True, key.span and key.span.cover(end))

    def is_null(self, children: list[Any]) -> IsNull:
        ident, token = children
        key = key_from_ident(ident)
        return IsNull(key, False, key.span and key.span.cover(_span(token)))

    def is_not_null(self, children: list[Any]) -> IsNull:
        ident, token = children
        key = key_from_ident(ident)
        return IsNull(key, True, key.span and key.span.cover(_span(token)))

    def value_list(self, children: list[Any]) -> tuple[tuple[Literal, ...], Span]:
        left, *items, right = children
        values = tuple(
            item if isinstance(item, Literal) else _literal(item) for item in items if item is not None
        )
        span = _span(left).cover(_span(right))
        if not values:
            raise QueryValueError(
                "IN needs at least one value",
                code="empty-list",
                span=span,
                hint="list at least one quoted value: IN ('a') or IN ('a', 'b')",
            )
        return values, span

    def string_item(self, tokens: list[Token]) -> Literal:
        span = _span(tokens[0]).cover(_span(tokens[-1]))
        return Literal("".join(_python_string(t) for t in tokens), span)


_BUILDER = _Builder()

def _run(grammar: str, source: str, where: str, what: str) -> Any:
    try:
        return _grammar.parser(grammar, _BUILDER).parse(source)
    except UnexpectedInput as error:
        raise syntax_error(error, source, where, what) from None
    except QueryError as error:
        raise _placed(error, source, where) from None


def _placed(error: QueryError, source: str, where: str) -> QueryError:
    if error.span is not None and source:
        span = error.span
        error.span = Span.at(source, span.start, span.end)
    error.source, error.where = source, where
    return error


def parse_filter(filter_string: str | None) -> Expr | None:
    """The AST of a ``filter_string``; ``None`` when it is empty (every run matches)."""
    if filter_string is None:
        return None
    if not isinstance(filter_string, str):
        raise TypeError(f"filter_string must be a str, not {type(filter_string).__name__}")
    return _parse_filter(filter_string)


@lru_cache(maxsize=4096)
def _parse_filter(filter_string: str) -> Expr | None:
    if not filter_string.strip():
        return None
    result: Expr | None = _run("filter", filter_string, "filter_string", "the filter")
    return result


def _sort_key(clause: str, where: str) -> SortKey:
    if not isinstance(clause, str):
        raise TypeError(f"an order_by clause must be a str, not {type(clause).__name__}")
    return _parse_sort_key(clause, where)


@lru_cache(maxsize=4096)
def _parse_sort_key(clause: str, where: str) -> SortKey:
    if "," in clause and not any(q in clause for q in QUOTES):
        pos = clause.index(",")
        raise QuerySyntaxError(
            "one order_by clause per list element",
            code="syntax",
            source=clause,
            span=Span.at(clause, pos, pos + 1),
            hint=f"give a list: {[part.strip() for part in clause.split(',') if part.strip()]}",
            where=where,
        )
    try:
        ident, direction = cast(list[Token], _grammar.parser("order_by").parse(clause).children)
    except UnexpectedInput as error:
        raise syntax_error(error, clause, where, "the order_by clause", order_by=True) from None
    try:
        key = key_from_ident(ident)
    except QueryError as error:
        raise _placed(error, clause, where) from None
    descending = direction is not None and str(direction).upper() == "DESC"
    span = _span(ident) if direction is None else _span(ident).cover(_span(direction))
    return SortKey(key, descending, span)


def parse_order_by(order_by: str | Iterable[str] | None) -> tuple[SortKey, ...]:
    """The sort keys of an ``order_by`` list (a single string is one clause)."""
    if order_by is None:
        return ()
    if isinstance(order_by, str):
        return (_sort_key(order_by, "order_by"),)
    return tuple(_sort_key(clause, f"order_by[{i}]") for i, clause in enumerate(order_by))


def parse(filter_string: str | None = "", order_by: str | Iterable[str] | None = None) -> Query:
    """A whole query: the filter and the ordering, with their texts kept for error carets."""
    clauses = order_by_texts(order_by)
    return Query(
        filter=parse_filter(filter_string),
        order_by=parse_order_by(order_by if isinstance(order_by, str) else clauses),
        filter_string=filter_string or "",
        order_by_strings=clauses,
    )


def order_by_texts(order_by: str | Iterable[str] | None) -> tuple[str, ...]:
    """The clauses of an ``order_by`` argument (a single string is one clause), read once."""
    return (order_by,) if isinstance(order_by, str) else tuple(order_by or ())
