"""Text to AST: the lark tree becomes runql's typed nodes, and lark's errors become QueryErrors.

The nodes record how the text was written (a key's prefix and quoting, the operator's span,
parentheses), so that validation never reads the text again. Lark's exceptions stop here:
:mod:`runql.language.diagnosis` turns each into a QuerySyntaxError, and nothing from lark escapes the public
functions.
"""

from __future__ import annotations

import ast as pyast
import difflib
import re
import unicodedata
import warnings
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, cast

from lark import Token, Transformer
from lark.exceptions import UnexpectedInput

from runql.common.bounded import sized_cache
from runql.errors import QueryError, QuerySyntaxError, QueryValueError
from runql.language import grammar as _grammar
from runql.language.ast import (
    ENTITY_ALIASES,
    Aggregate,
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
    Quoting,
    SortKey,
    Span,
    nesting_error,
    too_deep,
)
from runql.language.attributes import ATTRIBUTE_ALIASES
from runql.language.diagnosis import QUOTES, syntax_error

__all__ = ["parse", "parse_filter", "parse_order_by"]

# One segment of a dotted key, as the IDENT terminal in grammar/common.lark lexes it.
_SEGMENT = re.compile(r"\w*[^\W\d]\w*|`(?:``|[^`])*`|\"(?:\"\"|[\\]\"|[^\"])*\"|'(?:''|[\\]'|[^'])*'")


# The text being parsed and where it came from (``filter_string``, ``order_by[i]``). The tree builder is
# shared by every parse, so it reads them from here to create its errors whole, with their position.
_READING: ContextVar[tuple[str, str]] = ContextVar("_READING", default=("", ""))


def _refusal(
    message: str, *, code: str, span: Span | None, hint: str = "", error: type[QueryError] = QueryValueError
) -> QueryError:
    source, where = _READING.get()
    return error(message, code=code, span=span, hint=hint, source=source, where=where)


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
            raise _refusal(f"cannot read the key {text!r}", code="syntax", span=None, error=QuerySyntaxError)
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


def _unquoted(raw: str) -> tuple[str, Quoting]:
    """A name without its quotes, as MLflow strips them: one pair of single or double quotes, then
    one pair of backticks."""
    name = _strip_pair(raw, "'\"")
    quoting = Quoting.BARE if name == raw else Quoting.QUOTES
    unticked = _strip_pair(name, "`")
    if unticked != name and quoting is Quoting.BARE:
        quoting = Quoting.BACKTICKS
    return unticked, quoting


def key_from_ident(token: Token) -> Key:
    """The Key an IDENT token names: split at the first dot, prefix resolved, quotes removed."""
    text = str(token)
    span = _span(token)
    segments = _segments(text)
    if len(segments) == 1:
        name, quoting = _unquoted(text)
        entity, prefix = Entity.ATTRIBUTE, None
    else:
        name, quoting = _unquoted(text[len(segments[0]) + 1 :])
        prefix = _strip_pair(segments[0], "`")
        entity_or_none = ENTITY_ALIASES.get(prefix) if not text.startswith('"') else None
        if entity_or_none is None:
            raise _refusal(
                f"unknown key type {segments[0]!r}",
                code="unknown-key-type",
                span=Span(span.start, span.start + len(segments[0]), span.line, span.column),
                hint=_entity_hint(prefix),
            )
        entity = entity_or_none
    alias = None
    if entity is Entity.ATTRIBUTE and name in ATTRIBUTE_ALIASES:
        alias, name = name, ATTRIBUTE_ALIASES[name]
    return Key(entity, name, span, prefix, alias, quoting)


_FUNCTIONS = {aggregate.value: aggregate for aggregate in Aggregate}
_FUNCTIONS_TEXT = "min, max, avg, count, first, last (of metrics.<name>) and at_step(metrics.<name>, <step>)"


def history_key(children: list[Any]) -> Key:
    """The Key of ``name(IDENT)`` or ``name(IDENT, NUMBER)``: an aggregate over a metric's history."""
    function, _, ident, step, right = children
    span = _span(function).cover(_span(right))
    name = str(function)
    aggregate = _FUNCTIONS.get(name)
    if aggregate is None:
        close = difflib.get_close_matches(name.lower(), list(_FUNCTIONS), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise _refusal(
            f"unknown function {name!r}",
            code="unknown-function",
            span=_span(function),
            hint=f"{hint}the functions are {_FUNCTIONS_TEXT}; functions are written in lower case",
        )
    key = key_from_ident(ident)
    if key.entity is not Entity.METRIC:
        raise _refusal(
            f"{name}() takes a metric, not {key.entity.prefix}.{key.name}",
            code="bad-function-argument",
            span=key.span,
            hint=f"write {name}(metrics.<name>): functions read the history of a metric",
        )
    if (aggregate is Aggregate.AT_STEP) != (step is not None):
        hint = (
            f"write at_step(metrics.{key.name}, 10) for the value logged at step 10"
            if aggregate is Aggregate.AT_STEP
            else f"write {name}(metrics.{key.name}); only at_step takes a step"
        )
        what = "at_step() needs a step" if step is None else f"{name}() takes one argument"
        raise _refusal(what, code="bad-function-argument", span=span, hint=hint)
    value = None
    if step is not None:
        number = _number(str(step))
        if not isinstance(number, int) or not -(2**63) <= number < 2**63:
            raise _refusal(
                f"the step {step} is not an integer",
                code="bad-function-argument",
                span=_span(step),
                hint="steps are whole numbers: at_step(metrics.loss, 10)",
            )
        value = number
    return replace(key, span=span, aggregate=aggregate, step=value, function_span=_span(function))


def _key(operand: Token | Key) -> Key:
    return operand if isinstance(operand, Key) else key_from_ident(operand)


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
    raise _refusal(f"the value {text} is not quoted", code="unquoted-value", span=_span(token), hint=hint)


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
        raise _refusal(
            f"cannot read the list item {token}: {reason}", code="bad-list", span=_span(token), hint=hint
        ) from None
    assert isinstance(value, str)
    return value


class _Builder(Transformer[Token, Any]):
    """Lark tree to AST, run inside the LALR parser so no intermediate tree is built."""

    def start(self, children: list[Any]) -> Any:
        return children[0]

    def or_(self, children: list[Any]) -> Expr:
        # The terms, with an OR token between each two.
        if len(children) == 1:
            return cast(Expr, children[0])
        terms = children[::2]
        return Or(tuple(terms), _cover(terms[0], terms[-1]), _span(children[1]))

    def and_(self, terms: list[Expr]) -> Expr:
        return terms[0] if len(terms) == 1 else And(tuple(terms), _cover(terms[0], terms[-1]))

    def not_(self, children: list[Any]) -> Not:
        token, term = children
        return Not(term, term.span and _span(token).cover(term.span), _span(token))

    def group(self, children: list[Any]) -> Expr:
        left, expr, right = children
        span = _span(left).cover(_span(right))
        result: Expr = replace(expr, span=span, parenthesised=True)
        return result

    def history(self, children: list[Any]) -> Key:
        return history_key(children)

    def compare(self, children: list[Any]) -> Compare:
        ident, op_token, value_token = children
        key = _key(ident)
        op = Op(" ".join(str(op_token).upper().split()))
        value = _literal(value_token)
        return Compare(key, op, value, _cover(key, value), _span(op_token))

    def in_(self, children: list[Any]) -> In:
        ident, word, (values, end) = children
        key = _key(ident)
        return In(key, values, word.type == "NOT_IN", key.span and key.span.cover(end), _span(word))

    not_in = in_

    def is_null(self, children: list[Any]) -> IsNull:
        ident, is_word, null_word = children
        key = _key(ident)
        op_span = _span(is_word).cover(_span(null_word))
        return IsNull(key, null_word.type == "NOT_NULL", key.span and key.span.cover(op_span), op_span)

    is_not_null = is_null

    def value_list(self, children: list[Any]) -> tuple[tuple[Literal, ...], Span]:
        left, *items, right = children
        values = tuple(
            item if isinstance(item, Literal) else _literal(item) for item in items if item is not None
        )
        span = _span(left).cover(_span(right))
        if not values:
            raise _refusal(
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

# The keywords of the filter by terminal, as MLflow reads them: the text upper-cased, spaces collapsed.
_KEYWORDS = {
    "COMPARATOR": frozenset(op.value for op in Op if not op.is_negated),
    "NOT_PATTERN": frozenset(op.value for op in Op if op.is_negated),
    "NOT_IN": frozenset({"NOT IN"}),
    "NOT_NULL": frozenset({"NOT NULL"}),
    "NOT": frozenset({"NOT"}),
    "_AND": frozenset({"AND"}),
    "OR": frozenset({"OR"}),
    "IN": frozenset({"IN"}),
    "IS": frozenset({"IS"}),
    "NULL": frozenset({"NULL"}),
}


def _ascii_letters(text: str) -> str:
    # Compatibility decomposition maps KELVIN SIGN to K and a dotted capital I to I plus a dot.
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii())


def _look_alike(token: Token, meant: str) -> QueryError:
    odd = next((c for c in str(token) if not c.isascii()), "")
    held = f": it holds {odd!r} ({unicodedata.name(odd, f'U+{ord(odd):04X}')}), a look-alike" if odd else ""
    return _refusal(
        f"{str(token)!r} is not {meant}{held}",
        code="syntax",
        span=_span(token),
        hint=f"type the keyword in plain ASCII letters: {meant}",
        error=QuerySyntaxError,
    )


def _keyword(token: Token) -> Token:
    """A keyword the lexer matched case-insensitively, which Unicode folding lets look-alikes match
    (KELVIN SIGN for K, a dotted capital I for I). MLflow upper-cases a keyword and compares: those
    it refuses are refused here with the character named; those it accepts pass."""
    spelled = " ".join(str(token).upper().split())
    if spelled not in _KEYWORDS[token.type]:
        meant = " ".join(_ascii_letters(str(token)).upper().split())
        known = sorted(_KEYWORDS[token.type], key=lambda k: difflib.SequenceMatcher(None, k, meant).ratio())
        raise _look_alike(token, known[-1])
    return token


def _direction(token: Token) -> Token:
    # MLflow's order_by takes ASC and DESC in ASCII letters only (it refuses 'DE\u017fC').
    if not str(token).isascii():
        raise _look_alike(token, _ascii_letters(str(token)).upper())
    return token


_FILTER_CHECKS = tuple((name, _keyword) for name in _KEYWORDS)
_ORDER_BY_CHECKS = (("DIRECTION", _direction),)


def _run(grammar: str, source: str, where: str, what: str) -> Any:
    reading = _READING.set((source, where))
    try:
        return _grammar.parser(grammar, _BUILDER, _FILTER_CHECKS).parse(source)
    except UnexpectedInput as error:
        raise syntax_error(error, source, where, what) from None
    finally:
        _READING.reset(reading)


def parse_filter(filter_string: str | None) -> Expr | None:
    """The AST of a ``filter_string``; ``None`` when it is empty (every run matches)."""
    if filter_string is None:
        return None
    if not isinstance(filter_string, str):
        raise TypeError(f"filter_string must be a str, not {type(filter_string).__name__}")
    return _parse_filter(filter_string)


# Parsed filters and sort keys are kept while the texts they came from total at most this many
# characters: a parsed tree takes about twice its text's size, so the cache holds a few megabytes
# whatever the callers send. The caches read it at each miss, so rebinding it takes effect.
PARSE_CACHE_BUDGET = 1_000_000


def _filter_size(filter_string: str) -> int:
    return len(filter_string) + 64


@sized_cache(_filter_size, lambda: PARSE_CACHE_BUDGET)
def _parse_filter(filter_string: str) -> Expr | None:
    if not filter_string.strip():
        return None
    result: Expr | None = _run("filter", filter_string, "filter_string", "the filter")
    deep = too_deep(result)
    if deep is not None:
        raise nesting_error(deep, filter_string, "filter_string", QuerySyntaxError)
    return result


def _sort_key(clause: str, where: str) -> SortKey:
    if not isinstance(clause, str):
        raise TypeError(f"an order_by clause must be a str, not {type(clause).__name__}")
    return _parse_sort_key((clause, where))


def _top_level_comma(clause: str) -> int | None:
    """Where the first comma outside parentheses is (``at_step(metrics.loss, 10)`` holds one inside)."""
    depth = 0
    for pos, char in enumerate(clause):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            return pos
    return None


def _sort_key_size(key: tuple[str, str]) -> int:
    return len(key[0]) + 64


@sized_cache(_sort_key_size, lambda: PARSE_CACHE_BUDGET)
def _parse_sort_key(clause_where: tuple[str, str]) -> SortKey:
    clause, where = clause_where
    pos = _top_level_comma(clause)
    if pos is not None and not any(q in clause for q in QUOTES):
        raise QuerySyntaxError(
            "one order_by clause per list element",
            code="syntax",
            source=clause,
            span=Span.at(clause, pos, pos + 1),
            hint=f"give a list: {[part.strip() for part in clause.split(',') if part.strip()]}",
            where=where,
        )
    reading = _READING.set((clause, where))
    try:
        parser = _grammar.parser("order_by", None, _ORDER_BY_CHECKS)
        operand, direction = cast(list[Any], parser.parse(clause).children)
        # A function of a metric's history comes as a lark Tree: this parser builds no AST.
        key = key_from_ident(operand) if isinstance(operand, Token) else history_key(list(operand.children))
    except UnexpectedInput as error:
        raise syntax_error(error, clause, where, "the order_by clause", order_by=True) from None
    finally:
        _READING.reset(reading)
    descending = direction is not None and str(direction).upper() == "DESC"
    assert key.span is not None
    span = key.span if direction is None else key.span.cover(_span(direction))
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
