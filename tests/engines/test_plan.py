"""runql.plan: what a tracking server is sent, what runql evaluates after, and the planner's law."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

import runql
from runql.engines.planner import Plan, plan
from runql.model.records import Run
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


def test_experiments_are_planned_too() -> None:
    found = plan("name LIKE 'a%' OR tags.x = 'y'", ["name"], target="mlflow", entity="experiments")
    assert found.pushed_filter == "" and found.residual is not None
    assert found.pushed_order_by == ("attributes.name",) and found.server_sorts


def test_a_query_the_profile_refuses_is_refused() -> None:
    with pytest.raises(runql.UnsupportedQueryError):
        plan("metrics.a > 1 OR metrics.b > 1", profile="mlflow")


def test_describe_shows_the_split() -> None:
    text = plan("params.a = 'b' AND NOT tags.c = 'd'", target="mlflow").describe()
    assert "pushed filter: params.a = 'b'" in text
    assert "residual filter: NOT tags.c = 'd'" in text
