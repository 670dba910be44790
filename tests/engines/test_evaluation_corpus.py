"""Runs the evaluation conformance corpus (tests/conformance/evaluation.json) against a workspace.

Each case gives a filter, an order_by, a profile and optionally max_results, the experiments to
search and a view type, then what it expects: the ids in order, or an error code
(tests/conformance/README.md describes the schema). When MLflow is
installed, the MLflow-profile cases are also re-derived from MLflow's own in-memory search, so the
corpus cannot drift from the oracle.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import pytest

from runql import RunqlError, Workspace

CORPUS_FILE = Path(__file__).parents[1] / "conformance" / "evaluation.json"
CORPUS = json.loads(CORPUS_FILE.read_text(encoding="utf-8"))
CASES = CORPUS["cases"]


@pytest.fixture(scope="module")
def ws() -> Workspace:
    return Workspace.from_records(experiments=CORPUS["experiments"], runs=CORPUS["runs"])


def _search(ws: Workspace, case: dict[str, Any]) -> list[str]:
    if case.get("entity") == "experiments":
        found = ws.search_experiments(
            view_type=case.get("view_type", 1),
            max_results=case.get("max_results"),
            filter_string=case["filter"],
            order_by=case.get("order_by"),
            profile=case.get("profile", "mlflow"),
        )
        return [e.experiment_id for e in found]
    names = case.get("experiment_names")
    every = case.get("search_all_experiments", False)
    default = None if names or every else CORPUS["default_experiment_ids"]
    runs = ws.search_runs(
        experiment_ids=case.get("experiment_ids", default),
        filter_string=case["filter"],
        run_view_type=case.get("view_type", 1),
        max_results=case.get("max_results") or 100000,
        order_by=case.get("order_by"),
        output_format=case.get("output_format", "list"),
        search_all_experiments=every,
        experiment_names=names,
        profile=case.get("profile", "mlflow"),
    )
    return [r.info.run_id for r in runs]


def test_corpus_size_and_coverage() -> None:
    assert len(CASES) >= 100
    covered = {row for case in CASES for row in case["rows"]}
    # Rows 59-61 (the DataFrame) are checked by test_dataframe_of_every_run below.
    assert set(range(36, 52)) | {55, 56, 57, 58, 62} <= covered


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(ws: Workspace, case: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    expect = case["expect"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # profile warnings are checked elsewhere; here only answers count
        if "error" in expect:
            with pytest.raises(RunqlError) as raised:
                _search(ws, case)
            assert raised.value.code == expect["error"]["code"]
            return
        with caplog.at_level(logging.WARNING, logger="runql"):
            assert _search(ws, case) == expect["ids"]
    if any(not ws.get_experiment_by_name(n) for n in case.get("experiment_names", [])):
        assert "Cannot retrieve experiment by name" in caplog.text


def test_dataframe_of_every_run(ws: Workspace) -> None:
    """Checklist rows 59-61 on the corpus runs: column groups, first-seen order, nulls."""
    frame = ws.search_runs(experiment_ids=CORPUS["default_experiment_ids"])
    runs = ws.search_runs(experiment_ids=CORPUS["default_experiment_ids"], output_format="list")
    expected_columns = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    for part in ("metrics", "params", "tags"):
        seen: list[str] = []
        for run in runs:
            seen += sorted(k for k in getattr(run.data, part) if k not in seen)
        expected_columns += [f"{part}.{k}" for k in seen]
    assert list(frame.columns) == expected_columns
    assert str(frame["start_time"].dtype).endswith(", UTC]")
    assert frame["metrics.m2"].isna().sum() == len(runs) - 1
    assert frame["params.q"].isna().sum() == len(runs) - 1


# -- the corpus against the oracle ------------------------------------------------------------


def test_mlflow_profile_cases_agree_with_mlflow() -> None:
    pytest.importorskip("mlflow")
    from mlflow.utils.search_utils import SearchUtils
    from support.mlflow_records import mlflow_run

    runs = [mlflow_run(r) for r in CORPUS["runs"]]
    checked = 0
    for case in CASES:
        plain = {"filter", "order_by", "max_results", "rows", "name", "expect", "note", "profile"}
        if (
            case.get("profile", "mlflow") != "mlflow"
            or case.get("entity")
            or "error" in case["expect"]
            or set(case) - plain
        ):
            continue
        pool = [
            r
            for r in runs
            if r.info.experiment_id in CORPUS["default_experiment_ids"] and r.info.lifecycle_stage == "active"
        ]
        found = SearchUtils.sort(SearchUtils.filter(pool, case["filter"]), case.get("order_by", []))
        found, _ = SearchUtils.paginate(found, None, case.get("max_results") or 100000)
        assert [r.info.run_id for r in found] == case["expect"]["ids"], case["name"]
        checked += 1
    assert checked > 80
