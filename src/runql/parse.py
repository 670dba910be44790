"""Text to AST: the lark tree becomes runql's typed nodes, and lark's errors become QueryErrors.

This is the one module that knows about lark's exceptions; nothing from lark escapes it.
"""

from __future__ import annotations

import ast as pyast
import difflib
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, NoReturn, cast

from lark import Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

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
from .errors import QueryError, QuerySyntaxError, QueryValueError

__all__ = ["parse", "parse_filter", "parse_order_by"]

# One segment of a dotted key, as the IDENT terminal in grammar/common.lark lexes it.
_SEGMENT = re.compile(r"\w*[^\W\d]\w*|`(?:``|[^`])*`|\"(?:\"\"|[\\]\"|[^\"])*\"|'(?:''|[\\]'|[^'])*'")
_QUOTES = "`\"'"


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
    return float(text) if any(c in text for c in ".eE") else int(text)


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
        (ident,) = children
        key = key_from_ident(ident)
        return IsNull(key, False, key.span)

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

_OPERATORS = "an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS)"
_VALUE = "a value ('text' or a number)"
_EXPECTED_NAMES = {
    "IDENT": "a key such as metrics.auc",
    "COMPARATOR": _OPERATORS,
    "NOT_PATTERN": _OPERATORS,
    "NOT_IN": _OPERATORS,
    "_IN": _OPERATORS,
    "_IS": _OPERATORS,
    "SQ_STRING": _VALUE,
    "DQ_STRING": _VALUE,
    "NUMBER": _VALUE,
    "BARE_WORD": _VALUE,
    "PY_STRING": _VALUE,
    "_AND": "AND",
    "_OR": "OR",
    "NOT": "NOT",
    "NOT_NULL": "NULL or NOT NULL",
    "_NULL": "NULL or NOT NULL",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "DIRECTION": "ASC or DESC",
    "$END": "the end",
    "<END-OF-FILE>": "the end",
}


def _expected(names: Iterable[object]) -> str:
    words = sorted({_EXPECTED_NAMES.get(str(n), str(n)) for n in names}, key=lambda w: (w == "the end", w))
    if not words:
        return ""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


_WORD = re.compile(r"[^\s=!<>()',\"]+")
_OPERATOR_RUN = re.compile(r"[=!<>~]+")
# What a user most likely meant by an operator runql does not read.
_OPERATOR_FIXES = {
    "==": "equality is a single '=': metrics.acc = 1",
    "<>": "write != for 'not equal'",
    "=>": "write >= for 'greater or equal'",
    "=<": "write <= for 'less or equal'",
    "!": "write != for 'not equal'",
    "~": "regular expressions are not supported: use LIKE with % and _ wildcards",
    "~=": "regular expressions are not supported: use LIKE with % and _ wildcards",
    "!~": "regular expressions are not supported: use NOT LIKE with % and _ wildcards",
}
_VALID_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_WORD_OPERATOR_FIXES = {
    "RLIKE": "regular expressions are not supported: use LIKE or ILIKE with % and _ wildcards",
    "REGEXP": "regular expressions are not supported: use LIKE or ILIKE with % and _ wildcards",
    "BETWEEN": "BETWEEN is not supported: write metrics.x >= 1 AND metrics.x <= 2",
    "CONTAINS": "write LIKE '%text%'",
}
_NUMBER_START = re.compile(r"[-+]?\.?\d")
_NUMBER_WORD = re.compile(r"[-+]?(?:[eE][-+]\d|[\w.])*")
_VALID_NUMBER = re.compile(r"-?(?:\d+(?:\.\d+)?[eE]-?\d+|\d+\.\d*|\.\d+|\d+)")
_CLAUSE_END = frozenset({"SQ_STRING", "DQ_STRING", "NUMBER", "RPAR", "NOT_NULL", "_NULL"})


def _word_at(source: str, pos: int) -> str:
    match = _WORD.match(source, pos)
    return match.group() if match else ""


@dataclass(slots=True)
class _Problem:
    """What went wrong from offset ``start`` to ``end``, in the user's terms: one QuerySyntaxError."""

    message: str
    start: int
    end: int
    hint: str = ""
    code: str = "syntax"


def _quote_key(ident: str, extra: str) -> str:
    prefix, dot, rest = (ident + extra).partition(".")
    return f"{prefix}.`{rest}`" if dot and prefix in ENTITY_ALIASES else f"`{ident}{extra}`"


def _bad_number(source: str, pos: int) -> _Problem | None:
    if not _NUMBER_START.match(source, pos):
        return None
    word = _NUMBER_WORD.match(source, pos)
    text = word.group() if word else source[pos]
    lead = _VALID_NUMBER.match(text)
    rest = text[lead.end() :] if lead else ""
    if text.startswith("+"):
        hint = f"a number takes no '+' sign: write {text[1:]}"
    elif "_" in text:
        hint = f"write numbers without '_': {text.replace('_', '')}"
    elif text.lstrip("-").lower().startswith("0x"):
        hint = "hexadecimal numbers are not supported: write the decimal value"
    elif re.search(r"[eE]\+", text):
        hint = "an exponent takes no '+' sign: " + re.sub(r"[eE]\+", "e", text)
    elif lead and rest[:1].isalpha() and rest[0] not in "eE":  # 1and, 5x
        hint = f"put a space after the number: {lead.group()} {rest}"
    else:
        hint = "numbers are written 5, -5, 0.5, .5, 5., 1e10 or 1.5e-3"
    return _Problem(f"{text!r} is not a number", pos, pos + len(text), hint, code="bad-number")


def _operator_problem(source: str, pos: int) -> _Problem | None:
    start = pos
    while start > 0 and source[start - 1] in "=!<>~":
        start -= 1
    run = _OPERATOR_RUN.match(source, start)
    if run is None or run.group() in _VALID_OPERATORS:
        return None
    text = run.group()
    hint = _OPERATOR_FIXES.get(text, "the operators are =, !=, <, <=, >, >=, LIKE, ILIKE, IN and IS")
    return _Problem(f"{text!r} is not an operator", start, run.end(), hint)


def _after_key_problem(source: str, pos: int, prev: Token, found: str) -> _Problem | None:
    """The text right after a key is not an operator: a broken key, a spaced dot, an unknown operator."""
    ident = str(prev)
    prev_end = prev.end_pos or 0
    word = _word_at(source, pos)
    if source.startswith(".", pos) and prev_end == pos:
        after = source[pos + 1 : pos + 2]
        if after and after in _QUOTES:
            closing = source.find(after, pos + 2)
            if closing == -1:
                return _Problem(
                    f"unterminated {after} quote",
                    pos + 1,
                    len(source),
                    f"close the quote with a matching {after}",
                    code="unterminated-string",
                )
        if after == "" or after.isspace() or after in "=!<>":
            return _Problem(
                f"a name must follow the dot in {ident + '.'!r}",
                pos,
                pos + 1,
                f"write the name right after the dot, with no space: {ident}.auc",
            )
        return _Problem(
            f"{ident + word!r} is not a plain name",
            prev.start_pos or 0,
            pos + len(word),
            f"a name with special characters needs backticks: {_quote_key(ident, word)}",
        )
    if source.startswith(".", pos):
        rest = source[pos + 1 :].lstrip()
        return _Problem(
            "space before the dot in a key",
            prev_end,
            pos + 1,
            f"write the key without spaces around the dot: {ident}.{_word_at(rest, 0) or 'auc'}",
        )
    upper = word.upper()
    if upper in _WORD_OPERATOR_FIXES:
        return _Problem(f"{word!r} is not an operator", pos, pos + len(word), _WORD_OPERATOR_FIXES[upper])
    if upper == "NOT":
        following = _word_at(source, pos + len(word) + 1).upper() if pos + len(word) < len(source) else ""
        fix = _WORD_OPERATOR_FIXES.get(following)
        if fix:
            return _Problem(f"'NOT {following}' is not an operator", pos, pos + len(word), fix)
    if upper in ("AND", "OR"):
        return _Problem(
            f"{ident!r} has no operator before {word}",
            prev.start_pos or 0,
            prev_end,
            f"a condition is key, operator, value: {ident} = 'x' {word} ...",
        )
    if prev_end == pos and source[pos : pos + 1] not in "=!<> ":
        return _Problem(
            f"{ident + word!r} is not a plain name",
            prev.start_pos or 0,
            pos + len(word),
            f"a name with special characters needs backticks: {_quote_key(ident, word)}",
        )
    if found == "IDENT" and ident.upper() in ("AND", "OR"):
        return _Problem(
            f"{ident.upper()} must join two conditions",
            prev.start_pos or 0,
            prev_end,
            f"remove the {ident.upper()} that has no condition before it",
        )
    if found == "IDENT" and upper not in ("ASC", "DESC"):
        return _Problem(
            f"unexpected {word!r} after the key {ident!r}",
            pos,
            pos + len(word),
            f"a name with spaces needs backticks: {_quote_key(ident, ' ' + word)}",
        )
    if word and word[0] in "\"'`-.0123456789":
        return _Problem(
            f"no operator between {ident!r} and {word!r}",
            pos,
            pos + len(word),
            "a condition is key, operator, value: metrics.acc > 0.9",
        )
    return None


def _key_as_value(source: str, prev: Token, pos: int) -> _Problem:
    start = prev.start_pos or 0
    key = str(prev) + _word_at(source, pos)
    return _Problem(
        f"a key, {key!r}, where a value belongs",
        start,
        start + len(key),
        "a condition compares a key with a quoted string or a number, never with another key",
    )


def _list_problem(source: str, pos: int, token: Token | None) -> _Problem:
    word = str(token) if token is not None else _word_at(source, pos) or source[pos : pos + 1]
    end = pos + max(1, len(word))
    if word == ",":
        hint = "one comma between items: ('a', 'b')"
    elif word.startswith("`"):
        hint = f"quote list items with ' or \", not backticks: ('{word.strip('`')}')"
    elif word[:1].isalpha() or word[:1] == "_":
        hint = f"quote each item: ('{word}')"
    else:
        hint = "list items are quoted strings: ('a', 'b')"
    return _Problem(f"unexpected {word!r} in the list", pos, end, hint, code="bad-list")


def _is_list(expected: set[str]) -> bool:
    return "RPAR" in expected and ("PY_STRING" in expected or "COMMA" in expected)


def _token_problem(error: UnexpectedToken, source: str, prev: Token | None, what: str) -> _Problem:
    token = error.token
    expected = {str(n) for n in error.expected}
    pos = token.start_pos or 0
    text = str(token)
    if token.type == "$END":
        end = len(source.rstrip())
        hint = ""
        if prev is not None and prev.type in ("_AND", "_OR", "NOT"):
            hint = f"add a condition after {str(prev).upper()}, or remove it"
        elif prev is not None and prev.type == "COMPARATOR":
            hint = "add a value: 'text' or a number"
        elif _is_list(expected):
            hint = "close the list with ')'"
        elif "RPAR" in expected:
            hint = "close the parenthesis with ')'"
        elif prev is not None and prev.type == "IDENT":
            hint = f"a condition is key, operator, value: {prev} > 0.5"
        problem = _Problem(f"{what} ends too early: expected {_expected(expected)}", end, end + 1, hint)
        problem.code = "unexpected-end"
        return problem
    if _is_list(expected):
        return _list_problem(source, pos, token)
    if prev is not None and prev.type == "BARE_WORD" and text.startswith(".") and prev.end_pos == pos:
        return _key_as_value(source, prev, pos)
    if token.type == "IDENT" and prev is not None and prev.type in _CLAUSE_END:
        return _Problem(
            f"missing AND before {text!r}",
            pos,
            pos + len(text),
            f"put AND (or OR) between two conditions: ... AND {text} ...",
        )
    default = _Problem(f"unexpected {text!r}: expected {_expected(expected)}", pos, pos + len(text))
    if prev is not None and prev.type == "IDENT":
        found = _after_key_problem(source, pos, prev, token.type)
        if found is not None:
            return found
    if (prev is not None and prev.type == "COMPARATOR") or expected & {"NUMBER", "SQ_STRING"}:
        found = _operator_problem(source, pos) or _bad_number(source, pos)
        if found is not None:
            return found
    upper = text.upper()
    strings = ("SQ_STRING", "DQ_STRING", "PY_STRING")
    if token.type in strings and text[:1] == "'" and "IDENT" in expected:
        default.hint = f"quote a key with backticks, not single quotes: `{text[1:-1]}`"
    elif (token.type in strings or token.type == "NUMBER") and prev is None:
        default.hint = "a condition starts with a key: metrics.acc > 0.9"
    elif upper in _WORD_OPERATOR_FIXES:
        default.hint = _WORD_OPERATOR_FIXES[upper]
    elif expected <= {"NOT_NULL", "_NULL"}:
        default.hint = "IS tests for a missing value: IS NULL or IS NOT NULL; compare values with ="
    elif token.type == "RPAR":
        default.hint = "remove the ')' that has no matching '('"
    elif token.type == "COMPARATOR" and prev is not None and prev.type in _CLAUSE_END:
        default.hint = "a condition has one operator; join conditions with AND"
    elif prev is not None and prev.type in _CLAUSE_END:
        default.hint = "join conditions with AND: metrics.a > 1 AND params.b = 'x'"
    return default


def _char_problem(error: UnexpectedCharacters, source: str, prev: Token | None) -> _Problem:
    pos = int(error.pos_in_stream or 0)
    char = source[pos]
    allowed = {str(n) for n in error.allowed or ()}
    if char in _QUOTES and source.find(char, pos + 1) == -1:
        return _Problem(
            f"unterminated {char} quote",
            pos,
            len(source),
            f"close the quote with a matching {char}",
            code="unterminated-string",
        )
    if source.startswith(("--", "/*"), pos) or char == "#":
        return _Problem("comments are not supported", pos, len(source), "remove the comment")
    if source.startswith(("&&", "||"), pos):
        word = "AND" if char == "&" else "OR"
        return _Problem(f"{source[pos : pos + 2]!r} is not an operator", pos, pos + 2, f"write {word}")
    if char == ";":
        return _Problem(
            "';' is not allowed", pos, pos + 1, "a filter is one expression: join conditions with AND"
        )
    if _is_list(allowed):
        return _list_problem(source, pos, None)
    if prev is not None and prev.type == "BARE_WORD" and char == "." and prev.end_pos == pos:
        return _key_as_value(source, prev, pos)
    if prev is not None and prev.type == "IDENT":
        found = _after_key_problem(source, pos, prev, "")
        if found is not None:
            return found
    found = _operator_problem(source, pos) or _bad_number(source, pos)
    if found is not None:
        return found
    if char == "-" and source[pos + 1 : pos + 2].isspace():
        return _Problem("'-' is not a value", pos, pos + 1, "write the sign next to the digits: -5")
    expected = f": expected {_expected(allowed)}" if allowed else ""
    hint = ""
    if prev is not None and prev.type in _CLAUSE_END:
        hint = "join conditions with AND: metrics.a > 1 AND params.b = 'x'"
    return _Problem(f"unexpected {char!r}{expected}", pos, pos + 1, hint)


def _previous(error: UnexpectedInput) -> Token | None:
    history = getattr(error, "token_history", None)
    if history:
        last: Token = history[-1]
        return last
    state = getattr(error, "state", None)
    stack = [v for v in getattr(state, "value_stack", None) or () if isinstance(v, Token)]
    return stack[-1] if stack else None


_ORDER_BY_SHAPE = "an order_by clause is a key and an optional ASC or DESC: metrics.auc DESC"


def _order_by_problem(error: UnexpectedInput, source: str, prev: Token | None) -> _Problem:
    if isinstance(error, UnexpectedToken):
        if error.token.type == "$END":
            return _Problem(
                "the order_by clause is empty",
                0,
                max(1, len(source)),
                "give a key, e.g. metrics.auc DESC",
                code="unexpected-end",
            )
        pos = error.token.start_pos or 0
    else:
        pos = int(error.pos_in_stream or 0)
        if source[pos] in _QUOTES and source.find(source[pos], pos + 1) == -1:
            return _char_problem(cast(UnexpectedCharacters, error), source, prev)
    if source[pos] == ";":
        return _Problem(
            "';' is not allowed", pos, pos + 1, "give one clause per list element: ['a', 'b DESC']"
        )
    word = _word_at(source, pos) or source[pos]
    upper = word.upper()
    if prev is not None and prev.type == "DIRECTION":
        hint = _ORDER_BY_SHAPE
        if upper == "NULLS":
            hint = "NULLS FIRST and NULLS LAST are not supported: missing values always sort last"
        elif upper in ("ASC", "DESC"):
            hint = "give one direction: ASC or DESC"
        return _Problem(f"unexpected {word!r} after the direction", pos, pos + len(word), hint)
    if prev is not None and prev.type == "IDENT":
        if source[pos] == "." or prev.end_pos == pos:
            found = _after_key_problem(source, pos, prev, "")
            if found is not None:
                return found
        if word[:1].isalpha():
            close = difflib.get_close_matches(upper, ["ASC", "DESC"], n=1, cutoff=0.5)
            if close:
                return _Problem(
                    f"unknown direction {word!r}: expected ASC or DESC",
                    pos,
                    pos + len(word),
                    f"did you mean {close[0]}?",
                )
            return _Problem(
                f"unexpected {word!r} after the key {str(prev)!r}",
                pos,
                pos + len(word),
                f"a name with spaces needs backticks: {_quote_key(str(prev), ' ' + word)}",
            )
        return _Problem(
            f"unexpected {word!r} after the key {str(prev)!r}", pos, pos + len(word), _ORDER_BY_SHAPE
        )
    hint = _ORDER_BY_SHAPE
    if word.startswith("-"):
        hint = f"sort in descending order with DESC: {word[1:] or 'metrics.auc'} DESC"
    elif word[:1] == "'" or source[pos] == "'":
        quoted = source[pos + 1 : source.find("'", pos + 1)]
        hint = f"quote a key with backticks, not single quotes: `{quoted}`"
    return _Problem(f"unexpected {word!r}: expected a key such as metrics.auc", pos, pos + len(word), hint)


def _inside(source: str, start: int, end: int) -> Span:
    """At least one character wide, but never past the text: an error at the end has an empty span."""
    start = min(start, len(source))
    return Span.at(source, start, max(start, min(max(end, start + 1), len(source))))


def _translate(
    error: UnexpectedInput, source: str, where: str, what: str, order_by: bool = False
) -> NoReturn:
    prev = _previous(error)
    if order_by:
        problem = _order_by_problem(error, source, prev)
    elif isinstance(error, UnexpectedToken):
        problem = _token_problem(error, source, prev, what)
    else:
        assert isinstance(error, UnexpectedCharacters)
        problem = _char_problem(error, source, prev)
    raise QuerySyntaxError(
        problem.message,
        code=problem.code,
        source=source,
        span=_inside(source, problem.start, problem.end),
        hint=problem.hint,
        where=where,
    )


def _run(grammar: str, source: str, where: str, what: str) -> Any:
    try:
        return _grammar.parser(grammar, _BUILDER).parse(source)
    except UnexpectedInput as error:
        _translate(error, source, where, what)
    except VisitError as error:  # an error raised while building a node
        if isinstance(error.orig_exc, QueryError):
            raise _placed(error.orig_exc, source, where) from None
        raise
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
    if "," in clause and not any(q in clause for q in _QUOTES):
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
        _translate(error, clause, where, "the order_by clause", order_by=True)
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
    clauses = (order_by,) if isinstance(order_by, str) else tuple(order_by or ())
    return Query(
        filter=parse_filter(filter_string),
        order_by=parse_order_by(order_by),
        filter_string=filter_string or "",
        order_by_strings=clauses,
    )
