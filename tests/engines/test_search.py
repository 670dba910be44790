"""``runql.search`` and its halves agree with the reference evaluator, and refuse what the profile refuses."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings

from runql import (
    UnsupportedQueryError,
    compile_predicate,
    parse_order_by,
    search,
    search_experiments,
    sort_key,
)
from runql import strategies as rst
from runql.engines.reference import filter_runs, sort_experiments, sort_runs
from runql.model.entities import Experiment, Metric, Run, RunData, RunInfo
from runql.model.paging import paginate


def _ids(rows: list[Any]) -> list[str]:
    return [r.info.run_id if hasattr(r, "info") else r.experiment_id for r in rows]


@pytest.fixture(autouse=True)
def _no_query_warnings() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@settings(max_examples=60)
@given(rst.search_cases())
def test_search_is_the_reference(case: tuple[list[Run], Any]) -> None:
    runs, query = case
    order_by = list(query.order_by_strings)
    found, token = search(runs, query.filter_string, order_by)
    assert token is None
    assert _ids(found) == _ids(sort_runs(filter_runs(runs, query.filter), query.order_by))


@settings(max_examples=60)
@given(rst.runs(), rst.order_by_clauses())
def test_sort_key_gives_mlflow_order(runs: list[Run], order_by: list[str]) -> None:
    assert _ids(sorted(runs, key=sort_key(order_by))) == _ids(sort_runs(runs, parse_order_by(order_by)))


@settings(max_examples=40)
@given(rst.experiments(min_size=0), rst.order_by_clauses(entity="experiments"))
def test_sort_key_orders_experiments(experiments: list[Experiment], order_by: list[str]) -> None:
    expected = sort_experiments(experiments, parse_order_by(order_by))
    assert _ids(sorted(experiments, key=sort_key(order_by, entity="experiments"))) == _ids(expected)
    assert _ids(search_experiments(experiments, "", order_by)[0]) == _ids(expected)


@settings(max_examples=60)
@given(rst.search_cases())
def test_compile_predicate_selects_what_filter_selects(case: tuple[list[Run], Any]) -> None:
    runs, query = case
    keep = compile_predicate(query.filter_string)
    assert [r for r in runs if keep(r)] == filter_runs(runs, query.filter)


def _run(run_id: str, start: int, **metrics: float) -> Run:
    data = RunData()
    for key, value in metrics.items():
        data.log(Metric(key, value))
    return Run(RunInfo(run_id, "0", start_time=start), data)


NAN = float("nan")
RUNS = [
    _run("a", 3, m=1.0),
    _run("b", 3, m=NAN),
    _run("c", 2),
    _run("d", 1, m=-float("inf")),
    _run("e", 5, m=2.0),
]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["metrics.m"], ["d", "a", "e", "b", "c"]),
        (["metrics.m DESC"], ["e", "a", "d", "b", "c"]),
        ([], ["e", "a", "b", "c", "d"]),
        (["metrics.m DESC", "start_time"], ["e", "a", "d", "b", "c"]),
        (["start_time", "metrics.m DESC"], ["d", "c", "a", "b", "e"]),
    ],
)
def test_nan_then_missing_last_in_both_directions(order_by: list[str], expected: list[str]) -> None:
    assert _ids(sorted(RUNS, key=sort_key(order_by))) == expected
    assert _ids(search(RUNS, "", order_by)[0]) == expected


def test_pages_and_tokens_are_mlflows() -> None:
    first, token = search(RUNS, "", ["metrics.m"], max_results=2)
    assert _ids(first) == ["d", "a"]
    second, last = search(RUNS, "", ["metrics.m"], max_results=2, page_token=token)
    assert _ids(second) == ["e", "b"]
    assert _ids(search(RUNS, "", ["metrics.m"], max_results=2, page_token=last)[0]) == ["c"]
    assert paginate(sort_runs(RUNS, parse_order_by(["metrics.m"])), token, 2)[1] == last


def test_missing_key_never_matches_not_equal() -> None:
    keep = compile_predicate("metrics.m != 1")
    assert [r.info.run_id for r in RUNS if keep(r)] == ["b", "d", "e"]
    assert _ids(search(RUNS, "metrics.m != 1")[0]) == ["e", "b", "d"]


def test_a_generator_is_searched_once() -> None:
    found, _ = search((r for r in RUNS), "metrics.m > 0")
    assert _ids(found) == ["e", "a"]


@pytest.mark.parametrize(
    "call",
    [
        lambda: search(RUNS, "metrics.m > 1 OR metrics.m < 0"),
        lambda: search(RUNS, "", ["datasets.name"]),
        lambda: compile_predicate("params.p > 'x'"),
        lambda: sort_key(["metrics.m", "datasets.name DESC"]),
        lambda: search_experiments([], "metrics.m > 1"),
    ],
)
def test_the_profile_is_checked_first(call: Any) -> None:
    with pytest.raises(UnsupportedQueryError):
        call()


def test_other_profiles_allow_more() -> None:
    found, _ = search(RUNS, "metrics.m > 1 OR metrics.m < 0", profile="extended")
    assert _ids(found) == ["e", "d"]
    keep = compile_predicate("NOT metrics.m > 1", profile="extended")
    # NaN > 1 is false, not unknown, so NOT holds for the NaN run; the missing one stays out.
    assert [r.info.run_id for r in RUNS if keep(r)] == ["a", "b", "d"]


def test_unknown_entity() -> None:
    with pytest.raises(ValueError, match="entity"):
        sort_key([], entity="models")


def test_mlflow_runs_are_searched_as_they_are() -> None:
    pytest.importorskip("mlflow")
    from runql.testing.mlflow_oracle import to_mlflow_run

    theirs = [to_mlflow_run(r) for r in RUNS]
    found, _ = search(theirs, "metrics.m >= -1", ["metrics.m DESC"])
    assert _ids(found) == ["e", "a"]
    assert all(type(r).__module__.startswith("mlflow") for r in found)


def test_objects_that_are_not_runs_are_named() -> None:
    with pytest.raises(TypeError, match=r"shaped like mlflow.entities.Run.*has no attribute"):
        search([object()], "metrics.m > 1")
