"""runql's parser against MLflow's, case by case, on the conformance corpora.

Every case marked ``"mlflow"`` says what MLflow's parser does with it; the first tests keep those marks true.
Then runql must decide the same at the parse stage, and read the same keys, operators and values, unless the
case names a difference (``diff`` / ``ast_diff``) that docs/compatibility.md explains under ``## Syntax``.
MLflow refuses some operators only when it evaluates; this module compares with its parser alone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import runql
from runql import And, Compare, Entity, In, IsNull, SortKey
from runql.errors import QueryError, UnsupportedQueryError
from runql.language.ast import Expr
from runql.language.attributes import ATTRIBUTE_ALIASES

pytest.importorskip("mlflow")
search_utils = pytest.importorskip("mlflow.utils.search_utils")
SearchUtils = search_utils.SearchUtils

from test_parse_corpus import FILTER_CASES, ORDER_BY_CASES, _case_id  # noqa: E402

COMPATIBILITY = Path(__file__).parents[2] / "docs" / "compatibility.md"
MARKED_FILTERS = [case for case in FILTER_CASES if "mlflow" in case]
MARKED_ORDER_BY = [case for case in ORDER_BY_CASES if "mlflow" in case]


def documented_differences() -> set[str]:
    text = COMPATIBILITY.read_text("utf-8")
    section = text.split("\n## Syntax\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `([a-z-]+)`:", section, flags=re.MULTILINE))


def mlflow_filter(text: str) -> tuple[str, list[dict[str, Any]]]:
    # Any exception counts as a refusal: MLflow lets a raw ValueError out for some lists.
    try:
        return "accept", SearchUtils.parse_search_filter(text)
    except Exception:
        return "reject", []


def mlflow_order_by(clauses: str | list[str]) -> tuple[str, list[tuple[str, str, bool]]]:
    parsed = []
    for clause in [clauses] if isinstance(clauses, str) else clauses:
        try:
            parsed.append(SearchUtils.parse_order_by_for_search_runs(clause))
        except Exception:
            return "reject", []
    return "accept", parsed


def runql_accepts(parse: Any, text: Any) -> tuple[str, Any]:
    try:
        return "accept", parse(text)
    except QueryError:
        return "reject", None


def conjuncts(expr: Expr | None) -> list[Expr]:
    if expr is None:
        return []
    if isinstance(expr, And):
        return [c for term in expr.terms for c in conjuncts(term)]
    return [expr]


def mlflow_key(kind: str, key: str) -> tuple[str, str]:
    return kind, ATTRIBUTE_ALIASES.get(key, key) if kind == Entity.ATTRIBUTE.value else key


def same_clause(ours: Expr, theirs: dict[str, Any]) -> bool:
    """Does runql's clause say what MLflow's parsed dict says (aliases resolved, operator case folded)?"""
    if not isinstance(ours, (Compare, In, IsNull)):
        return False
    if (ours.key.entity.value, ours.key.name) != mlflow_key(theirs["type"], theirs["key"]):
        return False
    comparator = " ".join(theirs["comparator"].upper().split())
    match ours:
        case Compare(_, op, literal):
            value = theirs["value"]
            if theirs["type"] == Entity.METRIC.value:  # MLflow keeps the number's text and floats it later
                return op.value == comparator and float(value) == float(literal.value)
            return op.value == comparator and value == literal.value and type(value) is type(literal.value)
        case In(_, values, negated):
            return (
                comparator == ("NOT IN" if negated else "IN")
                and tuple(v.value for v in values) == theirs["value"]
            )
        case IsNull(_, negated):
            return comparator == ("IS NOT NULL" if negated else "IS NULL")
    return False


def same_sort_key(ours: SortKey, theirs: tuple[str, str, bool]) -> bool:
    kind, key, ascending = theirs
    return (ours.key.entity.value, ours.key.name) == mlflow_key(
        kind, key
    ) and ours.descending is not ascending


@pytest.mark.parametrize("case", MARKED_FILTERS, ids=_case_id)
def test_filter_agrees_with_mlflow(case: dict[str, Any]) -> None:
    theirs, clauses = mlflow_filter(case["filter"])
    assert theirs == case["mlflow"], "the corpus mark no longer matches what MLflow does"
    ours, expr = runql_accepts(runql.parse_filter, case["filter"])
    if "diff" in case:
        assert ours != theirs, f"runql now agrees with MLflow: drop diff {case['diff']!r} from the case"
        assert case["diff"] in documented_differences()
        return
    assert ours == theirs, "runql and MLflow disagree: fix runql or mark and document the difference"
    if ours == "accept":
        mine = conjuncts(expr)
        agree = len(mine) == len(clauses) and all(map(same_clause, mine, clauses))
        if "ast_diff" in case:
            assert not agree and case["ast_diff"] in documented_differences()
        else:
            assert agree, f"runql reads {mine}, MLflow reads {clauses}"


@pytest.mark.parametrize("case", MARKED_ORDER_BY, ids=_case_id)
def test_order_by_agrees_with_mlflow(case: dict[str, Any]) -> None:
    theirs, parsed = mlflow_order_by(case["order_by"])
    assert theirs == case["mlflow"], "the corpus mark no longer matches what MLflow does"
    ours, keys = runql_accepts(runql.parse_order_by, case["order_by"])
    if "diff" in case:
        assert ours != theirs, f"runql now agrees with MLflow: drop diff {case['diff']!r} from the case"
        assert case["diff"] in documented_differences()
        return
    assert ours == theirs, "runql and MLflow disagree: fix runql or mark and document the difference"
    if ours == "accept":
        agree = len(keys) == len(parsed) and all(map(same_sort_key, keys, parsed))
        if "ast_diff" in case:
            assert not agree and case["ast_diff"] in documented_differences()
        else:
            assert agree, f"runql reads {keys}, MLflow reads {parsed}"


def test_every_documented_difference_has_a_case() -> None:
    used = {
        case[field]
        for case in FILTER_CASES + ORDER_BY_CASES
        for field in ("diff", "ast_diff")
        if field in case
    }
    assert used == documented_differences()


# Differences that compatibility.md leaves to the profile: the parser accepts, runql.validate refuses.
LEFT_TO_THE_PROFILE = [
    case for case in MARKED_FILTERS + MARKED_ORDER_BY if case.get("diff") in ("typed-later", "superset")
]


@pytest.mark.parametrize("case", LEFT_TO_THE_PROFILE, ids=_case_id)
def test_mlflow_profile_refuses_what_the_parser_leaves_to_it(case: dict[str, Any]) -> None:
    query = runql.parse(case.get("filter", ""), case.get("order_by"))
    with pytest.raises(UnsupportedQueryError):
        runql.validate(query, profile="mlflow")
