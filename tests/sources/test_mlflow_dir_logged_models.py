"""The logged models of an mlruns folder, written by MLflow's own tracking FileStore and read by runql:
the models are those MLflow reads back, field for field, except that runql keeps every point of a
metric (MLflow's FileStore keeps one per dataset, its SQL store every one)."""

from __future__ import annotations

import dataclasses
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("yaml")
pytest.importorskip("mlflow")

from mlflow.entities import LoggedModelParameter, LoggedModelStatus, LoggedModelTag, Metric
from mlflow.exceptions import MlflowException
from mlflow.store.tracking.file_store import FileStore
from support.mlflow_stores import tracking_uri

from runql.errors import StoreError
from runql.model.logged_models import LoggedModel, LoggedModelMetric, logged_model_from_entity
from runql.sources.mlflow_dir_logged_models import read_logged_models_dir


@pytest.fixture
def mlflow_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # MLflow 3 refuses its file stores unless asked; anything that opens a tracking client goes to a
    # folder of the test, never to a database in the working folder.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "tracking").as_uri())
    monkeypatch.chdir(tmp_path)
    with tracking_uri(None):  # the variable decides, whatever an earlier test set
        yield
    assert not (tmp_path / "mlflow.db").exists()


class Written:
    def __init__(self, root: Path, store: FileStore, ids: dict[str, str], experiments: tuple[str, str]):
        self.root, self.store, self.ids, self.experiments = root, store, ids, experiments

    def model_folder(self, name: str) -> Path:
        return next(self.root.glob(f"**/models/{self.ids[name]}/meta.yaml")).parent


@pytest.fixture
def written(tmp_path: Path, mlflow_env: None) -> Written:
    """The models of the SQL test, written by MLflow's FileStore: a finalized model with tags (one of a
    nested key), params and metrics on datasets and on none (NaN, an infinity, a point logged by a run
    of another experiment, which MLflow files under that experiment); a failed model of an experiment
    deleted afterwards; a deleted model; a bare one."""
    root = tmp_path / "mlruns"
    store = FileStore(root.as_uri())
    live = store.create_experiment("live")
    gone = store.create_experiment("gone")
    run = store.create_run(live, "u", 1000, [], "trainer").info.run_id
    other = store.create_run(gone, "u", 1000, [], "evaluator").info.run_id
    first = store.create_logged_model(
        live,
        name="first",
        source_run_id=run,
        tags=[LoggedModelTag("team", "risk"), LoggedModelTag("a/b", "nested")],
        params=[LoggedModelParameter("lr", "0.01"), LoggedModelParameter("note", "two\nlines")],
        model_type="agent",
    ).model_id
    points = [
        Metric("acc", 0.5, 100, 1, model_id=first, dataset_name="eval", dataset_digest="d1"),
        Metric("acc", 0.7, 200, 2, model_id=first, dataset_name="eval", dataset_digest="d1"),
        Metric("acc", 0.9, 210, 2, model_id=first, dataset_name="train", dataset_digest="d2"),
        Metric("acc", 0.6, 150, 3, model_id=first),
        Metric("acc", 0.65, 160, 3, model_id=first),
        Metric("loss", math.nan, 150, 0, model_id=first),
        Metric("big", math.inf, 150, 0, model_id=first),
    ]
    for point in points:
        store.log_metric(run, point)
    store.log_logged_model_params(first, [LoggedModelParameter("later", "yes")])
    store.set_logged_model_tags(first, [LoggedModelTag("stage", "final")])
    store.finalize_logged_model(first, LoggedModelStatus.READY)
    failed = store.create_logged_model(gone, name="failed", params=[LoggedModelParameter("k", "v")])
    store.log_metric(other, Metric("f1", 0.1, 10, 0, model_id=failed.model_id))
    store.finalize_logged_model(failed.model_id, LoggedModelStatus.FAILED)
    deleted = store.create_logged_model(live, name="deleted", tags=[LoggedModelTag("x", "y")])
    store.delete_logged_model(deleted.model_id)
    bare = store.create_logged_model(live, name="bare")
    # Last: MLflow finds a model by the first folder of its id, and this one has no meta.yaml.
    store.log_metric(other, Metric("acc", 0.4, 300, 4, model_id=first))
    store.delete_experiment(gone)
    ids = {"first": first, "failed": failed.model_id, "deleted": deleted.model_id, "bare": bare.model_id}
    return Written(root, store, ids, (live, gone))


def _point(point: LoggedModelMetric) -> tuple[Any, ...]:
    """A point as a sortable tuple that compares NaN equal to NaN."""
    return (
        point.model_id,
        point.key,
        point.dataset_name or "",
        point.dataset_digest or "",
        point.timestamp,
        point.step,
        point.run_id,
        repr(point.value),
    )


def _without_metrics(model: LoggedModel) -> dict[str, Any]:
    fields = {f.name: getattr(model, f.name) for f in dataclasses.fields(LoggedModel)}
    del fields["metrics"], fields["lifecycle_stage"]  # each compared on its own
    return fields


def _raw_points(root: Path, model_id: str) -> list[tuple[Any, ...]]:
    """Every line of every metric file of the model, wherever MLflow filed it, parsed here."""
    found = []
    for folder in root.glob(f"**/models/{model_id}/metrics"):
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            key = path.relative_to(folder).as_posix()
            for line in path.read_text(encoding="utf-8").splitlines():
                ts, value, step, run_id, *dataset = line.split(" ")
                name, digest = dataset or (None, None)
                found.append(
                    _point(
                        LoggedModelMetric(
                            key, float(value), int(ts), int(step), run_id, name, digest, model_id
                        )
                    )
                )
    return sorted(found)


def _mlflow_models(written: Written) -> dict[str, Any]:
    """Every model as MLflow reads it back: those a search finds (a deleted experiment's included: its
    get_logged_model looks for a model only under the live experiments' folders), and the deleted one."""
    found = {
        m.model_id: m for m in written.store.search_logged_models(list(written.experiments), max_results=100)
    }
    deleted = written.ids["deleted"]
    assert deleted not in found
    found[deleted] = written.store.get_logged_model(deleted, allow_deleted=True)
    with pytest.raises(MlflowException, match="not found"):
        written.store.get_logged_model(deleted)
    return found


def test_the_models_are_those_mlflow_reads(written: Written) -> None:
    models = read_logged_models_dir(written.root)
    assert sorted(m.name for m in models) == ["bare", "deleted", "failed", "first"]
    entities = _mlflow_models(written)
    assert sorted(entities) == sorted(m.model_id for m in models)
    for model in models:
        expected = logged_model_from_entity(entities[model.model_id])
        assert _without_metrics(model) == _without_metrics(expected)
        # MLflow keeps the largest point of each metric and dataset (of the model's own folder);
        # runql keeps them all, and those are among them.
        mine = sorted(_point(p) for p in model.metrics)
        assert mine == _raw_points(written.root, model.model_id)
        assert {_point(p) for p in expected.metrics} <= set(mine)
        # A search leaves the deleted model out; the models of a deleted experiment stay searchable.
        assert model.lifecycle_stage == ("deleted" if model.name == "deleted" else "active")


def test_what_the_models_hold(written: Written) -> None:
    """The models written, spelled out: the comparisons above are not vacuous."""
    by_name = {m.name: m for m in read_logged_models_dir(written.root)}
    live, gone = written.experiments
    first = by_name["first"]
    assert (first.experiment_id, first.status, first.model_type, first.lifecycle_stage) == (
        live,
        "READY",
        "agent",
        "active",
    )
    assert first.source_run_id is not None
    assert first.tags == {"team": "risk", "a/b": "nested", "stage": "final"}
    assert first.params == {"lr": "0.01", "note": "two\nlines", "later": "yes"}
    acc = sorted((p.value, p.dataset_name, p.dataset_digest) for p in first.metrics if p.key == "acc")
    assert acc == [
        (0.4, None, None),  # logged by a run of the other experiment: MLflow's FileStore misses it
        (0.5, "eval", "d1"),
        (0.6, None, None),
        (0.65, None, None),
        (0.7, "eval", "d1"),
        (0.9, "train", "d2"),
    ]
    mlflow_acc = [m for m in written.store.get_logged_model(first.model_id).metrics if m.key == "acc"]
    assert sorted(m.value for m in mlflow_acc) == [0.65, 0.7, 0.9]
    assert first.latest_metric("acc") == 0.4
    # The file keeps NaN and the infinity as logged.
    assert math.isnan(first.metric_values("loss")[0])
    assert first.metric_values("big") == (math.inf,)
    failed = by_name["failed"]
    assert (failed.experiment_id, failed.status, failed.params) == (gone, "FAILED", {"k": "v"})
    assert [(p.key, p.value) for p in failed.metrics] == [("f1", 0.1)]
    assert failed.lifecycle_stage == "active"  # its experiment is deleted, not the model
    assert (written.root / ".trash" / gone / "models" / failed.model_id).is_dir()
    assert (by_name["deleted"].lifecycle_stage, by_name["deleted"].tags) == ("deleted", {"x": "y"})
    bare = by_name["bare"]
    assert (bare.status, bare.tags, bare.params, bare.metrics) == ("PENDING", {}, {}, [])


def test_a_store_without_models_has_none(tmp_path: Path, mlflow_env: None) -> None:
    FileStore((tmp_path / "mlruns").as_uri()).create_experiment("empty")
    assert read_logged_models_dir(tmp_path / "mlruns") == []
    assert read_logged_models_dir(tmp_path / "nothing") == []


def test_a_folder_a_removed_model_left_behind_is_passed_over(written: Written) -> None:
    """MLflow removes a model for good (its garbage collection) by its own folder, and leaves the folder
    of points logged from another experiment: no model, as for MLflow."""
    shutil.rmtree(written.model_folder("first"))
    assert list(written.root.glob(f"**/models/{written.ids['first']}/metrics/acc"))
    assert sorted(m.name for m in read_logged_models_dir(written.root)) == ["bare", "deleted", "failed"]


@pytest.mark.parametrize(
    ("model", "path", "text"),
    [
        ("first", "meta.yaml", "- not\n- a mapping\n"),
        ("first", "meta.yaml", "name: [first\n"),
        ("first", "meta.yaml", ""),
        ("bare", "metrics/acc", "1 2 3\n"),
        ("bare", "metrics/acc", "1 high 3 r\n"),
        ("bare", "metrics/acc", "1 2 3 r eval\n"),
        ("bare", "metrics/acc", ""),
    ],
)
def test_a_corrupt_file_names_it(written: Written, model: str, path: str, text: str) -> None:
    corrupt = written.model_folder(model) / path
    corrupt.parent.mkdir(exist_ok=True)
    corrupt.write_text(text, encoding="utf-8")
    with pytest.raises(StoreError) as raised:
        read_logged_models_dir(written.root)
    assert raised.value.where == str(corrupt)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "9"),
        ("status", "READY"),
        ("status", "null"),
        ("model_id", "m-elsewhere"),
        ("experiment_id", "'12345'"),
        ("creation_timestamp", "soon"),
        ("lifecycle_stage", "gone"),
        ("name", "[a, b]"),
        ("artifact_location", "null"),
    ],
)
def test_a_field_mlflow_would_not_write_names_the_meta_yaml(written: Written, field: str, value: str) -> None:
    meta = written.model_folder("first") / "meta.yaml"
    lines = [
        line for line in meta.read_text(encoding="utf-8").splitlines() if not line.startswith(f"{field}:")
    ]
    meta.write_text("\n".join([*lines, f"{field}: {value}"]) + "\n", encoding="utf-8")
    with pytest.raises(StoreError) as raised:
        read_logged_models_dir(written.root)
    assert raised.value.where == str(meta)


def test_a_stray_point_is_read_as_strictly(written: Written) -> None:
    _, gone = written.experiments
    stray = written.root / ".trash" / gone / "models" / written.ids["first"] / "metrics" / "acc"
    assert not (stray.parent.parent / "meta.yaml").exists()
    stray.write_text("a b c d\n", encoding="utf-8")
    with pytest.raises(StoreError) as raised:
        read_logged_models_dir(written.root)
    assert raised.value.where == str(stray)
