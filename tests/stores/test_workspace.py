"""The workspace API: building, saving and loading, searching, paging, editing, artifacts, errors."""

from __future__ import annotations

import base64
import json
import logging
import math
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import runql
import runql.stores.workspace as workspace_module
from runql import (
    ArgumentError,
    EvaluationError,
    NotFoundError,
    StoreError,
    UnsupportedQueryError,
    ViewType,
    Workspace,
)
from runql.engines.reference import filter_runs
from runql.language.ast import Compare, Entity, Key, Literal, Op
from runql.model.entities import Metric, RunData, latest_metric
from runql.model.paging import create_page_token, parse_page_token
from runql.model.records import run_to_record

T0 = 1_700_000_000_000


def records(count: int = 7) -> list[dict[str, Any]]:
    return [
        {
            "run_id": f"r{i}",
            "experiment_id": "1" if i % 2 else "2",
            "start_time": T0 + (i // 2) * 1000,  # pairs share a start time: run_id breaks the tie
            "end_time": T0 + 5000 + i,
            "metrics": {"m": float(i)},
            "params": {"p": str(i)},
        }
        for i in range(count)
    ]


@pytest.fixture
def ws() -> Workspace:
    return Workspace.from_records(
        experiments=[
            {"experiment_id": "1", "name": "one", "creation_time": T0},
            {"experiment_id": "2", "name": "two", "creation_time": T0 + 1},
            {"experiment_id": "3", "name": "gone", "creation_time": T0 + 2, "lifecycle_stage": "deleted"},
        ],
        runs=records(),
    )


def ids(runs: list[Any]) -> list[str]:
    return [r.info.run_id for r in runs]


# -- building --------------------------------------------------------------------------------


def test_latest_metric_rule() -> None:
    ws = Workspace.from_records(
        runs=[
            {
                "run_id": "a",
                "start_time": T0,
                "metrics": {
                    "step_wins": [
                        {"value": 1, "step": 2, "timestamp": 1},
                        {"value": 2, "step": 1, "timestamp": 9},
                    ],
                    "time_wins": [
                        {"value": 1, "step": 1, "timestamp": 5},
                        {"value": 2, "step": 1, "timestamp": 4},
                    ],
                    "value_wins": [
                        {"value": 3, "step": 0, "timestamp": 5},
                        {"value": 2, "step": 0, "timestamp": 5},
                    ],
                    "plain": 0.25,
                    "curve": [0.9, 0.5, 0.7],
                },
            }
        ]
    )
    run = ws.get_run("a")
    assert run.data.metrics == {
        "step_wins": 1.0,
        "time_wins": 1.0,
        "value_wins": 3.0,
        "plain": 0.25,
        "curve": 0.7,
    }
    assert [(m.step, m.value) for m in ws.get_metric_history("a", "curve")] == [(0, 0.9), (1, 0.5), (2, 0.7)]
    assert ws.get_metric_history("a", "plain")[0].timestamp == T0
    assert ws.get_metric_history("a", "nothing") == []


def test_runs_create_their_experiments_and_take_its_artifact_location() -> None:
    ws = Workspace.from_records(
        experiments=[{"experiment_id": "5", "name": "five", "artifact_location": "file:///tmp/five"}],
        runs=[{"run_id": "a", "experiment_id": "5"}, {"run_id": "b", "experiment_id": "6", "end_time": 3}],
    )
    assert ws.get_run("a").info.artifact_uri == "file:///tmp/five/a/artifacts"
    assert ws.get_experiment("6").name == "6"
    assert (ws.get_run("a").info.status, ws.get_run("b").info.status) == ("RUNNING", "FINISHED")


@pytest.mark.parametrize(
    "bad",
    [
        [{"run_id": "a"}, {"run_id": "a"}],
        [{"experiment_id": "1"}],
        [{"run_id": "a", "metric": {}}],
        [{"run_id": "a", "metrics": {"m": "high"}}],
        [{"run_id": "a", "start_time": "yesterday"}],
    ],
)
def test_bad_records(bad: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError):
        Workspace.from_records(runs=bad)


def test_duck_typed_entities() -> None:
    info = SimpleNamespace(
        run_id="x",
        run_name="n",
        experiment_id=4,
        user_id="u",
        status="FINISHED",
        start_time=T0,
        end_time=T0 + 1,
        artifact_uri=None,
        lifecycle_stage="active",
    )
    data = SimpleNamespace(
        metrics={"m": 2.0},
        params={"p": "1"},
        tags={"t": "v"},
        _metric_objs=[SimpleNamespace(key="m", value=2.0, timestamp=T0 + 7, step=3)],
    )
    dataset_input = SimpleNamespace(
        dataset=SimpleNamespace(name="d", digest="g"),
        tags=[SimpleNamespace(key="mlflow.data.context", value="training")],
    )
    run = SimpleNamespace(info=info, data=data, inputs=SimpleNamespace(dataset_inputs=[dataset_input]))
    experiment = SimpleNamespace(
        experiment_id="4",
        name="four",
        artifact_location=None,
        lifecycle_stage="active",
        tags={},
        creation_time=T0,
    )
    ws = Workspace.from_records(experiments=[experiment], runs=[run])
    assert ws.get_metric_history("x", "m")[0].step == 3
    got = ws.search_runs(
        experiment_ids="4", filter_string="datasets.context = 'training'", output_format="list"
    )
    assert ids(got) == ["x"]


# -- saving and loading -------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: Path) -> None:
    ws = Workspace.sample()
    ws.set_experiment(experiment_name="Default")
    target = tmp_path / "ws.jsonl"
    ws.save(target)
    back = Workspace.load(target)
    assert [run_to_record(r) for r in back.runs] == [run_to_record(r) for r in ws.runs]
    assert back.experiments == ws.experiments
    assert back.active_experiment_id == "0"
    assert back.last_active_run() is not None and back.last_active_run() == ws.last_active_run()
    nan_runs = [r for r in back.runs if any(math.isnan(v) for v in r.data.metrics.values())]
    assert nan_runs
    # Standard JSON: no NaN or Infinity tokens.
    for line in target.read_text(encoding="utf-8").splitlines():
        json.loads(line, parse_constant=lambda token: pytest.fail(f"non-standard JSON {token}"))
    assert [p.name for p in tmp_path.iterdir()] == ["ws.jsonl"]


def test_failed_save_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "ws.jsonl"
    Workspace.from_records(runs=records(2)).save(target)
    before = target.read_bytes()
    calls = []

    def broken(run: Any) -> Any:
        calls.append(run)
        if len(calls) > 3:
            raise OSError("disk full")
        return run_to_record(run)

    monkeypatch.setattr(workspace_module, "run_to_record", broken)
    with pytest.raises(OSError):
        Workspace.from_records(runs=records(7)).save(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ws.jsonl"]


def test_load_reports_the_line(tmp_path: Path) -> None:
    target = tmp_path / "bad.jsonl"
    target.write_text('{"kind": "run", "run_id": "a"}\n{not json}\n', encoding="utf-8")
    with pytest.raises(StoreError, match="line 2") as raised:
        Workspace.load(target)
    assert raised.value.code == "corrupt-store" and isinstance(raised.value, ValueError)
    target.write_text('{"kind": "workspace", "format": "something-else"}\n', encoding="utf-8")
    with pytest.raises(StoreError, match="line 1") as raised:
        Workspace.load(target)
    assert raised.value.code == "not-a-store"
    target.write_text('{"kind": "run", "run_id": "a"}\n{"kind": "run", "run_id": "a"}\n', encoding="utf-8")
    with pytest.raises(StoreError, match=f"{target}, line 2: run id 'a' appears twice"):
        Workspace.load(target)


# -- searching ------------------------------------------------------------------------------------


def test_default_order_and_max_results(ws: Workspace) -> None:
    every = ws.search_runs(experiment_ids=["1", "2"], output_format="list")
    assert ids(every) == ["r6", "r4", "r5", "r2", "r3", "r0", "r1"]
    assert ids(ws.search_runs(experiment_ids=["1", "2"], max_results=2, output_format="list")) == ["r6", "r4"]
    assert ws.search_runs(experiment_ids=["1", "2"], max_results=0, output_format="list") == []
    assert ids(ws.search_runs(experiment_ids=["1", "2"], max_results=None, output_format="list")) == ids(
        every
    )
    with pytest.raises(ArgumentError) as raised:
        ws.search_runs(experiment_ids=["1"], max_results="10")  # type: ignore[arg-type]
    assert raised.value.code == "bad-max-results"


def test_a_run_without_start_time_sorts_last() -> None:
    ws = Workspace.from_records(runs=[{"run_id": "a"}, {"run_id": "b", "start_time": T0}, {"run_id": "c"}])
    assert ids(ws.search_runs(experiment_ids=["0"], output_format="list")) == ["b", "a", "c"]
    assert ids(
        ws.search_runs(experiment_ids=["0"], order_by=["attributes.start_time"], output_format="list")
    ) == [
        "b",
        "a",
        "c",
    ]


def test_ids_and_names_are_exclusive(ws: Workspace) -> None:
    with pytest.raises(ArgumentError) as raised:
        ws.search_runs(experiment_ids=["1"], experiment_names=["one"])
    assert raised.value.code == "experiment-ids-and-names"
    assert ids(ws.search_runs(experiment_ids=[], experiment_names=["one"], output_format="list")) == [
        "r5",
        "r3",
        "r1",
    ]


def test_unknown_names_warn_and_are_skipped(ws: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="runql"):
        frame = ws.search_runs(experiment_names=["nope"])
    assert "Cannot retrieve experiment by name nope" in caplog.text
    assert list(frame.columns) == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    assert len(frame) == 0


def test_active_experiment(ws: Workspace) -> None:
    assert ws.search_runs(output_format="list") == []  # "0", the Default experiment, does not exist here
    ws.set_experiment(experiment_id="2")
    assert ids(ws.search_runs(output_format="list")) == ["r6", "r4", "r2", "r0"]
    created = ws.set_experiment("brand new")
    assert ws.active_experiment_id == created.experiment_id == "4"
    with pytest.raises(ValueError, match="deleted"):
        ws.set_experiment("gone")
    with pytest.raises(NotFoundError):
        ws.set_experiment(experiment_id="99")
    with pytest.raises(ValueError):
        ws.set_experiment()


def test_view_types_and_all_experiments(ws: Workspace) -> None:
    ws.delete_run("r6")
    ws.create_run("1", start_time=T0)
    ws.restore_experiment("3")
    ws.create_run("3", start_time=T0)
    ws.delete_experiment("3")
    assert "r6" not in ids(ws.search_runs(experiment_ids=["2"], output_format="list"))
    assert ids(
        ws.search_runs(experiment_ids=["2"], run_view_type=ViewType.DELETED_ONLY, output_format="list")
    ) == ["r6"]
    assert len(ws.search_runs(experiment_ids=["2"], run_view_type=3, output_format="list")) == 4
    assert len(ws.search_runs(experiment_ids=["2"], run_view_type="all", output_format="list")) == 4
    every = ws.search_runs(search_all_experiments=True, run_view_type=ViewType.ALL, output_format="list")
    assert {r.info.experiment_id for r in every} == {"1", "2"}
    with pytest.raises(ValueError):
        ws.search_runs(experiment_ids=["1"], run_view_type=7)


def test_workspace_profile(ws: Workspace) -> None:
    azure = Workspace.from_records(runs=records(), profile="azureml")
    with pytest.raises(UnsupportedQueryError):
        azure.search_runs(experiment_ids=["1"], order_by=["metrics.m"])
    assert len(azure.search_runs(experiment_ids=["1"], order_by=["metrics.m"], profile="mlflow")) == 3


def test_evaluation_error_for_a_mistyped_tree() -> None:
    runs = Workspace.from_records(runs=records(2)).runs
    with pytest.raises(EvaluationError) as raised:
        filter_runs(runs, Compare(Key(Entity.METRIC, "m"), Op.EQ, Literal("1")))
    assert raised.value.code == "bad-value-type"
    with pytest.raises(EvaluationError) as raised:
        filter_runs(runs, Compare(Key(Entity.ATTRIBUTE, "colour"), Op.EQ, Literal("red")))
    assert raised.value.code == "unknown-attribute"
    with pytest.raises(EvaluationError):
        filter_runs(runs, Compare(Key(Entity.METRIC, "m"), Op.LIKE, Literal("1%")))


# -- paging --------------------------------------------------------------------------------------


def test_pages_chain_to_the_full_result(ws: Workspace) -> None:
    full = ids(ws.search_runs(experiment_ids=["1", "2"], order_by=["metrics.m DESC"], output_format="list"))
    pages, token = [], None
    while True:
        page, token = ws.search_runs_paged(
            ["1", "2"], max_results=3, order_by=["metrics.m DESC"], page_token=token
        )
        pages.append(ids(page))
        if token is None:
            break
        assert json.loads(base64.b64decode(token)) == {"offset": 3 * len(pages)}
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [run_id for page in pages for run_id in page] == full


def test_exactly_full_last_page_has_no_token(ws: Workspace) -> None:
    page, token = ws.search_runs_paged(["1"], max_results=3)
    assert (len(page), token) == (3, None)
    page, token = ws.search_runs_paged(["1"], max_results=None)
    assert (len(page), token) == (3, None)


def test_tokens_as_mlflow_makes_them() -> None:
    assert create_page_token(5) == "eyJvZmZzZXQiOiA1fQ=="
    assert parse_page_token(b"eyJvZmZzZXQiOiA1fQ==") == 5
    assert parse_page_token("eyJvZmZzZXQiOiA1fQ==\n") == 5  # decoding is lenient, as in MLflow
    assert parse_page_token(None) == parse_page_token("") == 0
    assert parse_page_token(base64.b64encode(b'{"offset": "7"}')) == 7


def _token(payload: str) -> str:
    return base64.b64encode(payload.encode()).decode()


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("abc", "could not base64-decode"),
        ("é", "could not base64-decode"),
        (_token("not json"), "decoded value="),
        (_token('{"offset": 0}'), "parsed value="),
        (_token('{"other": 1}'), "parsed value="),
        (_token("[1, 2]"), "parsed value="),
        (_token('{"offset": "five"}'), "not stringable"),
        (_token('{"offset": [1]}'), "not stringable"),
        (_token('{"offset": -2}'), "negative"),
    ],
)
def test_bad_tokens(ws: Workspace, token: str, message: str) -> None:
    with pytest.raises(ArgumentError, match=message) as raised:
        ws.search_runs_paged(["1"], page_token=token)
    assert raised.value.code == "bad-page-token"
    assert raised.value.message.startswith("Invalid page token")


@pytest.mark.parametrize("size", [0, -1, 50001, True, 2.5])
def test_page_size_bounds(ws: Workspace, size: Any) -> None:
    with pytest.raises(ArgumentError, match="max_results") as raised:
        ws.search_runs_paged(["1"], max_results=size)
    assert raised.value.code == "bad-max-results"
    with pytest.raises(ArgumentError):
        ws.search_experiments_paged(max_results=size)


def test_experiment_search_and_pages(ws: Workspace) -> None:
    assert [e.experiment_id for e in ws.search_experiments()] == ["2", "1"]
    assert [e.experiment_id for e in ws.search_experiments(view_type=ViewType.ALL, max_results=2)] == [
        "3",
        "2",
    ]
    page, token = ws.search_experiments_paged(view_type=ViewType.ALL, max_results=2)
    rest, last = ws.search_experiments_paged(view_type=ViewType.ALL, max_results=2, page_token=token)
    assert [e.experiment_id for e in page + rest] == ["3", "2", "1"] and last is None


# -- editing -------------------------------------------------------------------------------------


def test_tracking_flow(ws: Workspace) -> None:
    experiment_id = ws.create_experiment("flow", tags={"framework": "torch"})
    with pytest.raises(ValueError, match="already exists"):
        ws.create_experiment("flow")
    run = ws.create_run(experiment_id, run_name="first", start_time=T0)
    assert ws.last_active_run() is run
    assert run.data.tags["mlflow.runName"] == "first" and run.info.status == "RUNNING"
    ws.log_metric(run.info.run_id, "loss", 0.5, step=1, timestamp=T0 + 1)
    ws.log_metric(run.info.run_id, "loss", 0.9, step=0, timestamp=T0 + 2)
    ws.log_param(run.info.run_id, "lr", 0.1)
    ws.log_param(run.info.run_id, "lr", "0.1")
    with pytest.raises(ValueError, match="Changing param values"):
        ws.log_param(run.info.run_id, "lr", 0.2)
    ws.set_tag(run.info.run_id, "mlflow.runName", "renamed")
    ws.set_terminated(run.info.run_id, "FAILED", end_time=T0 + 10)
    got = ws.search_runs(
        experiment_ids=[experiment_id],
        filter_string="metrics.loss = 0.5 AND params.lr = '0.1' AND attributes.run_name = 'renamed' "
        "AND attributes.status = 'FAILED'",
        output_format="list",
    )
    assert got == [run]
    assert [m.value for m in ws.get_metric_history(run.info.run_id, "loss")] == [0.5, 0.9]
    ws.delete_run(run.info.run_id)
    with pytest.raises(ValueError, match="active"):
        ws.log_metric(run.info.run_id, "loss", 1.0)
    ws.restore_run(run.info.run_id)
    ws.delete_experiment(experiment_id)
    assert ws.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert experiment_id not in [e.experiment_id for e in ws.search_experiments()]
    ws.restore_experiment(experiment_id)
    assert ws.get_run(run.info.run_id).info.lifecycle_stage == "active"
    with pytest.raises(ValueError):
        ws.set_terminated(run.info.run_id, "DONE")


def test_lookups_that_fail(ws: Workspace) -> None:
    with pytest.raises(NotFoundError):
        ws.get_run("nope")
    with pytest.raises(NotFoundError):
        ws.get_experiment("nope")
    with pytest.raises(NotFoundError):
        ws.get_metric_history("nope", "m")
    assert ws.get_experiment_by_name("nope") is None
    ws.rename_experiment("1", "uno")
    with pytest.raises(ValueError, match="already exists"):
        ws.rename_experiment("1", "two")


# -- artifacts -----------------------------------------------------------------------------------


@pytest.fixture
def with_artifacts(tmp_path: Path) -> Workspace:
    root = tmp_path / "store"
    folder = root / "a" / "artifacts"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "MLmodel").write_text("flavors: {}\n")
    (folder / "plot.png").write_bytes(b"png")
    return Workspace.from_records(
        runs=[
            {"run_id": "a", "artifact_uri": folder.as_uri()},
            {"run_id": "b", "artifact_uri": str(root / "b" / "artifacts")},
            {"run_id": "c", "artifact_uri": "s3://bucket/c/artifacts"},
            {"run_id": "d"},
        ]
    )


def test_list_artifacts(with_artifacts: Workspace) -> None:
    ws = with_artifacts
    assert [(f.path, f.is_dir, f.file_size) for f in ws.list_artifacts("a")] == [
        ("model", True, None),
        ("plot.png", False, 3),
    ]
    assert [f.path for f in ws.list_artifacts("a", "model")] == ["model/MLmodel"]
    assert ws.list_artifacts("a", "plot.png") == []
    assert ws.list_artifacts("b") == []
    with pytest.raises(ValueError, match="inside"):
        ws.list_artifacts("a", "../..")


def test_download_artifacts(with_artifacts: Workspace, tmp_path: Path) -> None:
    ws = with_artifacts
    copied = Path(ws.download_artifacts("a", "model", dst_path=tmp_path / "out"))
    assert copied == tmp_path / "out" / "model" and (copied / "MLmodel").read_text() == "flavors: {}\n"
    single = Path(ws.download_artifacts(artifact_uri="runs:/a/plot.png"))
    assert single.read_bytes() == b"png"
    assert ws.resolve_uri("runs:/a/model").is_dir()
    with pytest.raises(NotFoundError):
        ws.download_artifacts("a", "missing.txt")
    with pytest.raises(ValueError):
        ws.download_artifacts("a", "model", artifact_uri="runs:/a/model")


def test_remote_and_missing_locations(with_artifacts: Workspace) -> None:
    with pytest.raises(ValueError, match="s3://"):
        with_artifacts.list_artifacts("c")
    with pytest.raises(ValueError, match="s3://"):
        with_artifacts.download_artifacts("c", "model")
    with pytest.raises(NotFoundError):
        with_artifacts.list_artifacts("d")
    with pytest.raises(ValueError, match="mlflow-artifacts://"):
        Workspace.sample().list_artifacts("1234-5678-90AB-CDEFG")


def test_sample_is_deterministic_and_varied(tmp_path: Path) -> None:
    one, two = Workspace.sample(), Workspace.sample()
    assert [run_to_record(r) for r in one.runs] == [run_to_record(r) for r in two.runs]
    runs = one.runs
    assert 200 <= len(runs) <= 400
    assert {r.info.status for r in runs} == {"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"}
    assert any(r.info.lifecycle_stage == "deleted" for r in runs)
    assert [e.name for e in one.experiments if e.lifecycle_stage == "deleted"] == ["archived-prototype"]
    assert sum("mlflow.parentRunId" in r.data.tags for r in runs) >= 10
    assert all(r.info.end_time is None for r in runs if r.info.status in ("RUNNING", "SCHEDULED"))
    with_files = Workspace.sample(artifact_root=tmp_path)
    assert with_files.list_artifacts("1234-5678-90AB-CDEFG")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"run_id": "a", "start_time": float("inf")}, "start_time must be milliseconds"),
        ({"run_id": "a", "params": ["x"]}, "params must be a mapping"),
        ({"run_id": "a", "tags": 5}, "tags must be a mapping"),
    ],
)
def test_malformed_records_are_value_errors(record: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        Workspace.from_records(runs=[record])
    saved = tmp_path / "w.jsonl"
    saved.write_text(json.dumps({"kind": "run", **record}).replace("Infinity", "1e400") + "\n")
    with pytest.raises(ValueError, match=f"{saved}, line 1: {message}"):
        Workspace.load(saved)


_POINTS = st.lists(
    st.tuples(st.sampled_from([0.0, 1.0, -1.0, math.nan]), st.integers(0, 2), st.integers(0, 2)), min_size=1
)


@given(points=_POINTS, plain=st.sampled_from([None, 0.5, math.nan]))
def test_logging_keeps_the_latest_point_as_mlflow_chooses_it(
    points: list[tuple[float, int, int]], plain: float | None
) -> None:
    data = RunData(metrics={} if plain is None else {"m": plain})
    for value, timestamp, step in points:
        data.log(Metric("m", value, timestamp, step), default_timestamp=1)
    expected = latest_metric(data.history("m")).value
    assert data.metrics["m"] == expected or (math.isnan(data.metrics["m"]) and math.isnan(expected))


def test_a_key_no_run_has_is_warned_of_and_the_answer_kept() -> None:
    ws = runql.Workspace.sample()
    with pytest.warns(runql.QueryWarning, match="has a metric 'acc'; did you mean 'accuracy'") as caught:
        found = ws.search_runs(
            search_all_experiments=True, filter_string="metrics.acc > 0.8", output_format="list"
        )
    assert found == [] and all(w.filename == __file__ for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error", runql.QueryWarning)  # keys some run has: no warning
        ws.search_runs(
            search_all_experiments=True, filter_string="metrics.accuracy > 0.8", order_by=["params.model"]
        )


def test_last_active_run_of_a_store_is_the_latest_started_of_the_active_experiment() -> None:
    ws = Workspace.from_records(
        experiments=[{"experiment_id": "0", "name": "Default"}, {"experiment_id": "1", "name": "other"}],
        runs=[
            {"run_id": "a", "experiment_id": "0", "start_time": T0},
            {"run_id": "b", "experiment_id": "0", "start_time": T0 + 5},
            {"run_id": "c", "experiment_id": "0", "start_time": T0 + 9, "lifecycle_stage": "deleted"},
            {"run_id": "d", "experiment_id": "1", "start_time": T0 + 20},
        ],
    )
    found = ws.last_active_run()
    assert found is not None and found.info.run_id == "b"


def test_an_unknown_experiment_name_is_logged_on_one_short_line(caplog: pytest.LogCaptureFixture) -> None:
    ws = Workspace.sample()
    hostile = "x" * 10**6 + "\nforged: a second log line"
    with caplog.at_level(logging.WARNING, logger="runql"):
        ws.search_runs(experiment_names=[hostile])
    [record] = [r for r in caplog.records if r.name == "runql"]
    message = record.getMessage()
    assert "\n" not in message and len(message) < 400


def test_a_bad_view_type_of_experiments_names_its_argument() -> None:
    with pytest.raises(runql.ArgumentError, match="view_type") as caught:
        Workspace.sample().search_experiments(view_type="bogus")
    assert caught.value.code == "bad-view-type" and "run_view_type" not in str(caught.value)


def test_a_key_some_searched_run_has_is_checked_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The absent-key warning reads the columns of the keys the query names; it lists every key of a
    kind only when one is absent, for the close keys it names."""
    from runql.engines.columnar import ColumnarRuns

    ws = Workspace.from_records(
        experiments=[{"experiment_id": "1", "name": "one"}],
        runs=[
            {
                "run_id": "a",
                "experiment_id": "1",
                "metrics": {"loss": 0.5, **{f"k{i}": 1.0 for i in range(50)}},
            },
            {"run_id": "b", "experiment_id": "1", "metrics": {"accuracy": 0.9}},
        ],
    )

    def listed(*args: Any) -> Any:
        raise AssertionError("every key was listed")

    monkeypatch.setattr(ColumnarRuns, "key_names", listed)
    # The page holds run b alone, which lacks loss; run a, also searched, has it: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = ws.search_runs(["1"], "metrics.loss IS NULL", profile="extended", output_format="list")
    assert [r.info.run_id for r in found] == ["b"]
    # An absent key is still warned of, with the close key some run has.
    with pytest.warns(runql.QueryWarning, match="accuracy"):
        ws.search_runs(["1"], "metrics.acuracy > 0", output_format="list")
