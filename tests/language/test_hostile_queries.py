"""Hostile queries: what an embedding server's users can send ends in an answer or a runql error,
quickly and in bounded memory (issue 12, the query side). Each test replays one reproducer."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow.utils.search_utils import SearchUtils
from support.costs import cpu_cost, grows_linearly
from support.shaped_runs import shaped_run

import runql
from runql.engines import semantics
from runql.errors import ArgumentError, QuerySyntaxError, QueryValueError, UnsupportedQueryError
from runql.language import parser as parse_module
from runql.language.ast import MAX_NESTING, And, Compare, Entity, Key, Literal, Not, Op
from runql.language.unparser import unparse
from runql.model.entities import Run, RunData, RunInfo, RunInputs
from runql.model.paging import parse_page_token
from runql.profiles.catalog import get_profile

# -- helpers -----------------------------------------------------------------------------------------


def _mlflow_like(value: str, pattern: str, ignore_case: bool) -> bool:
    compare = SearchUtils.get_comparison_func("ILIKE" if ignore_case else "LIKE")
    return bool(compare(value, pattern))


# -- 1. LIKE without backtracking ---------------------------------------------------------------------

_PATTERN_CHARS = st.sampled_from(["%", "_", "a", "b", "A", "\n", "#", ".", "\u212a", "k", "\u017f", "s"])
_VALUE_CHARS = st.sampled_from(["a", "b", "A", "\n", "#", ".", "\u212a", "k", "K", "\u017f", "s", "S"])


@settings(max_examples=400)
@given(st.text(_PATTERN_CHARS, max_size=8), st.text(_VALUE_CHARS, max_size=10), st.booleans())
def test_like_means_what_mlflow_means(pattern: str, value: str, ignore_case: bool) -> None:
    op = Op.ILIKE if ignore_case else Op.LIKE
    assert semantics.pattern_matcher(op, pattern)(value) == _mlflow_like(value, pattern, ignore_case)
    negated = Op.NOT_ILIKE if ignore_case else Op.NOT_LIKE
    assert semantics.pattern_matcher(negated, pattern)(value) != _mlflow_like(value, pattern, ignore_case)


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        ("%_%_%_%_%_%_%_%#", "x" * 20_000),  # 11.5 s on 277 run ids before
        ("%a%a%a%a%b", "a" * 4_000),  # 74 s on 400 characters before
        ("%" + "_" * 3_000 + "#%", "x" * 20_000),
        ("%a" + "_a" * 500 + "#%", "a" * 20_000),
    ],
    ids=["issue-run-id", "issue-tag", "wildcards-then-literal", "interior-wildcards"],
)
def test_pathological_like_patterns_answer_at_once(pattern: str, value: str) -> None:
    for op in (Op.LIKE, Op.ILIKE):
        match = semantics.pattern_matcher(op, pattern)
        assert cpu_cost(lambda match=match: match(value), repeat=1) < 1.0
        assert match(value) is False


@pytest.mark.parametrize("pattern", ["%_%_%_%_%_%_%_%#", "%a%a%a%a%b", "%a_a_a%b_"])
def test_like_cost_grows_linearly_with_the_value(pattern: str) -> None:
    values = {n: ["a" * n + str(i) for i in range(50)] for n in (400, 3_200)}
    match = semantics.pattern_matcher(Op.LIKE, pattern)
    grows_linearly(lambda n: cpu_cost(lambda: [match(v) for v in values[n]]), 400)


@pytest.fixture(scope="module")
def long_tag_runs() -> dict[int, list[Any]]:
    return {n: [shaped_run(f"r{i}", tags={"x": "a" * n + str(i)}) for i in range(40)] for n in (300, 2_400)}


@pytest.mark.parametrize("engine", ["reference", "columnar"])
def test_search_with_pathological_likegrows_linearly(
    engine: str, long_tag_runs: dict[int, list[Any]]
) -> None:
    query = "tags.x LIKE '%a%a%a%a%a%b'"

    def cost(n: int) -> float:
        runs = long_tag_runs[n]
        if engine == "reference":
            return cpu_cost(lambda: runql.search(runs, query))
        from runql.engines.columnar import ColumnarRuns

        compiled = runql.compile(query)
        return cpu_cost(lambda: ColumnarRuns(runs).select(compiled))

    grows_linearly(cost, 300)


def test_the_like_cache_is_bounded_by_size() -> None:
    big = "%" + "a_" * 100_000 + "%"  # a 200 KB pattern
    for i in range(12):
        semantics.pattern_matcher(Op.LIKE, big + str(i))("abc")
    cache = semantics._like_pattern
    assert cache.total <= semantics.LIKE_CACHE_BUDGET
    assert len(cache) <= semantics.LIKE_CACHE_BUDGET // 200_000


# -- 3. recursion ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filter_string",
    [
        "NOT " * 330 + "metrics.a > 1",
        "NOT (" * 150 + "metrics.a > 1" + ")" * 150,
        "(metrics.a > 1 AND " * 150 + "metrics.b > 1" + ")" * 150,
        "NOT " * 20_000 + "metrics.a > 1",
    ],
    ids=["not-330", "not-parentheses", "and-parentheses", "not-20000"],
)
@pytest.mark.parametrize("profile", ["mlflow", "extended"])
def test_deep_nesting_is_a_clean_error(filter_string: str, profile: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        runql.search([shaped_run("r1", a=2.0)], filter_string, profile=profile)
    assert caught.value.code == "too-deep"
    span = caught.value.span
    assert span is not None and 0 <= span.start < len(filter_string)


def test_nesting_up_to_the_limit_is_answered_everywhere() -> None:
    depth = MAX_NESTING - 1  # NOTs, plus the comparison itself
    text = "NOT " * depth + "metrics.a > 1"
    runs = [shaped_run("r1", a=2.0), shaped_run("r2", a=0.0)]
    tree = runql.parse_filter(text)
    assert runql.parse_filter(unparse(tree)) == tree
    assert runql.check(text, "extended") == []
    selected, _ = runql.search(runs, text, profile="extended")
    assert [r.info.run_id for r in selected] == ["r2"]  # an odd number of NOTs
    ws = runql.Workspace()
    ws.create_experiment("e")
    run_id = ws.create_run("1").info.run_id
    ws.log_metric(run_id, "a", 0.0)
    assert len(ws.search_runs(["1"], text, profile="extended", output_format="list")) == 1


def test_a_tree_built_deep_by_hand_is_refused_not_recursed() -> None:
    tree: Any = Compare(Key(Entity.METRIC, "a"), Op.GT, Literal(1))
    for _ in range(5_000):
        tree = Not(tree)
    for action in (
        lambda: runql.validate(tree, "extended"),
        lambda: runql.check(tree, "extended"),
        lambda: unparse(tree),
        lambda: runql.search([shaped_run("r1", a=2.0)], unparse(tree), profile="extended"),
    ):
        with pytest.raises((QueryValueError, QuerySyntaxError)) as caught:
            action()
        assert caught.value.code == "too-deep"
    wide: Any = Compare(Key(Entity.METRIC, "a"), Op.GT, Literal(1))
    for _ in range(5_000):
        wide = And((wide, Compare(Key(Entity.METRIC, "b"), Op.GT, Literal(1))))
    with pytest.raises(QueryValueError, match="nest deeper"):
        runql.validate(wide, "extended")


def test_the_cli_prints_the_error_not_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "runql", "check", "NOT " * 330 + "metrics.a > 1", "--profile", "extended"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "too-deep" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


# -- 4. long integer literals ------------------------------------------------------------------------

BIG = "1" + "0" * 400


@pytest.fixture(scope="module")
def sample() -> runql.Workspace:
    return runql.Workspace.sample()


def test_a_long_integer_reads_as_infinity_like_mlflow(sample: runql.Workspace) -> None:
    runs = sample.search_runs(search_all_experiments=True, output_format="list", max_results=None)
    with_auc = [r for r in runs if "auc" in r.data.metrics and r.data.metrics["auc"] == r.data.metrics["auc"]]
    mlflow_says = SearchUtils.filter(runs, f"metrics.auc < {BIG}")
    assert len(mlflow_says) == len(with_auc) > 0
    assert len(runql.search(runs, f"metrics.auc < {BIG}")[0]) == len(mlflow_says)
    frame = sample.search_runs(search_all_experiments=True, filter_string=f"metrics.auc < {BIG}")
    assert len(frame) == len(mlflow_says)
    assert runql.search(runs, f"metrics.auc > -{BIG}")[0] == runql.search(runs, "metrics.auc > -1e308")[0]


@pytest.mark.parametrize(
    ("query", "profile"),
    [
        (f"attributes.start_time < {BIG}", "mlflow"),
        (f"metrics.auc IN ({BIG})", "extended"),
        (f"attributes.start_time IN ({BIG}, 5)", "extended"),
        (f"attributes.start_time < '{BIG}'", "azureml"),
        (f"attributes.creation_time < '{BIG}'", "azureml"),
    ],
)
def test_long_integers_everywhere_both_engines_agree(
    sample: runql.Workspace, query: str, profile: str
) -> None:
    runs = sample.search_runs(
        search_all_experiments=True, output_format="list", max_results=None, run_view_type="ALL"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = {r.info.run_id for r in runql.search(runs, query, profile=profile)[0]}
        columnar = sample.search_runs(
            search_all_experiments=True,
            filter_string=query,
            profile=profile,
            output_format="list",
            max_results=None,
            run_view_type="ALL",
        )
    assert reference == {r.info.run_id for r in columnar}


def test_experiment_search_reads_long_integers(sample: runql.Workspace) -> None:
    everything = sample.search_experiments(view_type="ALL")
    before = sample.search_experiments(filter_string=f"attributes.creation_time < {BIG}", view_type="ALL")
    assert len(before) == len(everything)
    assert runql.search_experiments(everything, f"attributes.creation_time > -{BIG}")[0]


# -- 15. times beyond 2**53 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("attributes.start_time = 9007199254740993", {"odd"}),
        ("attributes.start_time < 9007199254740993", {"even"}),
        ("attributes.start_time > 9007199254740992", {"odd"}),
        ("attributes.start_time != 9007199254740992", {"odd"}),
        ("attributes.start_time IN (9007199254740993)", {"odd"}),
    ],
)
def test_times_beyond_2_to_the_53_compare_exactly_in_both_engines(query: str, expected: set[str]) -> None:
    from runql.engines.columnar import ColumnarRuns

    runs = [shaped_run("even", start_time=2**53), shaped_run("odd", start_time=2**53 + 1)]
    profile = "extended" if " IN " in query else "mlflow"
    reference = {r.info.run_id for r in runql.search(runs, query, profile=profile)[0]}
    selection = ColumnarRuns(runs).select(runql.compile(query, profile=profile))
    columnar = {r.info.run_id for r in selection}
    assert reference == columnar == expected
    if " IN " not in query:  # MLflow has no IN on start_time
        assert {r.info.run_id for r in SearchUtils.filter(runs, query)} == expected


def test_a_workspace_keeps_times_exact_after_an_edit() -> None:
    # Records and edits refuse times past 2**53 ms (runql.model.records.TIME_LIMIT); runs read from a tracking
    # database, whose times are BIGINTs, may hold them, and are compared exactly.
    def run(run_id: str, end_time: int) -> Run:
        info = RunInfo(run_id=run_id, experiment_id="0", start_time=1, end_time=end_time, status="FINISHED")
        return Run(info, RunData(), RunInputs())

    ws = runql.Workspace(runs=[run("early", 2**53 - 1), run("late", 2**53 + 1)])
    assert len(ws.search_runs(["0"], output_format="list")) == 2  # the columns are built
    ws.set_terminated("early", end_time=2**53 - 2)  # an edit after the columns were built
    # As floats, 2**53 + 1 would be 2**53 and not greater.
    found = ws.search_runs(["0"], "attributes.end_time > 9007199254740992", output_format="list")
    assert [r.info.run_id for r in found] == ["late"]
    with pytest.raises(ValueError, match="end_time must be between"):
        ws.set_terminated("early", end_time=2**53 + 1)


# -- 5. Unicode look-alikes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("params.model LI\u212aE 'x'", "LIKE"),
        ("params.model \u0130LIKE 'x'", "ILIKE"),
        ("params.model NOT LI\u212aE 'x'", "NOT LIKE"),
        ("attributes.run_id \u0130N ('x')", "IN"),
    ],
)
def test_look_alike_keywords_are_refused_by_name(text: str, meant: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        runql.parse_filter(text)
    error = caught.value
    assert error.code == "syntax" and meant in error.hint
    assert error.span is not None and not text[error.span.start : error.span.end].isascii()


def test_look_alikes_mlflow_accepts_are_accepted() -> None:
    # MLflow upper-cases a comparator: 'I\u017f'.upper() is 'IS', so it reads IS NULL.
    assert runql.parse_filter("tags.a I\u017f NULL") == runql.parse_filter("tags.a IS NULL")


def test_a_look_alike_order_by_direction_is_refused() -> None:
    with pytest.raises(QuerySyntaxError, match="LATIN SMALL LETTER LONG S"):
        runql.parse_order_by(["params.model DE\u017fC"])


@pytest.mark.parametrize("space", ["\u00a0", "\u3000", "\u2028", "\u2003"])
def test_unicode_whitespace_separates_as_in_mlflow(space: str) -> None:
    text = f"params.model{space}={space}'x'{space}AND{space}metrics.a > 1"
    assert runql.parse_filter(text) == runql.parse_filter("params.model = 'x' AND metrics.a > 1")
    assert len(SearchUtils.parse_search_filter(text)) == 2


# -- 6. size limits -------------------------------------------------------------------------------


def _refusal(action: Callable[[], object]) -> UnsupportedQueryError:
    with pytest.raises(UnsupportedQueryError) as caught:
        action()
    assert caught.value.code == "query-too-large"
    return caught.value


def test_a_filter_too_long_is_refused_where_the_limit_is_passed() -> None:
    limit = get_profile("mlflow").max_filter_length
    text = "params.p = '" + "x" * limit + "'"
    error = _refusal(lambda: runql.search([], text))
    assert error.span is not None and error.span.start == limit
    assert len(str(error)) < 1_000  # the message shows a window of the line, not all of it


def test_too_many_conditions_are_refused_at_the_first_one_past() -> None:
    limit = get_profile("mlflow").max_clauses
    clause = "metrics.a > 1"
    text = " AND ".join([clause] * (limit + 5))
    error = _refusal(lambda: runql.search([shaped_run("r1", a=2.0)], text))
    assert error.span is not None and error.span.start == limit * len(clause + " AND ")
    accepted = " AND ".join([clause] * limit)
    assert runql.check(accepted) == []


def test_a_list_too_long_is_refused_at_the_first_item_past() -> None:
    limit = get_profile("mlflow").max_in_items
    items = [f"'{i:05}'" for i in range(limit + 1)]
    text = f"attributes.run_id IN ({','.join(items)})"
    error = _refusal(lambda: runql.validate(text))
    assert error.span is not None and text[error.span.start : error.span.end] == items[limit]


def test_too_many_order_by_clauses_are_refused_at_the_first_one_past() -> None:
    limit = get_profile("mlflow").max_order_by
    clauses = [f"metrics.m{i}" for i in range(20_000)]
    error = _refusal(lambda: runql.search([], order_by=clauses))
    assert error.where == f"order_by[{limit}]" and error.source == clauses[limit]
    generated = _refusal(lambda: runql.validate(None, order_by=iter(clauses[: limit + 1])))
    assert generated.where == f"order_by[{limit}]"


def test_limits_are_changed_per_profile() -> None:
    roomy = replace(get_profile("extended"), name="roomy", max_clauses=5_000)
    text = " OR ".join(["metrics.a > 1"] * 3_000)
    _refusal(lambda: runql.validate(text, "extended"))
    runql.validate(text, roomy)
    tight = replace(get_profile("mlflow"), name="tight", max_filter_length=10)
    error = _refusal(lambda: runql.validate("metrics.a > 1", tight))
    assert error.span is not None and error.span.start == 10


def test_mlflow_refuses_past_ten_thousand_tokens_and_so_would_never_reach_the_limits() -> None:
    # The default limits are above what MLflow accepts: nothing MLflow answers is refused.
    text = " AND ".join(["metrics.a>1"] * 1_300)  # 1,300 conditions: about 10,400 tokens
    assert get_profile("mlflow").max_clauses > 1_300
    with pytest.raises(Exception, match="Error on parsing filter"):
        SearchUtils.parse_search_filter(text)
    assert runql.check(text) == []


# -- 7. caches bounded by size ------------------------------------------------------------------


def test_the_parse_cache_is_bounded_by_size() -> None:
    cache = parse_module._parse_filter
    value = "x" * 50_000  # 40 distinct filters of 50 KB: twice the budget
    for i in range(40):
        runql.parse_filter(f"params.p = '{value}{i}'")
    assert cache.total <= parse_module.PARSE_CACHE_BUDGET
    assert len(cache) <= parse_module.PARSE_CACHE_BUDGET // 50_000
    runql.parse_filter("metrics.small > 1")
    assert runql.parse_filter("metrics.small > 1") is runql.parse_filter("metrics.small > 1")


# -- 12. page tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b'{"offset": Infinity}',
        b'{"offset": -Infinity}',
        b'{"offset": NaN}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"offset": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"offset": 1' + b"0" * 5_000 + b"}",
    ],
    ids=["infinity", "minus-infinity", "nan", "nested", "nested-offset", "long-offset"],
)
def test_hostile_page_tokens_are_bad_page_tokens(payload: bytes) -> None:
    token = base64.b64encode(payload)
    with pytest.raises(ArgumentError) as caught:
        parse_page_token(token)
    assert caught.value.code == "bad-page-token"
    assert len(caught.value.message) < 1_000
    with pytest.raises(ArgumentError):
        runql.search([], page_token=token.decode())


def test_a_good_page_token_still_reads() -> None:
    assert parse_page_token(base64.b64encode(json.dumps({"offset": 7}).encode())) == 7


# -- the property: cost grows at most linearly with the data and with the query ------------------------

_LIKE_PATTERNS = st.text(st.sampled_from(["%", "%", "_", "a", "b", "#"]), min_size=1, max_size=12)


def _wrapped(depth: int, clause: str) -> str:
    """``clause`` under ``depth`` levels of NOT and parentheses, alternating."""
    text = clause
    for level in range(depth):
        text = f"NOT {text}" if level % 2 else f"({text} OR metrics.m > {level})"
    return text


@settings(max_examples=8, deadline=None)
@given(pattern=_LIKE_PATTERNS, depth=st.integers(1, 10), ignore_case=st.booleans())
def test_search_cost_grows_at_most_linearly(pattern: str, depth: int, ignore_case: bool) -> None:
    op = "ILIKE" if ignore_case else "LIKE"
    clause = f"tags.x {op} '{pattern}'"

    def runs(length: int, count: int = 30) -> list[Any]:
        tags = [{"x": "ab" * (length // 2) + str(i)} for i in range(count)]
        return [shaped_run(f"r{i}", tags=tags[i], m=float(i)) for i in range(count)]

    small_runs, long_runs, many_runs = runs(200), runs(1_600), runs(200, count=240)

    def search(filter_string: str, rows: list[Any]) -> Callable[[], object]:
        return lambda: runql.search(rows, filter_string, profile="extended")

    query = _wrapped(depth, clause)
    # The data: values 8 times longer, then 8 times as many runs.
    grows_linearly(lambda n: cpu_cost(search(query, small_runs if n == 1 else long_runs)), 1)
    grows_linearly(lambda n: cpu_cost(search(query, small_runs if n == 1 else many_runs)), 1)
    # The query: 8 times as deeply nested (at most 80 levels, inside the limit of 100).
    grows_linearly(lambda n: cpu_cost(search(_wrapped(depth * n, clause), small_runs)), 1)
