"""The parse corpora in tests/conformance/: each text parses to its tree or fails with its code and column.

Each case names itself (``name``) and says what it expects (``expect``): ``{"ast": ...}`` or
``{"sort": ...}``, or ``{"error": ...}``, as tests/conformance/README.md describes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import runql
from runql import And, Compare, Entity, In, IsNull, Key, Literal, Not, Op, Or, SortKey
from runql.errors import QueryError
from runql.language.ast import Expr

CONFORMANCE = Path(__file__).parents[1] / "conformance"
FILTER_CASES: list[dict[str, Any]] = json.loads((CONFORMANCE / "filters.json").read_text("utf-8"))["cases"]
ORDER_BY_CASES: list[dict[str, Any]] = json.loads((CONFORMANCE / "order_by.json").read_text("utf-8"))["cases"]

_NEGATED = {"in": False, "not in": True, "is null": False, "is not null": True}


def to_ast(node: Any) -> Expr | None:
    """The runql tree a compact corpus tree stands for."""
    if node is None:
        return None
    head, *rest = node
    if head == "and":
        return And(tuple(to_ast(t) for t in rest))  # type: ignore[misc]
    if head == "or":
        return Or(tuple(to_ast(t) for t in rest))  # type: ignore[misc]
    if head == "not":
        (term,) = rest
        return Not(to_ast(term))  # type: ignore[arg-type]
    key = Key(Entity(rest[0]), rest[1])
    if head == "cmp":
        return Compare(key, Op(rest[2]), Literal(rest[3]))
    if head in ("in", "not in"):
        return In(key, tuple(Literal(v) for v in rest[2]), _NEGATED[head])
    if head in ("is null", "is not null"):
        return IsNull(key, _NEGATED[head])
    raise AssertionError(f"unknown corpus node {head!r}")


def to_sort_keys(rows: list[list[str]]) -> tuple[SortKey, ...]:
    return tuple(SortKey(Key(Entity(entity), name), direction == "desc") for entity, name, direction in rows)


def literal_types(node: Any) -> list[str]:
    """The Python type of every literal, left to right: equality alone would let 5 stand for 5.0."""
    match node:
        case Literal(value):
            return [type(value).__name__]
        case Compare(_, _, value):
            return literal_types(value)
        case In(_, values):
            return [t for v in values for t in literal_types(v)]
        case And(terms) | Or(terms):
            return [t for term in terms for t in literal_types(term)]
        case Not(term):
            return literal_types(term)
        case _:
            return []


def _case_id(case: dict[str, Any]) -> str:
    return str(case["name"])


def _check_error(error: QueryError, expected: dict[str, Any], source: str) -> None:
    assert error.code == expected["code"], str(error)
    assert error.column == expected["column"], str(error)
    assert error.span is not None
    assert error.span.line == expected.get("line", 1), str(error)
    assert 0 <= error.span.start <= error.span.end <= len(source), error.span
    assert error.hint or error.code in ("unexpected-end", "syntax"), f"no hint: {error}"
    if source.strip():  # the rendered error shows the offending line
        assert source.splitlines()[error.span.line - 1] in str(error)


@pytest.mark.parametrize("case", FILTER_CASES, ids=_case_id)
def test_filter_case(case: dict[str, Any]) -> None:
    text, expect = case["filter"], case["expect"]
    if "error" in expect:
        with pytest.raises(QueryError) as caught:
            runql.parse_filter(text)
        _check_error(caught.value, expect["error"], text)
        return
    expected = to_ast(expect["ast"])
    parsed = runql.parse_filter(text)
    assert parsed == expected
    assert literal_types(parsed) == literal_types(expected)


@pytest.mark.parametrize("case", ORDER_BY_CASES, ids=_case_id)
def test_order_by_case(case: dict[str, Any]) -> None:
    clauses, expect = case["order_by"], case["expect"]
    if "error" in expect:
        with pytest.raises(QueryError) as caught:
            runql.parse_order_by(clauses)
        error = caught.value
        expected = expect["error"]
        assert error.where == expected.get("where", "order_by")
        _check_error(error, expected, error.source)
        return
    assert runql.parse_order_by(clauses) == to_sort_keys(expect["sort"])


def test_corpus_size_and_shape() -> None:
    assert len(FILTER_CASES) >= 170
    assert len(ORDER_BY_CASES) >= 45
    for case in FILTER_CASES:
        assert set(case["expect"]) in ({"ast"}, {"error"}), case
    for case in ORDER_BY_CASES:
        assert set(case["expect"]) in ({"sort"}, {"error"}), case
    for case in FILTER_CASES + ORDER_BY_CASES:
        assert case.get("mlflow", "accept") in ("accept", "reject"), case
    texts = [case["filter"] for case in FILTER_CASES]
    assert len(texts) == len(set(texts)), "duplicate filter cases"


def test_corpus_covers_every_parser_error_code() -> None:
    codes = {c["expect"]["error"]["code"] for c in FILTER_CASES + ORDER_BY_CASES if "error" in c["expect"]}
    assert codes >= {
        "syntax",
        "unexpected-end",
        "unterminated-string",
        "unknown-key-type",
        "unquoted-value",
        "empty-list",
        "bad-list",
        "bad-number",
    }


def test_parse_builds_a_query_from_both_corpora() -> None:
    filters = [c for c in FILTER_CASES if "ast" in c["expect"]]
    orders = [c for c in ORDER_BY_CASES if "sort" in c["expect"]]
    for f_case, o_case in zip(filters, orders, strict=False):  # pairs until the shorter list ends
        query = runql.parse(f_case["filter"], o_case["order_by"])
        assert query.filter == to_ast(f_case["expect"]["ast"])
        assert query.order_by == to_sort_keys(o_case["expect"]["sort"])
        assert query.filter_string == f_case["filter"]
