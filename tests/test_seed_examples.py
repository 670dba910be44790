"""Every code example of Azure ML's "Query & compare experiments and runs with MLflow", in order.

``mlflow.X(...)`` becomes ``ws.X(...)`` on the bundled sample. Each answer is checked against the
expected runs computed here, with plain Python over the sample's raw records, not through runql.
Azure-only examples run under the ``azureml`` profile and fail clearly under ``mlflow``.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

import pytest

import runql
from runql import QueryError, QueryWarning, UnsupportedQueryError, ViewType, Workspace
from runql.sources.sample import sample_records

EXPERIMENT = "1234-5678-90AB-CDEFG"
RUN = "1234-5678-90AB-CDEFG"


@pytest.fixture(scope="module")
def artifact_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def ws(artifact_root: Path) -> Workspace:
    return Workspace.sample(artifact_root=artifact_root)


@pytest.fixture(scope="module")
def raw(artifact_root: Path) -> Any:
    return sample_records(artifact_root)


# -- plain-Python answers over the raw records -------------------------------------------------


def latest(record: dict[str, Any], key: str) -> float | None:
    value = record["metrics"].get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        return float(value)
    best = value[0]
    for point in value[1:]:
        if (point["step"], point["timestamp"], point["value"]) > (
            best["step"],
            best["timestamp"],
            best["value"],
        ):
            best = point
    return float(best["value"])


def active_runs(raw: Any, experiments: list[str]) -> list[dict[str, Any]]:
    return [r for r in raw.runs if r["experiment_id"] in experiments and r["lifecycle_stage"] == "active"]


def natural(runs: list[dict[str, Any]]) -> list[str]:
    """start_time DESC, then run_id ASC."""
    return [r["run_id"] for r in sorted(runs, key=lambda r: (-r["start_time"], r["run_id"]))]


def ids(frame: Any) -> list[str]:
    return list(frame["run_id"])


def names(experiments: list[Any]) -> list[str]:
    return [e.name for e in experiments]


def experiments_newest_first(raw: Any, keep: Any) -> list[str]:
    chosen = [e for e in raw.experiments if keep(e)]
    chosen.sort(key=lambda e: e["experiment_id"])
    chosen.sort(key=lambda e: e["creation_time"], reverse=True)
    return [e["name"] for e in chosen]


# -- Query and search experiments --------------------------------------------------------------


def test_all_active_experiments(ws: Workspace, raw: Any) -> None:
    found = ws.search_experiments()
    assert names(found) == experiments_newest_first(raw, lambda e: e["lifecycle_stage"] == "active")
    assert all(e.lifecycle_stage == "active" for e in found)


def test_all_experiments_including_archived(ws: Workspace, raw: Any) -> None:
    found = ws.search_experiments(view_type=ViewType.ALL)
    assert names(found) == experiments_newest_first(raw, lambda e: True)
    assert "deleted" in {e.lifecycle_stage for e in found}


def test_experiment_by_name(ws: Workspace) -> None:
    experiment_name = "my_experiment"
    experiment = ws.get_experiment_by_name(experiment_name)
    assert experiment is not None
    assert (experiment.experiment_id, experiment.name) == (EXPERIMENT, "my_experiment")
    assert ws.get_experiment_by_name("no such experiment") is None


def test_experiment_by_id(ws: Workspace) -> None:
    experiment = ws.get_experiment("1234-5678-90AB-CDEFG")
    assert experiment.experiment_id == "1234-5678-90AB-CDEFG"
    assert experiment.tags["framework"] == "xgboost"


def test_experiments_by_ids(ws: Workspace, raw: Any) -> None:
    found = ws.search_experiments(
        filter_string="experiment_id IN ("
        "'CDEFG-1234-5678-90AB', '1234-5678-90AB-CDEFG', '5678-1234-90AB-CDEFG')"
    )
    wanted = {"CDEFG-1234-5678-90AB", "1234-5678-90AB-CDEFG", "5678-1234-90AB-CDEFG"}
    assert names(found) == experiments_newest_first(
        raw, lambda e: e["experiment_id"] in wanted and e["lifecycle_stage"] == "active"
    )
    assert len(found) == 3


def test_experiments_created_after(ws: Workspace, raw: Any) -> None:
    dt = datetime.datetime(2022, 6, 20, 5, 32, 48)
    # The document passes seconds; times are milliseconds, so every experiment is "after" it, as in
    # MLflow. runql answers the same and warns about the unit.
    with pytest.warns(QueryWarning, match="milliseconds"):
        found = ws.search_experiments(filter_string=f"creation_time > {int(dt.timestamp())}")
    seconds = int(dt.timestamp())
    assert names(found) == experiments_newest_first(
        raw, lambda e: e["lifecycle_stage"] == "active" and e["creation_time"] > seconds
    )
    # What the example means: milliseconds.
    millis = int(dt.timestamp() * 1000)
    found = ws.search_experiments(filter_string=f"creation_time > {millis}")
    expected = experiments_newest_first(
        raw, lambda e: e["lifecycle_stage"] == "active" and e["creation_time"] > millis
    )
    assert names(found) == expected
    assert 0 < len(expected) < len(experiments_newest_first(raw, lambda e: e["lifecycle_stage"] == "active"))


def test_experiments_with_tag(ws: Workspace, raw: Any) -> None:
    found = ws.search_experiments(filter_string="tags.framework = 'torch'")
    assert names(found) == experiments_newest_first(
        raw, lambda e: e["lifecycle_stage"] == "active" and e["tags"].get("framework") == "torch"
    )
    assert names(found) == ["image-classifier"]


# -- Query and search runs ----------------------------------------------------------------------


def test_runs_by_experiment_name(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(experiment_names=["my_experiment"])
    assert ids(frame) == natural(active_runs(raw, [EXPERIMENT]))


def test_runs_by_experiment_id(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(experiment_ids=["1234-5678-90AB-CDEFG"])
    assert ids(frame) == natural(active_runs(raw, [EXPERIMENT]))
    assert list(frame.columns[:6]) == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]


def test_runs_across_all_experiments(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(filter_string="params.num_boost_round='100'", search_all_experiments=True)
    live = [e["experiment_id"] for e in raw.experiments if e["lifecycle_stage"] == "active"]
    expected = [r for r in active_runs(raw, live) if r["params"].get("num_boost_round") == "100"]
    assert ids(frame) == natural(expected)
    assert len({r["experiment_id"] for r in expected}) > 1


# -- Order runs ----------------------------------------------------------------------------------


def test_order_by_start_time(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(experiment_ids=["1234-5678-90AB-CDEFG"], order_by=["attributes.start_time DESC"])
    assert ids(frame) == natural(active_runs(raw, [EXPERIMENT]))
    assert frame["start_time"].is_monotonic_decreasing


def test_last_single_run(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(
        experiment_ids=["1234-5678-90AB-CDEFG"], max_results=1, order_by=["attributes.start_time DESC"]
    )
    assert ids(frame) == natural(active_runs(raw, [EXPERIMENT]))[:1]


def _duration_order(runs: list[dict[str, Any]]) -> list[str]:
    known = [r for r in runs if r["end_time"] is not None]
    unknown = [r for r in runs if r["end_time"] is None]
    by_start = natural(known)
    position = {run_id: i for i, run_id in enumerate(by_start)}
    known.sort(key=lambda r: position[r["run_id"]])
    known.sort(key=lambda r: r["end_time"] - r["start_time"], reverse=True)
    return [r["run_id"] for r in known] + natural(unknown)


def test_order_by_duration(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(
        experiment_ids=["1234-5678-90AB-CDEFG"], order_by=["attributes.duration DESC"], profile="azureml"
    )
    assert ids(frame) == _duration_order(active_runs(raw, [EXPERIMENT]))
    with pytest.raises(UnsupportedQueryError) as raised:
        ws.search_runs(experiment_ids=["1234-5678-90AB-CDEFG"], order_by=["attributes.duration DESC"])
    assert "duration" in str(raised.value)


def test_order_by_metric_with_pandas(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(experiment_ids=["1234-5678-90AB-CDEFG"]).sort_values(
        "metrics.accuracy", ascending=False
    )
    runs = active_runs(raw, [EXPERIMENT])
    with_accuracy = [
        r for r in runs if latest(r, "accuracy") is not None and not math.isnan(latest(r, "accuracy"))
    ]
    assert list(frame["run_id"])[: len(with_accuracy)] == [
        r["run_id"]
        for r in sorted(with_accuracy, key=lambda r: -latest(r, "accuracy"))  # type: ignore[operator]
    ]
    # The warning next to that example: Azure ML refuses order_by on metrics.
    with pytest.raises(UnsupportedQueryError):
        ws.search_runs(experiment_ids=[EXPERIMENT], order_by=["metrics.accuracy DESC"], profile="azureml")


# -- Filter runs ---------------------------------------------------------------------------------


def test_filter_by_param(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(
        experiment_ids=["1234-5678-90AB-CDEFG"], filter_string="params.num_boost_round='100'"
    )
    expected = [r for r in active_runs(raw, [EXPERIMENT]) if r["params"].get("num_boost_round") == "100"]
    assert ids(frame) == natural(expected)
    assert set(frame["params.num_boost_round"]) == {"100"}


def test_filter_by_metric(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(experiment_ids=["1234-5678-90AB-CDEFG"], filter_string="metrics.auc>0.8")
    expected = [r for r in active_runs(raw, [EXPERIMENT]) if (latest(r, "auc") or 0) > 0.8]
    assert ids(frame) == natural(expected)
    assert len(expected) > 10


def test_filter_by_tag(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(experiment_ids=["1234-5678-90AB-CDEFG"], filter_string="tags.framework='torch'")
    expected = [r for r in active_runs(raw, [EXPERIMENT]) if r["tags"].get("framework") == "torch"]
    assert ids(frame) == natural(expected)
    assert expected


def test_filter_by_user(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(
        experiment_ids=["1234-5678-90AB-CDEFG"], filter_string="attributes.user_id = 'John Smith'"
    )
    expected = [r for r in active_runs(raw, [EXPERIMENT]) if r["user_id"] == "John Smith"]
    assert ids(frame) == natural(expected)
    assert expected


def _failed(raw: Any) -> list[str]:
    return natural([r for r in active_runs(raw, [EXPERIMENT]) if r["status"] == "FAILED"])


def test_filter_failed_runs(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(
        experiment_ids=["1234-5678-90AB-CDEFG"],
        filter_string="attributes.status = 'Failed'",
        profile="azureml",
    )
    assert ids(frame) == _failed(raw)
    assert _failed(raw)
    # MLflow itself matches status exactly, so the title-case spelling finds nothing there; runql
    # answers the same under the mlflow profile and says why.
    with pytest.warns(QueryWarning, match="FAILED"):
        frame = ws.search_runs(experiment_ids=[EXPERIMENT], filter_string="attributes.status = 'Failed'")
    assert ids(frame) == []


def test_filter_created_after(ws: Workspace, raw: Any) -> None:
    dt = datetime.datetime(2022, 6, 20, 5, 32, 48)
    text = f"attributes.creation_time > '{int(dt.timestamp())}'"
    with pytest.warns(QueryWarning):
        frame = ws.search_runs(experiment_ids=["1234-5678-90AB-CDEFG"], filter_string=text, profile="azureml")
    expected = [r for r in active_runs(raw, [EXPERIMENT]) if r["start_time"] > int(dt.timestamp())]
    assert ids(frame) == natural(expected)
    millis = int(dt.timestamp() * 1000)
    frame = ws.search_runs(
        experiment_ids=[EXPERIMENT], filter_string=f"attributes.creation_time > '{millis}'", profile="azureml"
    )
    expected = [r for r in active_runs(raw, [EXPERIMENT]) if r["start_time"] > millis]
    assert ids(frame) == natural(expected)
    assert 0 < len(expected) < len(active_runs(raw, [EXPERIMENT]))
    with pytest.raises(UnsupportedQueryError):
        ws.search_runs(experiment_ids=[EXPERIMENT], filter_string=text)


def test_filter_longer_than(ws: Workspace, raw: Any) -> None:
    duration = 360 * 1000  # duration is in milliseconds
    text = f"attributes.duration > '{duration}'"
    frame = ws.search_runs(experiment_ids=["1234-5678-90AB-CDEFG"], filter_string=text, profile="azureml")
    expected = [
        r
        for r in active_runs(raw, [EXPERIMENT])
        if r["end_time"] is not None and r["end_time"] - r["start_time"] > duration
    ]
    assert ids(frame) == natural(expected)
    assert 0 < len(expected) < len(active_runs(raw, [EXPERIMENT]))
    with pytest.raises(UnsupportedQueryError) as raised:
        ws.search_runs(experiment_ids=[EXPERIMENT], filter_string=text)
    assert raised.value.column is not None


def test_filter_run_ids(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(
        experiment_ids=["1234-5678-90AB-CDEFG"],
        filter_string="attributes.run_id IN ('1234-5678-90AB-CDEFG', '5678-1234-90AB-CDEFG')",
    )
    wanted = {"1234-5678-90AB-CDEFG", "5678-1234-90AB-CDEFG"}
    expected = [r for r in active_runs(raw, [EXPERIMENT]) if r["run_id"] in wanted]
    assert ids(frame) == natural(expected)
    assert len(expected) == 2


def test_filter_runs_by_status_table_example(ws: Workspace, raw: Any) -> None:
    frame = ws.search_runs(
        experiment_ids=["1234-5678-90AB-CDEFG"],
        filter_string="attributes.status = 'Failed'",
        profile="azureml",
    )
    assert ids(frame) == _failed(raw)
    # The Azure job status names of the table map to MLflow's statuses.
    canceled = ws.search_runs(
        experiment_ids=[EXPERIMENT], filter_string="attributes.status = 'Canceled'", profile="azureml"
    )
    assert ids(canceled) == natural([r for r in active_runs(raw, [EXPERIMENT]) if r["status"] == "KILLED"])


# -- Get metrics, parameters, artifacts and models -----------------------------------------------


@pytest.fixture(scope="module")
def runs(ws: Workspace) -> list[runql.Run]:
    return ws.search_runs(  # type: ignore[no-any-return]
        experiment_ids=["1234-5678-90AB-CDEFG"],
        filter_string="params.num_boost_round='100'",
        output_format="list",
    )


def test_runs_as_list(runs: list[runql.Run], raw: Any) -> None:
    expected = [r for r in active_runs(raw, [EXPERIMENT]) if r["params"].get("num_boost_round") == "100"]
    assert [r.info.run_id for r in runs] == natural(expected)
    assert all(isinstance(r, runql.Run) for r in runs)


def test_last_run_id(runs: list[runql.Run]) -> None:
    last_run = runs[-1]
    assert last_run.info.run_id == RUN
    assert f"Last run ID: {last_run.info.run_id}" == "Last run ID: 1234-5678-90AB-CDEFG"


def test_last_run_params(runs: list[runql.Run], raw: Any) -> None:
    last_run = runs[-1]
    record = next(r for r in raw.runs if r["run_id"] == last_run.info.run_id)
    assert last_run.data.params == record["params"]


def test_last_run_metrics(runs: list[runql.Run], raw: Any) -> None:
    last_run = runs[-1]
    record = next(r for r in raw.runs if r["run_id"] == last_run.info.run_id)
    assert last_run.data.metrics == {key: latest(record, key) for key in record["metrics"]}


def test_metric_history(ws: Workspace, raw: Any) -> None:
    history = ws.get_metric_history("1234-5678-90AB-CDEFG", "log_loss")
    record = next(r for r in raw.runs if r["run_id"] == RUN)
    assert [(m.key, m.value, m.step, m.timestamp) for m in history] == [
        ("log_loss", p["value"], p["step"], p["timestamp"]) for p in record["metrics"]["log_loss"]
    ]
    assert len(history) > 1


def test_list_artifacts(ws: Workspace) -> None:
    artifacts = ws.list_artifacts("1234-5678-90AB-CDEFG")
    assert [(a.path, a.is_dir) for a in artifacts] == [
        ("classifier", True),
        ("feature_importance_weight.png", False),
    ]
    assert artifacts[1].file_size == len(
        Path(ws.resolve_uri(f"runs:/{RUN}/feature_importance_weight.png")).read_bytes()
    )


def test_download_artifact(ws: Workspace, tmp_path: Path) -> None:
    file_path = ws.download_artifacts(
        run_id="1234-5678-90AB-CDEFG", artifact_path="feature_importance_weight.png"
    )
    assert Path(file_path).name == "feature_importance_weight.png"
    assert Path(file_path).read_bytes().startswith(b"\x89PNG")


def test_download_model(ws: Workspace) -> None:
    artifact_path = "classifier"
    model_local_path = ws.download_artifacts(run_id="1234-5678-90AB-CDEFG", artifact_path=artifact_path)
    assert (Path(model_local_path) / "MLmodel").read_text().startswith("artifact_path: classifier")


def test_load_model_flavor_files(ws: Workspace) -> None:
    # mlflow.xgboost.load_model(model_local_path) reads the MLmodel file and the model it names.
    model_local_path = Path(ws.download_artifacts(run_id=RUN, artifact_path="classifier"))
    assert "xgboost" in (model_local_path / "MLmodel").read_text()
    assert (model_local_path / "model.xgb").exists()


def test_runs_uri(ws: Workspace, runs: list[runql.Run], tmp_path: Path) -> None:
    last_run = runs[-1]
    artifact_path = "classifier"
    local = ws.resolve_uri(f"runs:/{last_run.info.run_id}/{artifact_path}")
    assert (local / "MLmodel").is_file()
    copied = ws.download_artifacts(
        artifact_uri=f"runs:/{last_run.info.run_id}/{artifact_path}", dst_path=tmp_path
    )
    assert (Path(copied) / "MLmodel").read_text() == (local / "MLmodel").read_text()


# -- Get child (nested) runs ---------------------------------------------------------------------


def test_child_runs(ws: Workspace, raw: Any) -> None:
    hyperopt_run = ws.last_active_run()
    assert hyperopt_run is not None
    child_runs = ws.search_runs(filter_string=f"tags.mlflow.parentRunId='{hyperopt_run.info.run_id}'")
    expected = [
        r
        for r in active_runs(raw, [raw.active_experiment_id])
        if r["tags"].get("mlflow.parentRunId") == hyperopt_run.info.run_id
    ]
    assert ids(child_runs) == natural(expected)
    assert len(expected) > 10


# -- the support matrix's "no" cells -------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"filter_string": "metrics.auc > 0.8 OR metrics.accuracy > 0.8"},
        {"order_by": ["params.num_boost_round"]},
        {"order_by": ["tags.framework"]},
        {"filter_string": "tags.framework != 'torch'"},
    ],
)
def test_azure_refusals(ws: Workspace, kwargs: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedQueryError):
        ws.search_runs(experiment_ids=[EXPERIMENT], profile="azureml", **kwargs)


def test_rename_refused_under_azureml(tmp_path: Path) -> None:
    ws = Workspace.sample()
    with pytest.raises(UnsupportedQueryError) as raised:
        ws.rename_experiment(EXPERIMENT, "renamed", profile="azureml")
    assert raised.value.code == "unsupported-rename"
    ws.rename_experiment(EXPERIMENT, "renamed")
    assert ws.get_experiment(EXPERIMENT).name == "renamed"


def test_or_is_refused_by_mlflow_too(ws: Workspace) -> None:
    with pytest.raises(QueryError):
        ws.search_runs(
            experiment_ids=[EXPERIMENT], filter_string="metrics.auc > 0.8 OR metrics.accuracy > 0.8"
        )
