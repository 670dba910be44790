"""Lark's parse errors in the user's terms: what was expected, where, and what to write instead.

The parser (:mod:`runql.parse`) hands every lark error here; the diagnosis looks at the text around the
error (the previous token, the word found, the operators and numbers people mistype) and returns one
QuerySyntaxError with a stable code, a span and a hint.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from runql.errors import QuerySyntaxError
from runql.language.ast import ENTITY_ALIASES, Span

__all__ = ["QUOTES", "syntax_error"]

QUOTES = "`\"'"
"""The characters that open a quoted key or value."""

_OPERATORS = "an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS)"
_VALUE = "a value ('text' or a number)"
_EXPECTED_NAMES = {
    "IDENT": "a key such as metrics.auc",
    "COMPARATOR": _OPERATORS,
    "NOT_PATTERN": _OPERATORS,
    "NOT_IN": _OPERATORS,
    "IN": _OPERATORS,
    "IS": _OPERATORS,
    "SQ_STRING": _VALUE,
    "DQ_STRING": _VALUE,
    "NUMBER": _VALUE,
    "BARE_WORD": _VALUE,
    "PY_STRING": _VALUE,
    "_AND": "AND",
    "OR": "OR",
    "NOT": "NOT",
    "NOT_NULL": "NULL or NOT NULL",
    "NULL": "NULL or NOT NULL",
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
_CLAUSE_END = frozenset({"SQ_STRING", "DQ_STRING", "NUMBER", "RPAR", "NOT_NULL", "NULL"})


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
    if text in _OPERATOR_REWRITES:
        # Show the fix on the user's own condition, not on a made-up one.
        before, after = source[:start].split(), source[run.end() :].split()
        if before and after:
            fixed = f"{before[-1]} {_OPERATOR_REWRITES[text]} {after[0]}"
            hint = f"{hint.split(':')[0]}: {fixed}" if text == "==" else f"write {fixed}"
    return _Problem(f"{text!r} is not an operator", start, run.end(), hint)


_OPERATOR_REWRITES = {"==": "=", "<>": "!=", "=>": ">=", "=<": "<="}


def _open_parentheses(source: str, pos: int) -> bool:
    """Whether a '(' before ``pos`` is still open (a ')' can be expected there)."""
    return source.count("(", 0, pos) > source.count(")", 0, pos)


def _after_key_problem(source: str, pos: int, prev: Token, found: str) -> _Problem | None:
    """The text right after a key is not an operator: a broken key, a spaced dot, an unknown operator."""
    ident = str(prev)
    prev_end = prev.end_pos or 0
    word = _word_at(source, pos)
    if source.startswith(".", pos) and prev_end == pos:
        after = source[pos + 1 : pos + 2]
        if after and after in QUOTES:
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
        if prev is not None and prev.type in ("_AND", "OR", "NOT"):
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
    if prev is not None and prev.type == "BARE_WORD" and prev.end_pos == pos:
        # trial-1: an unquoted value the lexer cut in two.
        start = prev.start_pos or 0
        word = source[start:].split()[0]
        return _Problem(
            f"the value {word} is not quoted",
            start,
            start + len(word),
            f"quote string values: '{word}'",
        )
    if not _open_parentheses(source, pos):
        expected.discard("RPAR")
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
    elif expected <= {"NOT_NULL", "NULL"}:
        default.hint = "IS tests for a missing value: IS NULL or IS NOT NULL; compare values with ="
    elif token.type == "RPAR" and prev is not None and prev.type == "LPAR":
        default.hint = "parentheses hold a condition: (metrics.a > 1 OR params.b = 'x')"
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
    if char in QUOTES and source.find(char, pos + 1) == -1:
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
    if char == "%" and prev is not None and prev.type == "NUMBER" and prev.end_pos == pos:
        number = float(str(prev))
        return _Problem(
            "'%' is not part of a number",
            prev.start_pos or 0,
            pos + 1,
            f"write the fraction {number / 100:g}, or the number {number:g} as logged",
        )
    if not _open_parentheses(source, pos):
        allowed.discard("RPAR")
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
        if source[pos] in QUOTES and source.find(source[pos], pos + 1) == -1:
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


def syntax_error(
    error: UnexpectedInput, source: str, where: str, what: str, order_by: bool = False
) -> QuerySyntaxError:
    """The QuerySyntaxError for lark's ``error`` on ``source``: what was expected, where, and a hint.

    ``what`` names the text in messages ("the filter"); ``order_by`` selects the order_by diagnosis.
    """
    prev = _previous(error)
    if order_by:
        problem = _order_by_problem(error, source, prev)
    elif isinstance(error, UnexpectedToken):
        problem = _token_problem(error, source, prev, what)
    else:
        assert isinstance(error, UnexpectedCharacters)
        problem = _char_problem(error, source, prev)
    return QuerySyntaxError(
        problem.message,
        code=problem.code,
        source=source,
        span=_inside(source, problem.start, problem.end),
        hint=problem.hint,
        where=where,
    )
