"""Lark's parse errors in the user's terms: what was expected, where, and what to write instead.

The parser (:mod:`runql.language.parser`) hands every lark error here. The diagnosis describes where lark
stopped (the text found, the token before it, what could have come next) and tries a table of rules in
order, the first that recognises the situation giving the problem; each table ends in a general
"unexpected ..." problem. The result is one QuerySyntaxError with a stable code, a span and a hint.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from runql.errors import QuerySyntaxError
from runql.language.ast import ENTITY_ALIASES, Aggregate, Span

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
_OPERATOR_REWRITES = {"==": "=", "<>": "!=", "=>": ">=", "=<": "<="}
_VALID_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_WORD_OPERATOR_FIXES = {
    "RLIKE": "regular expressions are not supported: use LIKE or ILIKE with % and _ wildcards",
    "REGEXP": "regular expressions are not supported: use LIKE or ILIKE with % and _ wildcards",
    "BETWEEN": "BETWEEN is not supported: write metrics.x >= 1 AND metrics.x <= 2",
    "CONTAINS": "write LIKE '%text%'",
}
_FUNCTION_NAMES = frozenset(aggregate.value for aggregate in Aggregate)
_NUMBER_START = re.compile(r"[-+]?\.?\d")
_NUMBER_WORD = re.compile(r"[-+]?(?:[eE][-+]\d|[\w.])*")
_VALID_NUMBER = re.compile(r"-?(?:\d+(?:\.\d+)?[eE]-?\d+|\d+\.\d*|\.\d+|\d+)")
_CLAUSE_END = ("SQ_STRING", "DQ_STRING", "NUMBER", "RPAR", "NOT_NULL", "NULL")
_STRINGS = ("SQ_STRING", "DQ_STRING", "PY_STRING")


def _word_at(source: str, pos: int) -> str:
    match = _WORD.match(source, pos)
    return match.group() if match else ""


@dataclass(frozen=True, slots=True)
class _Problem:
    """What went wrong from offset ``start`` to ``end``, in the user's terms: one QuerySyntaxError."""

    message: str
    start: int
    end: int
    hint: str = ""
    code: str = "syntax"


@dataclass(frozen=True, slots=True)
class _At:
    """Where lark stopped, as the rules read it."""

    source: str
    pos: int
    prev: Token | None  # the token before, None at the start of the text
    expected: frozenset[str]  # the terminals lark could have read at ``pos``
    what: str = ""  # the text as messages name it: "the filter"
    token: Token | None = None  # the token lark could not take; None for a character no token starts

    @property
    def kind(self) -> str:
        """The type of the token found; empty for a character."""
        return self.token.type if self.token is not None else ""

    @property
    def found(self) -> str:
        """The text of the token found, or the character."""
        return str(self.token) if self.token is not None else self.source[self.pos]

    @property
    def word(self) -> str:
        """The word that starts at ``pos``, up to a space, a quote, a parenthesis or an operator."""
        return _word_at(self.source, self.pos)

    @property
    def touching(self) -> bool:
        """Whether the token before ends right where the text found starts."""
        return self.prev is not None and self.prev.end_pos == self.pos

    @property
    def at_dot(self) -> bool:
        """Whether the text found starts with a dot."""
        return self.source.startswith(".", self.pos)

    @property
    def expected_here(self) -> frozenset[str]:
        """What could come next, without a ')' when no '(' before ``pos`` is still open."""
        if self.source.count("(", 0, self.pos) > self.source.count(")", 0, self.pos):
            return self.expected
        return self.expected - {"RPAR"}

    def before(self, *types: str) -> Token | None:
        """The token before, when it is of one of ``types``."""
        return self.prev if self.prev is not None and self.prev.type in types else None


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _first(rules: Iterable[Callable[_P, _R | None]], *args: _P.args, **kwargs: _P.kwargs) -> _R | None:
    """What the first rule that recognises the situation returns; None when none does."""
    for rule in rules:
        found = rule(*args, **kwargs)
        if found is not None:
            return found
    return None


# -- problems several tables find -------------------------------------------------------------------


def _quote_key(ident: str, extra: str) -> str:
    prefix, dot, rest = (ident + extra).partition(".")
    return f"{prefix}.`{rest}`" if dot and prefix in ENTITY_ALIASES else f"`{ident}{extra}`"


def _unclosed_quote(source: str, start: int) -> _Problem | None:
    quote = source[start : start + 1]
    if not quote or quote not in QUOTES or source.find(quote, start + 1) != -1:
        return None
    return _Problem(
        f"unterminated {quote} quote",
        start,
        len(source),
        f"close the quote with a matching {quote}",
        code="unterminated-string",
    )


def _unterminated_quote(at: _At) -> _Problem | None:
    return None if at.token is not None else _unclosed_quote(at.source, at.pos)


def _spaced_name(at: _At, key: Token, word: str) -> _Problem:
    return _Problem(
        f"unexpected {word!r} after the key {str(key)!r}",
        at.pos,
        at.pos + len(word),
        f"a name with spaces needs backticks: {_quote_key(str(key), ' ' + word)}",
    )


def _bad_number(at: _At) -> _Problem | None:
    if not _NUMBER_START.match(at.source, at.pos):
        return None
    word = _NUMBER_WORD.match(at.source, at.pos)
    text = word.group() if word else at.source[at.pos]
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
    return _Problem(f"{text!r} is not a number", at.pos, at.pos + len(text), hint, code="bad-number")


def _mistyped_operator(at: _At) -> _Problem | None:
    start = at.pos
    while start > 0 and at.source[start - 1] in "=!<>~":
        start -= 1
    run = _OPERATOR_RUN.match(at.source, start)
    if run is None or run.group() in _VALID_OPERATORS:
        return None
    text = run.group()
    hint = _OPERATOR_FIXES.get(text, "the operators are =, !=, <, <=, >, >=, LIKE, ILIKE, IN and IS")
    if text in _OPERATOR_REWRITES:
        # Show the fix on the user's own condition, not on a made-up one.
        before, after = at.source[:start].split(), at.source[run.end() :].split()
        if before and after:
            fixed = f"{before[-1]} {_OPERATOR_REWRITES[text]} {after[0]}"
            hint = f"{hint.split(':')[0]}: {fixed}" if text == "==" else f"write {fixed}"
    return _Problem(f"{text!r} is not an operator", start, run.end(), hint)


def _is_list(expected: frozenset[str]) -> bool:
    return "RPAR" in expected and ("PY_STRING" in expected or "COMMA" in expected)


def _list_item(at: _At) -> _Problem | None:
    if not _is_list(at.expected):
        return None
    word = str(at.token) if at.token is not None else at.word or at.source[at.pos : at.pos + 1]
    end = at.pos + max(1, len(word))
    if word == ",":
        hint = "one comma between items: ('a', 'b')"
    elif word.startswith("`"):
        hint = f"quote list items with ' or \", not backticks: ('{word.strip('`')}')"
    elif word[:1].isalpha() or word[:1] == "_":
        hint = f"quote each item: ('{word}')"
    else:
        hint = "list items are quoted strings: ('a', 'b')"
    return _Problem(f"unexpected {word!r} in the list", at.pos, end, hint, code="bad-list")


def _key_as_value(at: _At) -> _Problem | None:
    value = at.before("BARE_WORD")
    if value is None or not at.found.startswith(".") or not at.touching:
        return None
    start = value.start_pos or 0
    key = str(value) + at.word
    return _Problem(
        f"a key, {key!r}, where a value belongs",
        start,
        start + len(key),
        "a condition compares a key with a quoted string or a number, never with another key",
    )


def _function_as_value(at: _At) -> _Problem | None:
    # max(metrics.m) after an operator: lexed as a bare word, then '('. A function of a history (or any
    # name applied to a key) is a second operand, as a key there is, not a value left unquoted.
    name = at.before("BARE_WORD")
    if name is None or at.kind != "LPAR":
        return None
    argument = at.source[at.pos + 1 :].lstrip()
    prefix = argument.partition(".")[0]
    if str(name).lower() not in _FUNCTION_NAMES and not (prefix in ENTITY_ALIASES and "." in argument):
        return None
    start = name.start_pos or 0
    close = at.source.find(")", at.pos)
    end = close + 1 if close != -1 else len(at.source.rstrip())
    return _Problem(
        f"a function, {at.source[start:end]!r}, where a value belongs",
        start,
        end,
        "a condition compares a key or a function with a quoted string or a number, never with another "
        "key or function",
    )


def _unjoined_conditions(at: _At) -> str | None:
    if at.before(*_CLAUSE_END) is None:
        return None
    return "join conditions with AND: metrics.a > 1 AND params.b = 'x'"


# -- right after a key: a broken key, a spaced dot, an unknown operator -------------------------------


def _unterminated_after_dot(at: _At, key: Token) -> _Problem | None:
    return _unclosed_quote(at.source, at.pos + 1) if at.touching and at.at_dot else None


def _nothing_after_dot(at: _At, key: Token) -> _Problem | None:
    after = at.source[at.pos + 1 : at.pos + 2]
    # At the end of the text ``after`` is empty, and so in any string.
    if not (at.touching and at.at_dot) or not (after.isspace() or after in "=!<>"):
        return None
    return _Problem(
        f"a name must follow the dot in {str(key) + '.'!r}",
        at.pos,
        at.pos + 1,
        f"write the name right after the dot, with no space: {key}.auc",
    )


def _spaced_dot(at: _At, key: Token) -> _Problem | None:
    if at.touching or not at.at_dot:
        return None
    rest = at.source[at.pos + 1 :].lstrip()
    return _Problem(
        "space before the dot in a key",
        key.end_pos or 0,
        at.pos + 1,
        f"write the key without spaces around the dot: {key}.{_word_at(rest, 0) or 'auc'}",
    )


def _word_operator(at: _At, key: Token) -> _Problem | None:
    fix = _WORD_OPERATOR_FIXES.get(at.word.upper())
    if fix is None:
        return None
    return _Problem(f"{at.word!r} is not an operator", at.pos, at.pos + len(at.word), fix)


def _not_word_operator(at: _At, key: Token) -> _Problem | None:
    if at.word.upper() != "NOT":
        return None
    following = _word_at(at.source, at.pos + len(at.word) + 1).upper()
    fix = _WORD_OPERATOR_FIXES.get(following)
    if fix is None:
        return None
    return _Problem(f"'NOT {following}' is not an operator", at.pos, at.pos + len(at.word), fix)


def _joiner_without_operator(at: _At, key: Token) -> _Problem | None:
    if at.word.upper() not in ("AND", "OR"):
        return None
    return _Problem(
        f"{str(key)!r} has no operator before {at.word}",
        key.start_pos or 0,
        key.end_pos or 0,
        f"a condition is key, operator, value: {key} = 'x' {at.word} ...",
    )


def _glued_name(at: _At, key: Token) -> _Problem | None:
    # A dot right after the key comes here too: the word rules above never match a word starting with one.
    if not at.touching or at.source[at.pos : at.pos + 1] in "=!<> ":
        return None
    return _Problem(
        f"{str(key) + at.word!r} is not a plain name",
        key.start_pos or 0,
        at.pos + len(at.word),
        f"a name with special characters needs backticks: {_quote_key(str(key), at.word)}",
    )


def _joiner_as_key(at: _At, key: Token) -> _Problem | None:
    joiner = str(key).upper()
    if at.kind != "IDENT" or joiner not in ("AND", "OR"):
        return None
    return _Problem(
        f"{joiner} must join two conditions",
        key.start_pos or 0,
        key.end_pos or 0,
        f"remove the {joiner} that has no condition before it",
    )


def _key_after_key(at: _At, key: Token) -> _Problem | None:
    if at.kind != "IDENT" or at.word.upper() in ("ASC", "DESC"):
        return None
    return _spaced_name(at, key, at.word)


def _missing_operator(at: _At, key: Token) -> _Problem | None:
    if not at.word or at.word[0] not in "\"'`-.0123456789":
        return None
    return _Problem(
        f"no operator between {str(key)!r} and {at.word!r}",
        at.pos,
        at.pos + len(at.word),
        "a condition is key, operator, value: metrics.acc > 0.9",
    )


_KeyRule = Callable[[_At, Token], _Problem | None]

_BROKEN_KEY_RULES: tuple[_KeyRule, ...] = (
    _unterminated_after_dot,
    _nothing_after_dot,
    _spaced_dot,
    _word_operator,
    _not_word_operator,
    _joiner_without_operator,
    _glued_name,
)
_AFTER_KEY_RULES: tuple[_KeyRule, ...] = (
    *_BROKEN_KEY_RULES,
    _joiner_as_key,
    _key_after_key,
    _missing_operator,
)


def _after_key(at: _At) -> _Problem | None:
    key = at.before("IDENT")
    return None if key is None else _first(_AFTER_KEY_RULES, at, key)


# -- a filter: the token lark could not take ---------------------------------------------------------


def _end_after_joiner(at: _At) -> str | None:
    joiner = at.before("_AND", "OR", "NOT")
    return None if joiner is None else f"add a condition after {str(joiner).upper()}, or remove it"


def _end_after_operator(at: _At) -> str | None:
    return None if at.before("COMPARATOR") is None else "add a value: 'text' or a number"


def _end_in_list(at: _At) -> str | None:
    return "close the list with ')'" if _is_list(at.expected) else None


def _end_in_parentheses(at: _At) -> str | None:
    return "close the parenthesis with ')'" if "RPAR" in at.expected else None


def _end_after_key(at: _At) -> str | None:
    key = at.before("IDENT")
    return None if key is None else f"a condition is key, operator, value: {key} > 0.5"


_END_HINTS: tuple[Callable[[_At], str | None], ...] = (
    _end_after_joiner,
    _end_after_operator,
    _end_in_list,
    _end_in_parentheses,
    _end_after_key,
)


def _ends_early(at: _At) -> _Problem | None:
    if at.kind != "$END":
        return None
    end = len(at.source.rstrip())
    message = f"{at.what} ends too early: expected {_expected(at.expected)}"
    return _Problem(message, end, end + 1, _first(_END_HINTS, at) or "", code="unexpected-end")


def _missing_and(at: _At) -> _Problem | None:
    if at.kind != "IDENT" or at.before(*_CLAUSE_END) is None:
        return None
    return _Problem(
        f"missing AND before {at.found!r}",
        at.pos,
        at.pos + len(at.found),
        f"put AND (or OR) between two conditions: ... AND {at.found} ...",
    )


def _unquoted_value(at: _At) -> _Problem | None:
    # trial-1: an unquoted value the lexer cut in two.
    value = at.before("BARE_WORD")
    if value is None or not at.touching:
        return None
    start = value.start_pos or 0
    word = at.source[start:].split()[0]
    return _Problem(
        f"the value {word} is not quoted", start, start + len(word), f"quote string values: '{word}'"
    )


def _mistyped_value(at: _At) -> _Problem | None:
    if at.before("COMPARATOR") is None and not at.expected & {"NUMBER", "SQ_STRING"}:
        return None
    return _mistyped_operator(at) or _bad_number(at)


_TOKEN_RULES: tuple[Callable[[_At], _Problem | None], ...] = (
    _ends_early,
    _list_item,
    _key_as_value,
    _function_as_value,
    _missing_and,
    _unquoted_value,
    _after_key,
    _mistyped_value,
)


def _single_quoted_key(at: _At) -> str | None:
    if at.kind not in _STRINGS or at.found[:1] != "'" or "IDENT" not in at.expected:
        return None
    return f"quote a key with backticks, not single quotes: `{at.found[1:-1]}`"


def _value_first(at: _At) -> str | None:
    if at.prev is not None or at.kind not in (*_STRINGS, "NUMBER"):
        return None
    return "a condition starts with a key: metrics.acc > 0.9"


def _word_operator_hint(at: _At) -> str | None:
    return _WORD_OPERATOR_FIXES.get(at.found.upper())


def _is_without_null(at: _At) -> str | None:
    if not at.expected_here <= {"NOT_NULL", "NULL"}:
        return None
    return "IS tests for a missing value: IS NULL or IS NOT NULL; compare values with ="


def _empty_parentheses(at: _At) -> str | None:
    if at.kind != "RPAR" or at.before("LPAR") is None:
        return None
    return "parentheses hold a condition: (metrics.a > 1 OR params.b = 'x')"


def _unmatched_parenthesis(at: _At) -> str | None:
    return "remove the ')' that has no matching '('" if at.kind == "RPAR" else None


def _second_operator(at: _At) -> str | None:
    if at.kind != "COMPARATOR" or at.before(*_CLAUSE_END) is None:
        return None
    return "a condition has one operator; join conditions with AND"


_TOKEN_HINTS: tuple[Callable[[_At], str | None], ...] = (
    _single_quoted_key,
    _value_first,
    _word_operator_hint,
    _is_without_null,
    _empty_parentheses,
    _unmatched_parenthesis,
    _second_operator,
    _unjoined_conditions,
)


def _unexpected_token(at: _At) -> _Problem:
    return _Problem(
        f"unexpected {at.found!r}: expected {_expected(at.expected_here)}",
        at.pos,
        at.pos + len(at.found),
        _first(_TOKEN_HINTS, at) or "",
    )


# -- a filter: a character no token starts with -------------------------------------------------------


def _comment(at: _At) -> _Problem | None:
    if not at.source.startswith(("--", "/*", "#"), at.pos):
        return None
    return _Problem("comments are not supported", at.pos, len(at.source), "remove the comment")


def _c_operator(at: _At) -> _Problem | None:
    if not at.source.startswith(("&&", "||"), at.pos):
        return None
    word = "AND" if at.found == "&" else "OR"
    return _Problem(
        f"{at.source[at.pos : at.pos + 2]!r} is not an operator", at.pos, at.pos + 2, f"write {word}"
    )


def _semicolon(at: _At) -> _Problem | None:
    if at.found != ";":
        return None
    return _Problem(
        "';' is not allowed", at.pos, at.pos + 1, "a filter is one expression: join conditions with AND"
    )


def _spaced_minus(at: _At) -> _Problem | None:
    if at.found != "-" or not at.source[at.pos + 1 : at.pos + 2].isspace():
        return None
    return _Problem("'-' is not a value", at.pos, at.pos + 1, "write the sign next to the digits: -5")


def _percent_sign(at: _At) -> _Problem | None:
    number = at.before("NUMBER")
    if at.found != "%" or number is None or not at.touching:
        return None
    value = float(str(number))
    return _Problem(
        "'%' is not part of a number",
        number.start_pos or 0,
        at.pos + 1,
        f"write the fraction {value / 100:g}, or the number {value:g} as logged",
    )


_CHARACTER_RULES: tuple[Callable[[_At], _Problem | None], ...] = (
    _unterminated_quote,
    _comment,
    _c_operator,
    _semicolon,
    _list_item,
    _key_as_value,
    _after_key,
    _mistyped_operator,
    _bad_number,
    _spaced_minus,
    _percent_sign,
)


def _unexpected_character(at: _At) -> _Problem:
    expected = f": expected {_expected(at.expected_here)}" if at.expected_here else ""
    return _Problem(f"unexpected {at.found!r}{expected}", at.pos, at.pos + 1, _unjoined_conditions(at) or "")


# -- an order_by clause ------------------------------------------------------------------------------

_ORDER_BY_SHAPE = "an order_by clause is a key and an optional ASC or DESC: metrics.auc DESC"
_AFTER_DIRECTION_HINTS = {
    "NULLS": "NULLS FIRST and NULLS LAST are not supported: missing values always sort last",
    "ASC": "give one direction: ASC or DESC",
    "DESC": "give one direction: ASC or DESC",
}


def _clause_word(at: _At) -> str:
    return at.word or at.source[at.pos]


def _empty_clause(at: _At) -> _Problem | None:
    if at.kind != "$END":
        return None
    return _Problem(
        "the order_by clause is empty",
        0,
        max(1, len(at.source)),
        "give a key, e.g. metrics.auc DESC",
        code="unexpected-end",
    )


def _clause_semicolon(at: _At) -> _Problem | None:
    if at.source[at.pos] != ";":
        return None
    return _Problem(
        "';' is not allowed", at.pos, at.pos + 1, "give one clause per list element: ['a', 'b DESC']"
    )


def _after_direction(at: _At) -> _Problem | None:
    if at.before("DIRECTION") is None:
        return None
    word = _clause_word(at)
    hint = _AFTER_DIRECTION_HINTS.get(word.upper(), _ORDER_BY_SHAPE)
    return _Problem(f"unexpected {word!r} after the direction", at.pos, at.pos + len(word), hint)


# A word after an order_by key is read as a direction (the rules below), never as a second key.
_ORDER_KEY_RULES: tuple[_KeyRule, ...] = (*_BROKEN_KEY_RULES, _missing_operator)


def _broken_order_key(at: _At) -> _Problem | None:
    key = at.before("IDENT")
    if key is None or not (at.at_dot or at.touching):
        return None
    return _first(_ORDER_KEY_RULES, at, key)


def _unknown_direction(at: _At) -> _Problem | None:
    word = _clause_word(at)
    if at.before("IDENT") is None or not word[:1].isalpha():
        return None
    close = difflib.get_close_matches(word.upper(), ["ASC", "DESC"], n=1, cutoff=0.5)
    if not close:
        return None
    return _Problem(
        f"unknown direction {word!r}: expected ASC or DESC",
        at.pos,
        at.pos + len(word),
        f"did you mean {close[0]}?",
    )


def _spaced_order_key(at: _At) -> _Problem | None:
    key = at.before("IDENT")
    word = _clause_word(at)
    return None if key is None or not word[:1].isalpha() else _spaced_name(at, key, word)


def _after_order_key(at: _At) -> _Problem | None:
    key = at.before("IDENT")
    if key is None:
        return None
    word = _clause_word(at)
    return _Problem(
        f"unexpected {word!r} after the key {str(key)!r}", at.pos, at.pos + len(word), _ORDER_BY_SHAPE
    )


_ORDER_BY_RULES: tuple[Callable[[_At], _Problem | None], ...] = (
    _empty_clause,
    _unterminated_quote,
    _clause_semicolon,
    _after_direction,
    _broken_order_key,
    _unknown_direction,
    _spaced_order_key,
    _after_order_key,
)


def _not_a_key(at: _At) -> _Problem:
    word = _clause_word(at)
    hint = _ORDER_BY_SHAPE
    if word.startswith("-"):
        hint = f"sort in descending order with DESC: {word[1:] or 'metrics.auc'} DESC"
    elif word[:1] == "'" or at.source[at.pos] == "'":
        quoted = at.source[at.pos + 1 : at.source.find("'", at.pos + 1)]
        hint = f"quote a key with backticks, not single quotes: `{quoted}`"
    return _Problem(
        f"unexpected {word!r}: expected a key such as metrics.auc", at.pos, at.pos + len(word), hint
    )


# -- the diagnosis -----------------------------------------------------------------------------------


def _previous(error: UnexpectedInput) -> Token | None:
    history = getattr(error, "token_history", None)
    if history:
        last: Token = history[-1]
        return last
    state = getattr(error, "state", None)
    stack = [v for v in getattr(state, "value_stack", None) or () if isinstance(v, Token)]
    return stack[-1] if stack else None


def _situation(error: UnexpectedInput, source: str, what: str) -> _At:
    if isinstance(error, UnexpectedToken):
        token = error.token
        expected = frozenset(str(n) for n in error.expected)
        return _At(source, token.start_pos or 0, _previous(error), expected, what, token)
    assert isinstance(error, UnexpectedCharacters)
    allowed = frozenset(str(n) for n in error.allowed or ())
    return _At(source, int(error.pos_in_stream or 0), _previous(error), allowed, what)


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
    at = _situation(error, source, what)
    if order_by:
        problem = _first(_ORDER_BY_RULES, at) or _not_a_key(at)
    elif at.token is not None:
        problem = _first(_TOKEN_RULES, at) or _unexpected_token(at)
    else:
        problem = _first(_CHARACTER_RULES, at) or _unexpected_character(at)
    return QuerySyntaxError(
        problem.message,
        code=problem.code,
        source=source,
        span=_inside(source, problem.start, problem.end),
        hint=problem.hint,
        where=where,
    )
