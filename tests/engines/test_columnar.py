"""The columnar evaluator answers exactly as the reference evaluator does, in every profile."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runql
from runql import strategies as rst
from runql.engines.aggregates import history_value
from runql.engines.columnar import ColumnarRuns, _sort_arrays
from runql.engines.reference import filter_runs, sort_runs
from runql.language.ast import Aggregate, Entity, Key
from runql.model.frames import runs_to_frame
from runql.model.records import run_from_record

pytestmark = pytest.mark.filterwarnings("ignore::runql.QueryWarning")


def _reference_ids(runs: list[runql.Run], query: runql.Query) -> list[str]:
    return [r.info.run_id for r in sort_runs(filter_runs(runs, query.filter), query.order_by)]


def _columnar_ids(store: ColumnarRuns, query: runql.Query) -> list[str]:
    return [store.runs[i].info.run_id for i in store.search(query.filter, query.order_by)]


@pytest.mark.parametrize("profile", ["mlflow", "azureml", "extended"])
@settings(max_examples=150)
@given(data=st.data())
def test_columnar_agrees_with_reference(profile: str, data: st.DataObject) -> None:
    runs, query = data.draw(rst.search_cases(profile=profile))
    lowered = runql.validate(query, profile)
    assert _columnar_ids(ColumnarRuns(runs), lowered) == _reference_ids(runs, lowered)


@settings(max_examples=60)
@given(case=rst.search_cases(profile="extended"))
def test_frame_from_columns_equals_frame_from_runs(case: tuple[list[runql.Run], runql.Query]) -> None:
    runs, query = case
    store = ColumnarRuns(runs)
    rows = store.search(query.filter, query.order_by)
    expected = runs_to_frame([runs[i] for i in rows])
    pd.testing.assert_frame_equal(store.frame(rows), expected)


def _edits(workspace: runql.Workspace, run_id: str) -> None:
    workspace.log_metric(run_id, "auc", float("nan"), step=10**6)
    workspace.log_param(run_id, "brand new param", "x%")
    workspace.set_tag(run_id, "team", "zeta")
    workspace.set_terminated(run_id, "FAILED", end_time=1)


QUERIES = [
    ("metrics.auc != 0.5", ["metrics.auc DESC"]),
    ("params.`brand new param` LIKE 'x%'", []),
    ("tags.team = 'zeta' AND attributes.status = 'FAILED'", ["attributes.end_time"]),
    ("", ["tags.team DESC"]),
]


@pytest.mark.parametrize(("filter_string", "order_by"), QUERIES)
def test_edits_reach_the_column_store(filter_string: str, order_by: list[str]) -> None:
    workspace = runql.Workspace.sample()
    search = {"filter_string": filter_string, "order_by": order_by, "search_all_experiments": True}
    workspace.search_runs(**search)  # builds the store before the edits
    target = workspace.search_runs(search_all_experiments=True, output_format="list")[7].info.run_id
    _edits(workspace, target)
    first = workspace.search_runs(search_all_experiments=True, output_format="list")[0]
    workspace.delete_run(first.info.run_id)

    fresh = runql.Workspace.from_records(
        experiments=workspace.experiments, runs=[runql.model.records.run_to_record(r) for r in workspace.runs]
    )
    got = [r.info.run_id for r in workspace.search_runs(**search, output_format="list")]
    assert got == [r.info.run_id for r in fresh.search_runs(**search, output_format="list")]
    if filter_string:
        assert target in got


def test_runs_added_after_a_search_are_found() -> None:
    workspace = runql.Workspace.sample()
    before = len(workspace.search_runs(search_all_experiments=True, output_format="list"))
    run = workspace.create_run(tags={"team": "late"})
    found = workspace.search_runs(
        filter_string="tags.team = 'late'", search_all_experiments=True, output_format="list"
    )
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert len(workspace.search_runs(search_all_experiments=True, output_format="list")) == before + 1


@pytest.mark.parametrize(
    "filter_string",
    ["attributes.end_time IS NOT NULL", "NOT attributes.end_time IS NULL", "metrics.m IS NOT NULL"],
)
def test_a_search_leaves_the_columns_alone(filter_string: str) -> None:
    workspace = runql.Workspace.from_records(
        profile="extended",
        runs=[
            {"run_id": "a", "experiment_id": "1", "start_time": 1, "end_time": 5, "metrics": {"m": 1.0}},
            {"run_id": "b", "experiment_id": "2", "start_time": 2, "end_time": 6, "metrics": {"m": 2.0}},
        ],
    )
    workspace.search_runs(["1"], filter_string)  # restricted to experiment 1
    found = workspace.search_runs(["2"], "attributes.end_time > 0 AND metrics.m > 0", output_format="list")
    assert [r.info.run_id for r in found] == ["b"]


# -- functions of a metric's history: the column store's arrays against the rule run by run ---------

_POINT = st.tuples(
    st.sampled_from([0.0, -0.0, 1.0, 2.5, -1.0, float("nan"), float("inf")]),
    st.integers(0, 2),  # timestamps and steps from small ranges: many points tie on both
    st.integers(0, 2),
)


@settings(max_examples=300, derandomize=True)
@given(st.lists(st.lists(_POINT, min_size=1, max_size=6), min_size=1, max_size=8), st.integers(0, 2))
def test_history_columns_equal_the_rule_run_by_run(histories: list[list[Any]], step: int) -> None:
    logged = [[{"value": v, "timestamp": t, "step": s} for v, t, s in points] for points in histories]
    runs = [run_from_record({"run_id": f"r{i}", "metrics": {"m": p}}) for i, p in enumerate(logged)]
    store = ColumnarRuns(runs)
    for aggregate in Aggregate:
        at = step if aggregate is Aggregate.AT_STEP else None
        key = Key(Entity.METRIC, "m", aggregate=aggregate, step=at)
        column = store.history_column(key)
        for row, run in enumerate(runs):
            expected = history_value(run.data.history("m"), key)
            if expected is None:
                assert not column.present_mask[row], (aggregate, row)
                continue
            assert column.present_mask[row], (aggregate, row)
            found = float(column.values[row])
            assert found == expected or (math.isnan(found) and math.isnan(expected)), (aggregate, row)


# -- the first rows of a page: candidates by the first key, against sorting every run ---------------

_TIED_NUMBERS = st.sampled_from([0.0, -0.0, 1.0, -1.0, float("nan"), float("inf"), float("-inf")])
_ORDER_KEYS = [
    "metrics.m",  # few values, NaN, infinities, often missing: ties at any cut
    "metrics.n",
    "params.p",  # strings: ordered by rank
    "tags.t",
    "attributes.end_time",  # no run has one: every run ties in the missing tier
    "metrics.nobody",  # no run has it: no column, so the next key comes first
    "attributes.start_time",
    "attributes.run_id",
]


@st.composite
def _tied_runs(draw: st.DrawFn) -> list[runql.Run]:
    count = draw(st.integers(1, 80))
    # How many runs have each key, from none to all: a few values ahead of many missing ones is where a
    # cut on the value alone would go wrong.
    density = draw(st.integers(0, 8))

    def has() -> bool:
        return draw(st.integers(0, 7)) < density

    runs = []
    for index in range(count):
        metrics = {k: draw(_TIED_NUMBERS) for k in ("m", "n") if has()}
        params = {"p": draw(st.sampled_from(["a", "b", "B", ""]))} if has() else {}
        tags = {"t": draw(st.sampled_from(["x", "y"]))} if has() else {}
        record = {"run_id": f"r{draw(st.integers(0, 999)):03}{index}", "start_time": draw(st.integers(0, 2))}
        runs.append(run_from_record({**record, "metrics": metrics, "params": params, "tags": tags}))
    return runs


@settings(max_examples=400, derandomize=True)
@given(data=st.data())
def test_the_first_rows_equal_those_of_sorting_every_run(data: st.DataObject) -> None:
    runs = data.draw(_tied_runs())
    keys = data.draw(st.lists(st.sampled_from(_ORDER_KEYS), min_size=1, max_size=3))
    order_by = runql.parse_order_by([f"{k} {data.draw(st.sampled_from(['ASC', 'DESC']))}" for k in keys])
    store = ColumnarRuns(runs)
    every = store.search(None, order_by)
    # k at, just before and just after the end of a group tied on the first key, or anywhere.
    first_key = store.column(order_by[0].key)
    boundaries = [len(runs)]
    if first_key is not None:
        value_key, tier = (a.tolist() for a in _sort_arrays(first_key, order_by[0].descending, every))
        tied = list(zip(tier, value_key, strict=True))
        boundaries = [i for i in range(1, len(runs)) if tied[i] != tied[i - 1]]
    anchor = data.draw(st.sampled_from(boundaries or [len(runs)]))
    first = data.draw(st.sampled_from([anchor - 1, anchor, anchor + 1]) | st.integers(0, len(runs) + 1))
    found = store.search(None, order_by, first=first)
    assert found[:first].tolist() == every[:first].tolist()
    assert sorted(found.tolist()) == sorted(every.tolist())
