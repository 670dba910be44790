"""Inputs at the edges: numbers too long for int, order_by given as an iterator, spans of IS NULL, a key or
a function where a value belongs."""

from __future__ import annotations

import math

import pytest

import runql
from runql import Severity
from runql.errors import QuerySyntaxError


def test_a_number_longer_than_python_converts_reads_as_a_float() -> None:
    expr = runql.parse_filter("metrics.a = 1" + "0" * 5000)
    assert isinstance(expr, runql.Compare)
    assert expr.value.value == math.inf  # MLflow reads it with float() too


def test_a_huge_number_in_the_wrong_place_is_diagnosed() -> None:
    (problem,) = runql.check("params.p = 1" + "0" * 400)
    assert problem.code == "bad-value-type"
    assert "(401 digits)" in problem.message
    (quoted,) = runql.check("metrics.a = '" + "1" * 5000 + "'")
    assert quoted.code == "bad-value-type"


def test_order_by_may_be_any_iterable() -> None:
    query = runql.parse("", iter(["metrics.a", "params.b DESC"]))
    assert [(k.key.name, k.descending) for k in query.order_by] == [("a", False), ("b", True)]
    assert query.order_by_strings == ("metrics.a", "params.b DESC")
    lowered = runql.validate(None, order_by=(clause for clause in ["metrics.a DESC"]))
    assert [k.key.name for k in lowered.order_by] == ["a"]


def test_is_null_spans_the_whole_clause() -> None:
    for clause in ("tags.a IS NULL", "tags.a IS NOT NULL"):
        expr = runql.parse_filter(f"{clause} OR tags.b = 'x'")
        assert isinstance(expr, runql.Or)
        first = expr.terms[0].span
        assert first is not None and (first.start, first.end) == (0, len(clause))
    (problem,) = runql.check("tags.a IS NULL OR tags.b = 'x'")
    assert problem.code == "unsupported-or" and problem.span is not None and problem.span.column == 16


def test_a_repeated_order_by_key_names_the_clause_it_repeats() -> None:
    diagnostics = runql.check(None, order_by=["metrics.a", "metrics.a", "metrics.b", "metrics.b"])
    warnings = [d for d in diagnostics if d.severity is Severity.WARNING]
    assert [d.where for d in warnings] == ["order_by[1]", "order_by[3]"]
    assert "order_by[0]" in warnings[0].message and "order_by[2]" in warnings[1].message


# -- issue 22, finding 3 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "operand"),
    [
        ("max(metrics.m) != max(metrics.m)", "max(metrics.m)"),
        ("metrics.auc > max(metrics.f1)", "max(metrics.f1)"),
        ("metrics.auc > at_step(metrics.f1, 10) AND params.p = 'x'", "at_step(metrics.f1, 10)"),
        ("params.p = foo(metrics.f1)", "foo(metrics.f1)"),
    ],
)
def test_a_function_on_the_right_is_a_second_operand_not_an_unquoted_value(text: str, operand: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        runql.parse_filter(text)
    error = caught.value
    assert error.message == f"a function, {operand!r}, where a value belongs"
    assert error.hint == (
        "a condition compares a key or a function with a quoted string or a number, never with another "
        "key or function"
    )
    assert error.span is not None and text[error.span.start : error.span.end] == operand


def test_a_key_on_the_right_says_the_same() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        runql.parse_filter("metrics.auc > metrics.f1")
    assert caught.value.message == "a key, 'metrics.f1', where a value belongs"
    assert "never with another key" in caught.value.hint


def test_a_bare_word_with_parentheses_is_still_an_unquoted_value() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        runql.parse_filter("params.p = foo(bar)")
    assert caught.value.hint == "quote string values: 'foo(bar)'"
