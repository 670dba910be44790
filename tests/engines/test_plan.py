"""runql.plan: what a tracking server is sent, what runql evaluates after, and the planner's law."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runql
from runql.engines.planner import Plan, _conjuncts, _pushable, plan
from runql.engines.semantics import pattern_matcher
from runql.language.ast import Op, Query
from runql.model.entities import Run
from runql.model.records import run_from_record
from runql.profiles.catalog import get_profile
from runql.profiles.checker import analyse
from runql.profiles.compiled import compile_quietly
from runql.testing.strategies import search_cases

TARGETS = ("mlflow", "azureml")


def _through_server(found: Plan, rows: list[Run]) -> list[str]:
    """What a server of the target profile answers with the pushed part, then runql's residual: the
    server's order when it sorts, else the whole query's order."""
    server = compile_quietly(
        found.pushed_filter,
        list(found.pushed_order_by) if found.server_sorts else None,
        profile=found.target,
    )
    answer = server.search(rows)[0]
    if found.residual is not None:
        residual = compile_quietly(found.residual, profile="extended")
        answer = [run for run in answer if residual.predicate(run)]
    if not found.server_sorts:
        answer = sorted(answer, key=found.query.sort_key)
    return [run.info.run_id for run in answer]


@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=300, deadline=None)
@given(case=search_cases("extended", max_rows=10))
def test_pushed_and_residual_answer_what_the_whole_query_answers(
    target: str, case: tuple[list[Run], runql.Query]
) -> None:
    rows, query = case
    found = plan(query.filter_string, list(query.order_by_strings), target=target)
    whole = [run.info.run_id for run in found.query.search(rows)[0]]
    assert _through_server(found, rows) == whole
    if found.residual_filter is not None:  # the residual's text says what its tree says
        assert analyse(found.residual_filter, "extended")[0].filter == found.residual


@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=200, deadline=None)
@given(case=search_cases("extended", max_rows=0))
def test_the_target_accepts_what_it_is_sent(target: str, case: tuple[list[Run], runql.Query]) -> None:
    query = case[1]
    found = plan(query.filter_string, list(query.order_by_strings), target=target)
    sent = compile_quietly(found.pushed_filter, list(found.pushed_order_by), profile=target)
    assert not [d for d in sent.warnings if d.code == "observed-unsupported"]


def test_the_done_example_sends_mlflow_only_the_and() -> None:
    found = plan(
        "params.model = 'xgb' AND (metrics.auc > 0.9 OR tags.stage = 'prod')",
        ["metrics.auc DESC"],
        target="mlflow",
    )
    assert found.pushed_filter == "params.model = 'xgb'"
    assert found.residual_filter == "metrics.auc > 0.9 OR tags.stage = 'prod'"
    assert found.pushed_order_by == ("metrics.auc DESC",)
    assert found.server_sorts and not found.server_pages


def test_a_query_mlflow_accepts_is_pushed_whole() -> None:
    found = plan("metrics.auc > 0.5 AND tags.x LIKE 'a%'", ["params.lr"], target="mlflow")
    assert found.pushed_filter == "metrics.auc > 0.5 AND tags.x LIKE 'a%'"
    assert found.residual is None and found.server_pages


def test_an_or_or_not_stays_local_whole() -> None:
    found = plan("NOT metrics.auc > 0.5 OR params.a = 'b'", target="mlflow")
    assert found.pushed_filter == ""
    assert found.residual_filter == "NOT metrics.auc > 0.5 OR params.a = 'b'"


def test_azureml_gets_its_own_spelling_and_keeps_what_it_refuses_local() -> None:
    found = plan(
        "attributes.start_time > 1000 AND attributes.status = 'FINISHED' AND tags.team != 'a' "
        "AND metrics.`val/loss` < 1",
        ["metrics.auc DESC"],
        target="azureml",
    )
    # Numbers on attributes quoted, status names as Azure ML writes them.
    assert found.pushed_filter == "attributes.start_time > '1000' AND attributes.status = 'Finished'"
    # `!=` on tags and metrics with special characters are refused by Azure ML; so is sorting by a metric.
    assert found.residual_filter == "tags.team != 'a' AND metrics.`val/loss` < 1"
    assert found.pushed_order_by == () and not found.server_sorts


def test_what_some_azure_paths_refuse_stays_local() -> None:
    found = plan("tags.x LIKE 'a%' AND params.p = 'q'", target="azureml")
    assert found.pushed_filter == "params.p = 'q'" and found.residual_filter == "tags.x LIKE 'a%'"


def test_a_clause_the_target_would_read_otherwise_stays_local() -> None:
    # Azure ML matches status names ignoring case: 'finished' would select FINISHED runs there, while
    # MLflow's meaning (exact) selects none.
    found = plan("attributes.status = 'finished' AND attributes.status LIKE 'FIN%'", target="azureml")
    assert found.pushed_filter == ""
    assert found.residual_filter == "attributes.status = 'finished' AND attributes.status LIKE 'FIN%'"


def test_an_experiments_plan_says_runql_answers_it_whole() -> None:
    # A store over a server reads every experiment and searches them itself: nothing is pushed.
    found = plan("name LIKE 'a%' AND tags.x = 'y'", ["name"], target="mlflow", entity="experiments")
    assert found.pushed_filter == "" and found.pushed_order_by == ()
    assert found.residual_filter == "attributes.name LIKE 'a%' AND tags.x = 'y'"
    assert not found.server_sorts and not found.server_pages
    text = found.describe()
    assert "pushed filter: (none: every experiment)" in text and "sorting: local; paging: local" in text


@pytest.mark.parametrize("entity", ["registered_models", "model_versions", "logged_models"])
def test_a_model_search_in_mlflows_language_is_sent_whole(entity: str) -> None:
    # MLflow's server answers it with its store, page by page, as runql would.
    found = plan("name = 'a'", ["name DESC"], target="mlflow", profile="mlflow", entity=entity)
    assert (found.pushed_filter, found.pushed_order_by, found.residual_filter) == (
        "name = 'a'",
        ("name DESC",),
        None,
    )
    assert found.server_pages
    wider = plan("name = 'a' OR name = 'b'", target="mlflow", profile="extended", entity=entity)
    assert wider.pushed_filter == "" and not wider.server_sorts


def test_a_query_the_profile_refuses_is_refused() -> None:
    with pytest.raises(runql.UnsupportedQueryError):
        plan("metrics.a > 1 OR metrics.b > 1", profile="mlflow")


def test_describe_shows_the_split() -> None:
    text = plan("params.a = 'b' AND NOT tags.c LIKE 'd%'", target="mlflow").describe()
    assert "pushed filter: params.a = 'b'" in text
    assert "residual filter: NOT tags.c LIKE 'd%'" in text


# -- NOT k = v is pushed as k != v ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pushed", "residual"),
    [
        ("NOT tags.stage = 'dev'", "tags.stage != 'dev'", None),
        ("NOT params.p != 'x' AND metrics.m > 1", "params.p = 'x' AND metrics.m > 1", None),
        ("NOT metrics.m = 0.5", "metrics.m != 0.5", None),
        ("NOT attributes.status = 'FAILED'", "attributes.status != 'FAILED'", None),
        # A run has several datasets: NOT (some name is 'a') is not (some name is not 'a').
        ("NOT datasets.name = 'a'", "", "NOT datasets.name = 'a'"),
        # NOT m > 1 holds for a NaN metric, m <= 1 does not.
        ("NOT metrics.m > 1", "", "NOT metrics.m > 1"),
        ("NOT tags.t LIKE 'a%'", "", "NOT tags.t LIKE 'a%'"),
    ],
)
def test_not_equal_is_pushed_as_its_opposite(text: str, pushed: str, residual: str | None) -> None:
    found = plan(text, target="mlflow")
    assert (found.pushed_filter, found.residual_filter) == (pushed, residual)


@settings(max_examples=300, deadline=None)
@given(case=search_cases("extended", max_rows=10))
def test_not_equal_and_its_opposite_select_alike(case: tuple[list[Run], runql.Query]) -> None:
    rows, query = case
    found = plan(query.filter_string, target="mlflow", profile="extended")
    for term in _conjuncts(found.query.query.filter):
        rewritten = _pushable(term)
        if rewritten is not term:
            whole = compile_quietly(Query(term), profile="extended").search(rows)[0]
            assert compile_quietly(Query(rewritten), profile="extended").search(rows)[0] == whole


def test_a_nan_metric_is_selected_by_not_equal_and_its_rewriting_alike() -> None:
    rows = [
        run_from_record({"run_id": f"r{i}", "metrics": {"m": v}}) for i, v in enumerate([math.nan, 0.5, 1.0])
    ]
    rows.append(run_from_record({"run_id": "r3"}))
    for text in ("NOT metrics.m = 0.5", "metrics.m != 0.5", "NOT metrics.m != 0.5", "metrics.m = 0.5"):
        found = plan(text, target="mlflow")
        expected = compile_quietly(text, profile="extended").search(rows)[0]
        assert compile_quietly(found.pushed_filter, profile="mlflow").search(rows)[0] == expected
    assert [
        r.info.run_id for r in compile_quietly("NOT metrics.m = 0.5", profile="extended").search(rows)[0]
    ] == [
        "r0",
        "r2",
    ]


# -- ILIKE: pushed only when the target folds its pattern as runql does --------------------------------


def test_an_ilike_mlflows_server_folds_otherwise_stays_local() -> None:
    for pattern in ("RÉSUMÉ%", "%é%", "ſ%", "%stage%", "%K%", "%\u212a%", "İ%", "%i%"):
        found = plan(f"attributes.run_name ILIKE '{pattern}' AND params.a = 'b'", target="mlflow")
        assert found.pushed_filter == "params.a = 'b'", pattern
        assert found.residual_filter == f"attributes.run_name ILIKE '{pattern}'"
    for pattern in ("run%", "%_2024-%", "%Mod%", "%日本%", "ABC_%"):
        found = plan(f"tags.t ILIKE '{pattern}'", target="mlflow")
        assert found.pushed_filter == f"tags.t ILIKE '{pattern}'" and found.residual is None, pattern
    # A target that folds every letter takes them all.
    unicode_target = replace(get_profile("mlflow"), case_folding="unicode")
    assert plan("tags.t ILIKE 'RÉSUMÉ%'", target=unicode_target).residual is None


# Letters whose case folding differs between ASCII-only and Unicode (é É ſ, the KELVIN SIGN, İ ı ß ẞ),
# letters that fold alike, and characters without case.
_LETTERS = "aAiIkKsSeE\u00e9\u00c9\u017f\u212a\u0130\u0131\u00df\u1e9e1-\u65e5"


def _sqlite_ilike() -> Callable[[str, str], bool]:
    """ILIKE as MLflow's SQL store runs it on SQLite: ``lower(value) LIKE lower(pattern)``, LIKE made
    case-sensitive (``PRAGMA case_sensitive_like``), ``lower()`` folding ASCII letters only."""
    connection = sqlite3.connect(":memory:")
    connection.execute("PRAGMA case_sensitive_like = true")

    def matches(value: str, pattern: str) -> bool:
        row = connection.execute("SELECT lower(?) LIKE lower(?)", (value, pattern)).fetchone()
        return bool(row[0])

    return matches


@settings(max_examples=400, deadline=None)
@given(
    pattern=st.text(st.sampled_from(_LETTERS + "%_"), max_size=4),
    values=st.lists(st.text(st.sampled_from(_LETTERS), max_size=4), max_size=8),
)
def test_a_pushed_ilike_matches_on_mlflows_sqlite_store_as_in_runql(pattern: str, values: list[str]) -> None:
    found = plan(f"tags.t ILIKE '{pattern}'", target="mlflow")
    if found.residual is not None:
        return
    sqlite_ilike = _sqlite_ilike()
    runql_ilike = pattern_matcher(Op.ILIKE, pattern)
    for value in values:
        assert sqlite_ilike(value, pattern) == runql_ilike(value), (value, pattern)
