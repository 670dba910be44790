"""Properties of the parser: it never fails with anything but a QueryError, and unparse inverts it."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark
from test_parse_corpus import FILTER_CASES, ORDER_BY_CASES

import runql
from runql import And, Compare, Entity, In, IsNull, Key, Literal, Not, Op, Or, SortKey, unparse
from runql.errors import QueryError, QueryValueError
from runql.language.ast import Expr
from runql.language.grammar import SOURCE_GRAMMAR_DIR, grammar_origin


def grammar(name: str) -> Lark:
    """The grammar file ``name`` that runql reads (from the installed package, or the checkout), read
    afresh: hypothesis draws from the rules, which a parser loaded from runql's cache of parse tables
    does not keep."""
    if grammar_origin() == "package":
        return Lark.open_from_package("runql", f"{name}.lark", ("grammar",), parser="lalr")
    return Lark.open(str(SOURCE_GRAMMAR_DIR / f"{name}.lark"), parser="lalr")


def _cased(*words: str) -> st.SearchStrategy[str]:
    return st.sampled_from(words).flatmap(
        lambda word: st.sampled_from([word.upper(), word.lower(), word.capitalize()])
    )


_SPACE = st.sampled_from([" ", "  ", "\t", "\n"])
# Terminals whose regular expressions use lookarounds or word boundaries, which hypothesis cannot draw from.
EXPLICIT: dict[str, st.SearchStrategy[str]] = {
    "NUMBER": st.from_regex(r"-?(?:\d+(?:\.\d+)?[eE]-?\d+|\d+\.\d*|\.\d+|\d+)", fullmatch=True),
    "COMPARATOR": st.sampled_from(["!=", ">=", "<=", "=", "<", ">"]) | _cased("like", "ilike"),
    "NOT_PATTERN": st.tuples(_cased("not"), _SPACE, _cased("like", "ilike")).map("".join),
    "NOT_IN": st.tuples(_cased("not"), _SPACE, _cased("in")).map("".join),
    "NOT_NULL": st.tuples(_cased("not"), _SPACE, _cased("null")).map("".join),
    "NOT": _cased("not"),
    "_AND": _cased("and"),
    "OR": _cased("or"),
    "IN": _cased("in"),
    "IS": _cased("is"),
    "NULL": _cased("null"),
}
# Whole filters drawn by from_lark run to thousands of characters and take seconds each; so clauses come
# from the grammar and are joined here with the grammar's own AND / OR / NOT / parenthesis terminals.
CLAUSE_TEXTS = from_lark(grammar("filter"), explicit=EXPLICIT, start="clause")
_GAP = st.sampled_from(["", " ", "  ", "\n"])


def _joined(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def infix(keyword: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.tuples(inner, _SPACE, keyword, _SPACE, inner).map("".join)

    return st.one_of(
        infix(EXPLICIT["_AND"]),
        infix(EXPLICIT["OR"]),
        st.tuples(EXPLICIT["NOT"], _SPACE, inner).map("".join),
        st.tuples(st.just("("), _GAP, inner, _GAP, st.just(")")).map("".join),
    )


FILTER_TEXTS = st.tuples(_GAP, st.recursive(CLAUSE_TEXTS, _joined, max_leaves=4), _GAP).map("".join)
ORDER_BY_TEXTS = from_lark(grammar("order_by"), explicit={"DIRECTION": _cased("asc", "desc")})


def _parses_or_points_inside(parse: Any, text: Any, source: str) -> None:
    try:
        parse(text)
    except QueryError as error:
        assert error.span is not None, error
        assert 0 <= error.span.start <= error.span.end <= len(source), (error.span, source)
        assert error.code and error.code == error.code.lower(), error.code
        str(error)  # rendering never fails


@settings(max_examples=100)
@given(FILTER_TEXTS)
def test_grammar_strings_parse_or_fail_inside_the_text(text: str) -> None:
    _parses_or_points_inside(runql.parse_filter, text, text)


@settings(max_examples=75)
@given(ORDER_BY_TEXTS)
def test_grammar_order_by_strings_parse_or_fail_inside_the_text(text: str) -> None:
    _parses_or_points_inside(runql.parse_order_by, [text], text)


@given(st.text())
def test_any_text_fails_only_with_query_errors(text: str) -> None:
    _parses_or_points_inside(runql.parse_filter, text, text)
    _parses_or_points_inside(runql.parse_order_by, [text], text)


_CORPUS_TEXTS = [c["filter"] for c in FILTER_CASES] + [
    clause
    for c in ORDER_BY_CASES
    for clause in ([c["order_by"]] if isinstance(c["order_by"], str) else c["order_by"])
]
_TRICKY = st.sampled_from(list("'\"`().,;=!<>-+_ \t\n\\eE0aZ日")) | st.characters()


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """A corpus text with one character inserted, deleted or replaced."""
    text = draw(st.sampled_from(_CORPUS_TEXTS))
    pos = draw(st.integers(0, len(text)))
    edit = draw(st.sampled_from(["insert", "delete", "replace"]))
    if edit == "insert" or not text:
        return text[:pos] + draw(_TRICKY) + text[pos:]
    pos = min(pos, len(text) - 1)
    return text[:pos] + ("" if edit == "delete" else draw(_TRICKY)) + text[pos + 1 :]


@settings(max_examples=300)
@given(near_misses())
def test_near_misses_fail_only_with_query_errors(text: str) -> None:
    _parses_or_points_inside(runql.parse_filter, text, text)
    _parses_or_points_inside(runql.parse_order_by, [text], text)


# Generated trees: every node the parser can build.
_NAME = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8
) | st.sampled_from(
    ["auc", "mlflow.runName", "a b", "and", "from", "run_id", "start_time", "1a", "日本", "x-y", "`q`", ""]
)
KEYS = st.builds(Key, st.sampled_from(list(Entity)), _NAME)
_STRING = st.text(max_size=10) | st.sampled_from(["", "it's", 'say "hi"', "a\\b", "100%", "x_y"])
_NUMBER = st.integers(-(10**20), 10**20) | st.floats(allow_nan=False, allow_infinity=False)
LITERALS = st.builds(Literal, _STRING | _NUMBER)
CLAUSES: st.SearchStrategy[Expr] = st.one_of(
    st.builds(Compare, KEYS, st.sampled_from(list(Op)), LITERALS),
    st.builds(In, KEYS, st.lists(LITERALS, min_size=1, max_size=3).map(tuple), st.booleans()),
    st.builds(IsNull, KEYS, st.booleans()),
)
EXPRESSIONS: st.SearchStrategy[Expr] = st.recursive(
    CLAUSES,
    lambda inner: st.one_of(
        st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(Or, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(Not, inner),
    ),
    max_leaves=6,
)


def _written(node: Any) -> str:
    try:
        return unparse(node)
    except QueryValueError as error:
        assert error.code == "unwritable", error
        assume(False)
        raise


@given(EXPRESSIONS)
def test_unparse_then_parse_gives_the_tree_back(expr: Expr) -> None:
    text = _written(expr)
    assert runql.parse_filter(text) == expr, text


@given(st.builds(SortKey, KEYS, st.booleans()))
def test_unparse_then_parse_gives_the_sort_key_back(sort_key: SortKey) -> None:
    assert runql.parse_order_by([_written(sort_key)]) == (sort_key,)
