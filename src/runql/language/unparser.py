"""AST to text: the canonical ``filter_string`` or ``order_by`` clause of a node.

The canonical form writes every prefix in full (``attributes.status``), operators in upper case,
keys quoted only where the plain form would read differently, and parentheses only where
precedence needs them, so that ``parse(unparse(q)) == q``.
"""

from __future__ import annotations

import math
import re

from runql.errors import QueryValueError
from runql.language.ast import (
    And,
    Compare,
    Entity,
    Expr,
    In,
    IsNull,
    Key,
    Literal,
    Not,
    Or,
    Query,
    SortKey,
    assert_never,
    nesting_error,
    too_deep,
)
from runql.language.attributes import ATTRIBUTE_ALIASES
from runql.language.parser import parse_filter

__all__ = ["and_all", "unparse"]

PLAIN_KEY = re.compile(r"\w*[^\W\d]\w*(?:\.\w*[^\W\d]\w*)*")
"""A key name that needs no quotes: dot-separated words, each holding a letter."""

_QUOTES_HINT = "quotes are never unescaped: a text may not hold both ' and \", nor end with \\"


def _unwritable(what: str, value: str, hint: str = _QUOTES_HINT) -> QueryValueError:
    return QueryValueError(
        f"the {what} {value} cannot be written in MLflow's filter syntax", code="unwritable", hint=hint
    )


def unparse_key(key: Key) -> str:
    """The canonical text of a key: ``metrics.acc``, ``params.`my key```, ``min(metrics.loss)``.

    A name no quoting can write, or an attribute alias (which the parser would read as another
    attribute), is a :class:`QueryValueError` with the code ``unwritable``.
    """
    if key.aggregate is not None:
        metric = _plain_key(key.metric)
        if key.step is not None:
            return f"{key.aggregate.value}({metric}, {key.step})"
        return f"{key.aggregate.value}({metric})"
    return _plain_key(key)


def _plain_key(key: Key) -> str:
    name = key.name
    if key.entity is Entity.ATTRIBUTE and name in ATTRIBUTE_ALIASES:
        canonical = ATTRIBUTE_ALIASES[name]
        raise _unwritable(
            "attribute name", repr(name), f"the parser reads {name!r} as {canonical}: write {canonical}"
        )
    if PLAIN_KEY.fullmatch(name):
        return f"{key.entity.prefix}.{name}"
    if "`" not in name:
        return f"{key.entity.prefix}.`{name}`"
    # The parser strips a pair of double quotes, then a pair of backticks, as MLflow does.
    if '"' not in name and not name.endswith("\\") and not (len(name) > 1 and name[0] == name[-1] == "`"):
        return f'{key.entity.prefix}."{name}"'
    raise _unwritable(
        "key", repr(name), 'a quoted name may not hold both ` and ", start and end with `, nor end with \\'
    )


def _number(value: int | float) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _unwritable("number", repr(value), "NaN and infinity have no literal in the filter syntax")
        return repr(value).replace("e+", "e")
    return str(value)


def unparse_literal(literal: Literal, in_list: bool = False) -> str:
    """The canonical text of a value: a number as Python writes it, a string in quotes; ``in_list``
    writes a string as an item of an IN list (a Python literal, escapes included).

    NaN, infinity and, outside a list, a string no quotes can hold (both ``'`` and ``"``, or a final
    backslash) are a :class:`QueryValueError` with the code ``unwritable``; a value of another type is
    ``bad-value-type``.
    """
    value = literal.value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QueryValueError(f"{value!r} is not a filter value", code="bad-value-type")
    if not isinstance(value, str):
        return _number(value)
    if in_list:  # list items are read with Python's literal rules, escapes included
        return repr(value)
    if value.endswith("\\"):
        raise _unwritable("string", repr(value))
    for quote in "'\"":
        if quote not in value:
            return f"{quote}{value}{quote}"
    raise _unwritable("string", value)


def _clause(node: Compare | In | IsNull) -> str:
    key = unparse_key(node.key)
    if isinstance(node, Compare):
        return f"{key} {node.op.value} {unparse_literal(node.value)}"
    if isinstance(node, In):
        items = ", ".join(unparse_literal(v, in_list=True) for v in node.values)
        return f"{key} {'NOT IN' if node.negated else 'IN'} ({items})"
    return f"{key} IS {'NOT NULL' if node.negated else 'NULL'}"


def unparse_expr(expr: Expr) -> str:
    """The canonical text of a filter expression; a tree nested past MAX_NESTING is refused."""
    deep = too_deep(expr)
    if deep is not None:
        raise nesting_error(deep, "", "", QueryValueError)
    return _expr_text(expr)


def _expr_text(expr: Expr) -> str:
    match expr:
        case Compare() | In() | IsNull():
            return _clause(expr)
        case And(terms):
            return " AND ".join(
                f"({_expr_text(t)})" if isinstance(t, (And, Or)) else _expr_text(t) for t in terms
            )
        case Or(terms):
            return " OR ".join(f"({_expr_text(t)})" if isinstance(t, Or) else _expr_text(t) for t in terms)
        case Not(term):
            inner = _expr_text(term)
            return f"NOT ({inner})" if isinstance(term, (And, Or)) else f"NOT {inner}"
        case _:
            assert_never(expr)


def unparse(node: Expr | Key | Literal | SortKey | None) -> str:
    """The canonical text of a filter expression, a key, a value or one order_by clause."""
    match node:
        case None:
            return ""
        case SortKey(key, descending):
            return f"{unparse_key(key)}{' DESC' if descending else ''}"
        case Key():
            return unparse_key(node)
        case Literal():
            return unparse_literal(node)
        case Query():
            raise TypeError("unparse a Query with unparse_query(), which returns both parts")
        case _:
            return unparse_expr(node)


def unparse_query(query: Query) -> tuple[str, list[str]]:
    """``(filter_string, order_by)`` for a whole query."""
    return unparse(query.filter), [unparse(sort_key) for sort_key in query.order_by]


def and_all(*filters: str | None) -> str:
    """One filter_string that selects what every one of ``filters`` selects: each is parsed, so a filter
    is refused rather than allowed to escape the others (``"a) OR (b"`` is a syntax error, ``"a OR b"``
    stays grouped), and the conjunction written canonically. Empty and None filters select everything and
    are left out; with none left the answer is ``""``.

    This is how a server narrows a user's filter to a permission scope: ``and_all(user_filter, scope)``,
    never ``f"{user_filter} AND {scope}"``, which ``a OR b`` turns into ``a OR (b AND scope)``.
    """
    terms: list[Expr] = []
    for text in filters:
        expr = parse_filter(text) if text is not None and text.strip() else None
        if isinstance(expr, And):
            terms.extend(expr.terms)
        elif expr is not None:
            terms.append(expr)
    if not terms:
        return ""
    return unparse_expr(terms[0] if len(terms) == 1 else And(tuple(terms)))
