"""RLIKE: RE2's regular expressions in the extended profile (issue 15). Its meaning against Python's ``re``
where the two agree, the places they differ, linear time on hostile patterns, the refusals, and the command.
The engines on databases and Spark are tested beside their other queries (test_sql_store.py, test_spark.py).
"""

from __future__ import annotations

import json
import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.commands import run_command
from support.costs import cpu_cost, grows_linearly
from support.shaped_runs import shaped_run

import runql
from runql.common import regex
from runql.engines import semantics
from runql.engines.columnar import ColumnarRuns
from runql.errors import EvaluationError, MissingDependencyError, UnsupportedQueryError
from runql.language.ast import Op

# -- RE2's meaning against Python's re, on the syntax both read alike --------------------------------

_ALPHABET = ["a", "b", "A", "B", "1", "_", "-", " ", ".", "é", "\n"]


def _atom() -> st.SearchStrategy[str]:
    literal = st.sampled_from(_ALPHABET).map(lambda c: re.escape(c) if c in ".-" else c)
    classes = st.sampled_from(["[ab]", "[^a]", "[a-b1]", "[A-Z]", "[.é]", "."])
    return st.one_of(literal, classes)


def _pattern() -> st.SearchStrategy[str]:
    """Patterns with literals, classes, groups, alternation, repetition and a start anchor: not ``$`` nor
    ``\\d \\w \\s \\b``, where RE2 and re differ (tested apart below)."""
    repeated = st.tuples(_atom(), st.sampled_from(["", "", "*", "+", "?", "{1,2}", "*?"])).map("".join)
    sequence = st.lists(repeated, min_size=1, max_size=4).map("".join)
    grouped = st.recursive(
        sequence,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map("|".join),
            st.tuples(inner, st.sampled_from(["", "*", "+", "?"])).map(lambda p: f"({p[0]}){p[1]}"),
            st.tuples(inner, inner).map(lambda p: f"(?:{p[0]}){p[1]}"),
        ),
        max_leaves=4,
    )
    return st.tuples(st.sampled_from(["", "^", "(?i)", "(?s)"]), grouped).map("".join)


@settings(max_examples=500, derandomize=True)
@given(_pattern(), st.lists(st.text(st.sampled_from(_ALPHABET), max_size=8), min_size=1, max_size=6))
def test_rlike_agrees_with_pythons_re_search(pattern: str, values: list[str]) -> None:
    search = semantics.pattern_matcher(Op.RLIKE, pattern)
    unmatched = semantics.pattern_matcher(Op.NOT_RLIKE, pattern)
    for value in values:
        expected = re.search(pattern, value) is not None
        assert search(value) is expected, (pattern, value)
        assert unmatched(value) is not expected, (pattern, value)


@pytest.mark.parametrize(
    ("pattern", "value", "rlike", "python"),
    [
        ("a$", "a\n", False, True),  # RE2's $ is the end of the text only
        ("^\\d+$", "\u0663", False, True),  # an Arabic-Indic digit: RE2's \d is ASCII
        ("\\w", "é", False, True),
        ("(?i)k", "\u212a", True, True),  # KELVIN SIGN folds to k in both
        ("a.b", "a\nb", False, False),  # . stops at a newline in both; (?s) crosses it
        ("(?s)a.b", "a\nb", True, True),
    ],
)
def test_where_rlike_and_python_differ_is_written_down(
    pattern: str, value: str, rlike: bool, python: bool
) -> None:
    assert semantics.pattern_matcher(Op.RLIKE, pattern)(value) is rlike
    assert (re.search(pattern, value) is not None) is python


def test_a_lone_surrogate_is_matched_not_raised() -> None:
    assert semantics.pattern_matcher(Op.RLIKE, "a")("\ud800a") is True
    assert semantics.pattern_matcher(Op.RLIKE, "^b")("\ud800a") is False


# -- linear time -------------------------------------------------------------------------------------


def test_a_catastrophic_pattern_answers_at_once() -> None:
    """``(a+)+$`` against 10,000 ``a``s then ``b``: Python's re would backtrack for ages (2^10000 ways)."""
    runs = [shaped_run("r1", tags={"x": "a" * 10_000 + "b"}), shaped_run("r2", tags={"x": "a" * 10_000})]
    text = "tags.x RLIKE '(a+)+$'"
    assert cpu_cost(lambda: runql.search(runs, text, profile="extended"), repeat=1) < 1.0
    assert [r.info.run_id for r in runql.search(runs, text, profile="extended")[0]] == ["r2"]
    compiled = runql.compile(text, profile="extended")
    assert [r.info.run_id for r in ColumnarRuns(runs).select(compiled)] == ["r2"]


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)+c", "(x+x+)+y"])
def test_rlike_cost_grows_linearly_with_the_value(pattern: str) -> None:
    values = {n: ["a" * n + str(i) + "b" for i in range(50)] for n in (2_000, 16_000)}
    match = semantics.pattern_matcher(Op.RLIKE, pattern)
    grows_linearly(lambda n: cpu_cost(lambda: [match(v) for v in values[n]]), 2_000)


def test_the_compiled_patterns_kept_are_bounded_by_size() -> None:
    big = "a" * 200_000
    for i in range(12):
        regex.regex_search(big + str(i))
    cache = regex.regex_search
    assert cache.total <= regex.REGEX_CACHE_BUDGET
    assert len(cache) <= regex.REGEX_CACHE_BUDGET // 200_000


# -- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(a)\\1", "invalid escape sequence"),
        ("(?=a)b", "invalid perl operator"),
        ("a{1001}", "invalid repetition size"),
        ("(", "missing )"),
        ("((a{100}){100})", "invalid repetition size"),
        ("\\pL{1000}", "pattern too large"),  # more than RE2's 8 MiB for one pattern
    ],
)
def test_a_pattern_re2_cannot_take_is_refused_under_the_pattern(pattern: str, reason: str) -> None:
    text = f"params.model RLIKE '{pattern}'"
    with pytest.raises(UnsupportedQueryError) as caught:
        runql.validate(text, "extended")
    (problem,) = caught.value.diagnostics
    assert problem.code == "bad-regex"
    assert reason in problem.message
    assert (problem.span.start, problem.span.end) == (19, len(text))


def test_an_unvalidated_tree_with_a_bad_pattern_is_an_evaluation_error() -> None:
    with pytest.raises(EvaluationError) as caught:
        semantics.pattern_matcher(Op.RLIKE, "(a)\\1")
    assert caught.value.code == "bad-regex"


@pytest.mark.parametrize("profile", ["mlflow", "azureml"])
def test_mlflow_and_azureml_refuse_rlike_with_a_caret_under_it(profile: str) -> None:
    with pytest.raises(UnsupportedQueryError) as caught:
        runql.validate("params.model NOT RLIKE 'x'", profile)
    assert [d.code for d in caught.value.diagnostics] == ["unsupported-operator"]
    assert "^^^^^^^^^" in str(caught.value)


def test_without_re2_rlike_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "re2", None)  # import re2 now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"runql\[regex\]"):
        runql.validate("params.model RLIKE 'not-yet-compiled-\\d'", "extended")


def test_rlike_round_trips_through_unparse() -> None:
    text = "params.model RLIKE '^x\\d+$' AND NOT tags.note NOT RLIKE '(?i)a|b'"
    query = runql.parse(text)
    assert runql.unparse_query(query)[0] == text
    assert runql.parse(runql.unparse_query(query)[0]) == query


# -- the command ------------------------------------------------------------------------------------


def test_the_command_answers_and_checks_rlike() -> None:
    found = run_command(
        "runs",
        "--profile",
        "extended",
        "--filter",
        "params.model RLIKE '^(xgboost|lightgbm)$'",
        "--columns",
        "params.model",
        "--format",
        "json",
    )
    assert found.returncode == 0, found.stderr
    models = {row["params.model"] for row in json.loads(found.stdout)}
    assert models == {"xgboost", "lightgbm"}
    refused = run_command("check", "params.model RLIKE '(a)\\1'", "--profile", "extended")
    assert refused.returncode != 0
    assert "bad-regex" in refused.stdout + refused.stderr


def test_rlike_on_experiments() -> None:
    workspace = runql.Workspace.sample()
    found = workspace.search_experiments(filter_string="name RLIKE '-'", profile="extended")
    every = workspace.search_experiments(profile="extended")
    assert {e.name for e in found} == {e.name for e in every if "-" in e.name} != set()
    assert workspace.search_experiments(filter_string="name NOT RLIKE '(?i)^[a-z]'", profile="extended") == []


def test_escape_makes_a_pattern_of_the_text_itself() -> None:
    text = "a.b*c+(d)[e]{f}|g?^h$\\i"
    assert regex.escape(text) == re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", text)
    assert semantics.pattern_matcher(Op.RLIKE, f"^{regex.escape(text)}$")(text) is True
    assert semantics.pattern_matcher(Op.RLIKE, regex.escape("a.b"))("axb") is False
