"""Readers of MLflow stores against MLflow itself.

MLflow writes the conformance runs (tests/conformance/evaluation.json) into a file store and a
SQLite database, with metric histories, nested ``/`` keys, a parent run, dataset inputs, deleted
runs and a deleted experiment. Then:

1. each store's direct reader gives the same workspace as reading it through ``MlflowClient``, and
   the two stores give the same runs as each other;
2. every conformance query of the mlflow profile returns, on each reader's workspace, the run ids
   ``mlflow.search_runs`` returns on the store, in the same order; the DataFrames match too;
3. a truncated ``meta.yaml``, a bad metric line and a database missing a table give a
   :class:`StoreError` naming the file or table.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("yaml")
sa = pytest.importorskip("sqlalchemy")

import pandas as pd  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402
from support.conformance_store import CONFORMANCE, write_store  # noqa: E402
from support.mlflow_stores import tracking_uri  # noqa: E402

from runql import MissingDependencyError, StoreError, Workspace, from_mlflow, from_mlflow_db, from_mlflow_dir  # noqa: E402
from runql.common.optional import progress_bar  # noqa: E402
from runql.sources import source_kind  # noqa: E402


class Store:
    def __init__(self, kind: str, uri: str, location: Path, ids: dict[str, dict[str, str]]) -> None:
        self.kind = kind
        self.uri = uri
        self.location = location
        self.experiments = ids["experiments"]
        self.runs = ids["runs"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Store]]:
    previous = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    root = tmp_path_factory.mktemp("stores")
    folder = root / "mlruns"
    database = root / "mlflow.db"
    file_uri, db_uri = folder.as_uri(), f"sqlite:///{database}"
    made = {
        "dir": Store("dir", file_uri, folder, write_store(file_uri)),
        "db": Store("db", db_uri, database, write_store(db_uri)),
    }
    yield made
    if previous is None:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
    else:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = previous


@pytest.fixture(scope="module")
def workspaces(stores: dict[str, Store]) -> dict[str, Workspace]:
    return {
        "dir": from_mlflow_dir(stores["dir"].location),
        "dir-client": from_mlflow(stores["dir"].uri, with_history=True),
        "db": from_mlflow_db(stores["db"].uri),
        "db-client": from_mlflow(stores["db"].uri, with_history=True),
    }


def _number(value: float) -> Any:
    if math.isnan(value):
        return "NaN"
    # MLflow's SQL store keeps an infinite metric as the largest finite float.
    return math.copysign(math.inf, value) if abs(value) == sys.float_info.max else value


def _run_shape(ws: Workspace, run: Any, rename: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything a run holds, ids renamed through ``rename`` so runs of two stores compare."""
    rename = rename or {}
    info = run.info
    return {
        "run_id": rename.get(info.run_id, info.run_id),
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage,
        "metrics": {k: _number(v) for k, v in run.data.metrics.items()},
        "histories": {
            k: sorted((p.step, p.timestamp, _number(p.value)) for p in ws.get_metric_history(info.run_id, k))
            for k in run.data.metrics
        },
        "params": dict(run.data.params),
        "tags": {k: rename.get(v, v) for k, v in run.data.tags.items()},
        "inputs": [
            (
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                d.dataset.source,
                {t.key: t.value for t in d.tags},
            )
            for d in run.inputs.dataset_inputs
        ],
    }


def _shape(ws: Workspace, rename: dict[str, str] | None = None) -> dict[str, Any]:
    rename = rename or {}
    return {
        "experiments": sorted((e.name, e.lifecycle_stage, sorted(e.tags.items())) for e in ws.experiments),
        "runs": {
            rename.get(r.info.run_id, r.info.run_id): _run_shape(ws, r, rename)
            for r in ws.runs
            if r.info.run_id in rename or not rename
        },
    }


@pytest.mark.parametrize("kind", ["dir", "db"])
def test_direct_reader_equals_mlflow_client(workspaces: dict[str, Workspace], kind: str) -> None:
    direct, client = workspaces[kind], workspaces[f"{kind}-client"]
    assert _shape(direct) == _shape(client)
    for experiment in client.experiments:
        ours = direct.get_experiment(experiment.experiment_id)
        assert (ours.name, ours.artifact_location, ours.creation_time, ours.last_update_time) == (
            experiment.name,
            experiment.artifact_location,
            experiment.creation_time,
            experiment.last_update_time,
        )
    for run in client.runs:
        assert direct.get_run(run.info.run_id).info.artifact_uri == run.info.artifact_uri


def test_file_store_and_database_hold_the_same_runs(
    stores: dict[str, Store], workspaces: dict[str, Workspace]
) -> None:
    by_dir = {v: k for k, v in stores["dir"].runs.items()}
    by_db = {v: k for k, v in stores["db"].runs.items()}
    dir_shape = _shape(workspaces["dir"], by_dir)["runs"]
    db_shape = _shape(workspaces["db"], by_db)["runs"]
    for shape in (*dir_shape.values(), *db_shape.values()):
        if shape["run_id"] == "r10":  # MLflow names an unnamed run at random
            shape["run_name"] = shape["tags"]["mlflow.runName"] = None
    assert dir_shape == db_shape
    assert len(dir_shape) == len(CONFORMANCE["runs"])


def test_what_mlflow_logged_is_read_back(stores: dict[str, Store], workspaces: dict[str, Workspace]) -> None:
    for name in ("dir", "db"):
        ws = workspaces[name]
        ids = stores[name].runs
        first, second = ws.get_run(ids["r01"]), ws.get_run(ids["r02"])
        assert first.data.tags["nested/deep/key"] == "yes"
        assert first.data.params["opt/lr"] == "0.1"
        assert second.data.tags["mlflow.parentRunId"] == ids["r01"]
        history = sorted((p.step, p.timestamp, p.value) for p in ws.get_metric_history(ids["r01"], "loss"))
        assert history == [(0, 1700000000000, 0.9), (1, 1700000000005, 0.7), (1, 1700000000010, 0.5)]
        assert first.data.metrics["loss"] == 0.5
        contexts = sorted((d.dataset.name, d.context) for d in first.inputs.dataset_inputs)
        assert contexts == [("eval", "evaluation"), ("train", "training")]
        assert ws.get_run(ids["r13"]).info.lifecycle_stage == "deleted"
        # Deleting an experiment deletes its runs, in both stores.
        assert ws.get_run(ids["r15"]).info.lifecycle_stage == "deleted"
        assert ws.get_experiment_by_name("exp-old").lifecycle_stage == "deleted"


def test_history_is_kept_whole_and_in_logged_order_by_the_file_reader(
    stores: dict[str, Store], workspaces: dict[str, Workspace]
) -> None:
    loss = workspaces["dir"].get_metric_history(stores["dir"].runs["r01"], "loss")
    logged = [p for p in CONFORMANCE["runs"][0]["metrics"]["loss"]]
    assert [(p.value, p.step, p.timestamp) for p in loss] == [
        (p["value"], p["step"], p["timestamp"]) for p in logged
    ]


def test_client_without_history_reads_each_history_when_asked(
    stores: dict[str, Store], workspaces: dict[str, Workspace]
) -> None:
    ws = from_mlflow(stores["db"].uri)
    full = workspaces["db"]
    for run in ws.runs:
        run_id = run.info.run_id
        assert {k: _number(v) for k, v in run.data.metrics.items()} == {
            k: _number(v) for k, v in full.get_run(run_id).data.metrics.items()
        }
        for key in run.data.metrics:
            points = [ws.get_metric_history(run_id, key), full.get_metric_history(run_id, key)]
            read, expected = ([(m.step, m.timestamp, _number(m.value)) for m in p] for p in points)
            assert read == expected


def test_client_reads_only_the_experiments_asked_for(stores: dict[str, Store]) -> None:
    wanted = stores["db"].experiments["1"]
    ws = from_mlflow(stores["db"].uri, experiment_ids=[wanted])
    assert [e.experiment_id for e in ws.experiments] == [wanted]
    assert {r.info.experiment_id for r in ws.runs} == {wanted}


# -- searches agree with mlflow.search_runs ----------------------------------------------------


def _cases(entity: str) -> list[dict[str, Any]]:
    return [
        c
        for c in CONFORMANCE["cases"]
        if c.get("entity", "runs") == entity
        and c.get("profile", "mlflow") == "mlflow"
        and "error" not in c["expect"]
    ]


RUN_CASES = _cases("runs")
# Checklist rows where MLflow's SQL store answers unlike its in-memory search, which runql follows
# (docs/compatibility.md, "Evaluation and output"): the run name, LIKE across newlines, ILIKE on
# non-ASCII text, infinite metrics, a repeated order_by key, experiment ids as strings.
SQL_DIFFERENCES = {34, 35, 37, 39, 49, 51}
EXPERIMENT_CASES = _cases("experiments")


def _arguments(case: dict[str, Any], store: Store) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "filter_string": case["filter"],
        "order_by": case.get("order_by"),
        "run_view_type": case.get("view_type", ViewType.ACTIVE_ONLY),
        "output_format": "list",
    }
    if "max_results" in case:
        arguments["max_results"] = case["max_results"]
    if "experiment_names" in case:
        arguments["experiment_names"] = case["experiment_names"]
    elif case.get("search_all_experiments"):
        arguments["search_all_experiments"] = True
    else:
        ids = case.get("experiment_ids", CONFORMANCE["default_experiment_ids"])
        arguments["experiment_ids"] = [store.experiments[i] for i in ids]
    return arguments


@pytest.fixture
def tracking(stores: dict[str, Store]) -> Iterator[Any]:
    with tracking_uri(None):

        def use(store: Store) -> None:
            mlflow.set_tracking_uri(store.uri)

        yield use


@pytest.mark.parametrize("reader", ["dir", "dir-client", "db", "db-client"])
def test_every_conformance_query_agrees_with_mlflow(
    stores: dict[str, Store], workspaces: dict[str, Workspace], tracking: Any, reader: str
) -> None:
    store = stores[reader.split("-")[0]]
    ws = workspaces[reader]
    tracking(store)
    assert len(RUN_CASES) > 100
    failures: list[str] = []
    differences: list[str] = []
    for case in RUN_CASES:
        arguments = _arguments(case, store)
        try:
            expected: list[str] | str = [r.info.run_id for r in mlflow.search_runs(**arguments)]
        except mlflow.exceptions.MlflowException:
            expected = "refused"
        try:
            got: list[str] | str = [r.info.run_id for r in ws.search_runs(**arguments)]
        except ValueError:
            got = "refused"
        if got != expected:
            documented = store.kind == "db" and SQL_DIFFERENCES.intersection(case["rows"])
            (differences if documented else failures).append(case["name"])
    assert failures == []
    # The SQL store's known differences show up, and only in the cases that cover them.
    assert (len(differences) > 0) == (store.kind == "db")


@pytest.mark.parametrize("reader", ["dir", "db"])
def test_every_experiment_query_agrees_with_mlflow(
    stores: dict[str, Store], workspaces: dict[str, Workspace], reader: str
) -> None:
    client = mlflow.MlflowClient(stores[reader].uri)
    assert EXPERIMENT_CASES
    for case in EXPERIMENT_CASES:
        arguments = {
            "view_type": case.get("view_type", ViewType.ACTIVE_ONLY),
            "filter_string": case["filter"] or None,
            "order_by": case.get("order_by"),
        }
        expected = [e.experiment_id for e in client.search_experiments(**arguments)]
        got = [e.experiment_id for e in workspaces[reader].search_experiments(**arguments)]
        assert got == expected, case["name"]


@pytest.mark.parametrize("reader", ["dir", "db"])
def test_dataframe_agrees_with_mlflow(
    stores: dict[str, Store], workspaces: dict[str, Workspace], tracking: Any, reader: str
) -> None:
    store = stores[reader]
    tracking(store)
    arguments = {"experiment_ids": list(store.experiments.values()), "run_view_type": ViewType.ALL}
    expected = mlflow.search_runs(**arguments)
    got = workspaces[reader].search_runs(**arguments)
    pd.testing.assert_frame_equal(got, expected, check_like=True)


# -- choosing a reader -------------------------------------------------------------------------


def test_load_picks_the_reader(stores: dict[str, Store], tmp_path: Path) -> None:
    folder, database = stores["dir"].location, stores["db"].location
    assert source_kind(folder) == "mlflow-dir"
    assert source_kind(folder.as_uri()) == "mlflow-dir"
    assert source_kind(database) == "mlflow-db"
    assert source_kind(stores["db"].uri) == "mlflow-db"
    assert source_kind("postgresql+psycopg2://u:p@host/db") == "mlflow-db"
    assert source_kind("http://localhost:5000") == "mlflow"
    assert source_kind("databricks") == "mlflow"
    assert len(Workspace.load(folder.parent).runs) == len(CONFORMANCE["runs"])  # a folder holding mlruns
    assert len(Workspace.load(database).runs) == len(CONFORMANCE["runs"])
    renamed = tmp_path / "tracking"  # a SQLite file is known by its header, not only its suffix
    shutil.copy(database, renamed)
    assert source_kind(renamed) == "mlflow-db"
    saved = tmp_path / "ws.jsonl"
    Workspace.load(database).save(saved)
    assert source_kind(saved) == "jsonl"
    assert {r.info.run_id for r in Workspace.load(saved).runs} == set(stores["db"].runs.values())


def test_an_unknown_path_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        Workspace.load(tmp_path / "missing")
    assert caught.value.code == "not-found" and str(tmp_path / "missing") in str(caught.value)
    with pytest.raises(StoreError) as caught:
        from_mlflow_db(f"sqlite:///{tmp_path / 'missing.db'}")
    assert caught.value.code == "not-found"
    assert not (tmp_path / "missing.db").exists()  # no empty database was created


def test_a_folder_that_is_no_store(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    with pytest.raises(StoreError) as caught:
        from_mlflow_dir(tmp_path)
    assert caught.value.code == "not-a-store"


# -- corrupt and partial stores ----------------------------------------------------------------


@pytest.fixture
def folder_copy(stores: dict[str, Store], tmp_path: Path) -> tuple[Path, Store]:
    copy = tmp_path / "mlruns"
    shutil.copytree(stores["dir"].location, copy)
    return copy, stores["dir"]


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.45, 0.75, 0.97])
def test_truncated_run_meta_names_the_file(folder_copy: tuple[Path, Store], fraction: float) -> None:
    copy, store = folder_copy
    meta = copy / store.experiments["1"] / store.runs["r01"] / "meta.yaml"
    text = meta.read_text()
    meta.write_text(text[: int(len(text) * fraction)])
    with pytest.raises(StoreError) as caught:
        from_mlflow_dir(copy)
    assert caught.value.where == str(meta)
    assert caught.value.code == "corrupt-store"
    assert "truncated" in str(caught.value) or "empty" in str(caught.value)


def test_truncated_experiment_meta_names_the_file(folder_copy: tuple[Path, Store]) -> None:
    copy, store = folder_copy
    meta = copy / store.experiments["2"] / "meta.yaml"
    meta.write_text(meta.read_text()[:30])
    with pytest.raises(StoreError, match=r"meta\.yaml: .*truncated") as caught:
        from_mlflow_dir(copy)
    assert caught.value.where == str(meta)


def test_bad_metric_line_names_the_file_and_line(folder_copy: tuple[Path, Store]) -> None:
    copy, store = folder_copy
    metric = copy / store.experiments["1"] / store.runs["r01"] / "metrics" / "loss"
    with open(metric, "a") as handle:
        handle.write("1700000000020 not-a-number 2\n")
    with pytest.raises(StoreError) as caught:
        from_mlflow_dir(copy)
    assert caught.value.where == str(metric)
    assert "line 4" in caught.value.message and "not-a-number" in caught.value.message


def test_metric_line_with_too_few_fields(folder_copy: tuple[Path, Store]) -> None:
    copy, store = folder_copy
    metric = copy / store.experiments["1"] / store.runs["r02"] / "metrics" / "m"
    metric.write_text("1700000000020\n")
    with pytest.raises(StoreError, match="line 1: '1700000000020' has 1 fields"):
        from_mlflow_dir(copy)


def test_run_folder_without_meta(folder_copy: tuple[Path, Store]) -> None:
    copy, store = folder_copy
    (copy / store.experiments["1"] / store.runs["r03"] / "meta.yaml").unlink()
    with pytest.raises(StoreError, match=r"run folder without meta\.yaml"):
        from_mlflow_dir(copy)


def test_database_missing_a_table(stores: dict[str, Store], tmp_path: Path) -> None:
    copy = tmp_path / "partial.db"
    shutil.copy(stores["db"].location, copy)
    with sqlite3.connect(copy) as connection:
        connection.execute("DROP TABLE params")
    with pytest.raises(StoreError) as caught:
        from_mlflow_db(copy)
    assert caught.value.code == "missing-table"
    assert caught.value.where == str(copy)
    assert "lacks table params" in caught.value.message


def test_a_database_that_is_not_mlflows(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError) as caught:
        Workspace.load(other)
    assert caught.value.code == "not-a-store"


def test_progress_bar_when_asked(
    stores: dict[str, Store], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tqdm")
    assert list(progress_bar(range(3), total=3, desc="x", unit="y", enabled=False, extra="x")) == [0, 1, 2]
    # A load that finishes before the bar's delay draws nothing (the delay is set, not raced against).
    monkeypatch.setattr("runql.common.optional.PROGRESS_DELAY", 3600)
    from_mlflow_dir(stores["dir"].location, progress=True)
    from_mlflow_db(stores["db"].location, progress=True)
    assert capsys.readouterr().err == ""
    # Past the delay the bar is drawn, and cleared at the end.
    monkeypatch.setattr("runql.common.optional.PROGRESS_DELAY", 0)
    from_mlflow_dir(stores["dir"].location, progress=True)
    drawn = capsys.readouterr().err
    assert "reading runs" in drawn and drawn.endswith("\r")


def test_a_missing_extra_is_named(stores: dict[str, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(
        MissingDependencyError, match=r"'PyYAML' package: pip install 'runql\[mlflow-files\]'"
    ):
        from_mlflow_dir(stores["dir"].location)
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(
        MissingDependencyError, match=r"'SQLAlchemy' package: pip install 'runql\[mlflow-db\]'"
    ):
        from_mlflow_db(stores["db"].location)


def test_database_histories_come_in_the_order_mlflow_reads_them(
    stores: dict[str, Store], workspaces: dict[str, Workspace]
) -> None:
    client = mlflow.MlflowClient(tracking_uri=stores["db"].uri)
    ws = workspaces["db"]
    for run in ws.runs:
        for key in run.data.metrics:
            theirs = client.get_metric_history(run.info.run_id, key)
            ours = ws.get_metric_history(run.info.run_id, key)
            assert [(m.timestamp, m.step, _number(m.value)) for m in ours] == [
                (m.timestamp, m.step, _number(m.value)) for m in theirs
            ]


def test_an_unreadable_file_names_itself(stores: dict[str, Store], tmp_path: Path) -> None:
    copy = tmp_path / "mlruns"
    shutil.copytree(stores["dir"].location, copy, symlinks=True)
    params = next(copy.glob("*/*/params"))
    (params / "dangling").symlink_to(copy / "nowhere")
    with pytest.raises(StoreError, match=r"dangling: cannot read it"):
        from_mlflow_dir(copy)


# -- metric histories of a database: read when asked for -----------------------------------------


def _points(history: list[Any]) -> list[tuple[int, int, Any]]:
    return [(p.timestamp, p.step, _number(p.value)) for p in history]


@contextmanager
def _statements() -> Iterator[list[str]]:
    """Every SQL statement run on a SQLite connection opened meanwhile, by any engine."""
    seen: list[str] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(seen.append)

    sa.event.listen(sa.pool.Pool, "connect", trace)
    try:
        yield seen
    finally:
        sa.event.remove(sa.pool.Pool, "connect", trace)


def _reads_metrics(statements: list[str]) -> bool:
    return any(re.search(r'\bFROM\s+"?metrics\b', s, re.IGNORECASE) for s in statements)


def test_the_load_leaves_the_histories_in_the_database(stores: dict[str, Store]) -> None:
    with _statements() as statements:
        ws = from_mlflow_db(stores["db"].uri)
    assert statements and not _reads_metrics(statements)
    with _statements() as statements:
        history = ws.get_metric_history(stores["db"].runs["r01"], "loss")
    assert len(history) == 3 and _reads_metrics(statements)
    with _statements() as statements:
        from_mlflow_db(stores["db"].uri, histories=True)
    assert _reads_metrics(statements)


def test_histories_read_later_are_those_read_at_load(
    stores: dict[str, Store], workspaces: dict[str, Workspace]
) -> None:
    client = mlflow.MlflowClient(tracking_uri=stores["db"].uri)
    lazy, eager = workspaces["db"], from_mlflow_db(stores["db"].uri, histories=True)
    assert _shape(lazy) == _shape(eager)
    every = [e.experiment_id for e in lazy.experiments]
    found = lazy.search_runs(every, run_view_type=ViewType.ALL, output_format="list")
    assert {r.info.run_id for r in found} == {r.info.run_id for r in lazy.runs}
    points = 0
    for run in found:  # the runs a search returns, as a comparison or a plot takes them
        for key in run.data.metrics:
            theirs = _points(client.get_metric_history(run.info.run_id, key))
            assert _points(run.data.history(key)) == theirs
            assert _points(eager.get_metric_history(run.info.run_id, key)) == theirs
            points += len(theirs)
        assert not run.data.histories
    assert points > len(found)


def test_a_point_logged_after_the_load_joins_the_history_read(stores: dict[str, Store]) -> None:
    ws = from_mlflow_db(stores["db"].uri)
    run_id = stores["db"].runs["r01"]
    before = ws.get_metric_history(run_id, "loss")
    ws.log_metric(run_id, "loss", 0.25, timestamp=1700000000099, step=7)
    ws.log_metric(run_id, "fresh", 1.5, timestamp=1700000000099, step=0)
    after = ws.get_metric_history(run_id, "loss")
    assert _points(after) == [*_points(before), (1700000000099, 7, 0.25)]
    assert ws.get_run(run_id).data.metrics["loss"] == 0.25
    assert _points(ws.get_metric_history(run_id, "fresh")) == [(1700000000099, 0, 1.5)]
    assert run_id in set(
        ws.search_runs(search_all_experiments=True, filter_string="metrics.loss = 0.25")["run_id"]
    )
    # The database is read, never written.
    client = mlflow.MlflowClient(tracking_uri=stores["db"].uri)
    assert _points(client.get_metric_history(run_id, "loss")) == _points(before)


def test_save_writes_the_histories_the_database_keeps(stores: dict[str, Store], tmp_path: Path) -> None:
    ws = from_mlflow_db(stores["db"].uri)
    eager = from_mlflow_db(stores["db"].uri, histories=True)
    run_id = stores["db"].runs["r01"]
    ws.log_metric(run_id, "loss", 0.25, timestamp=1700000000099, step=7)
    eager.log_metric(run_id, "loss", 0.25, timestamp=1700000000099, step=7)
    ws.save(tmp_path / "lazy.jsonl")
    eager.save(tmp_path / "eager.jsonl")
    saved = Workspace.load(tmp_path / "lazy.jsonl")
    assert _shape(saved) == _shape(Workspace.load(tmp_path / "eager.jsonl")) == _shape(eager)
    assert len(saved.get_metric_history(run_id, "loss")) == 4
    # Runs taken into another workspace read their histories from the database they came from.
    taken = Workspace(ws.experiments, ws.search_runs(search_all_experiments=True, output_format="list"))
    taken.save(tmp_path / "taken.jsonl")
    for run in Workspace.load(tmp_path / "taken.jsonl").runs:
        for key in run.data.metrics:
            assert _points(run.data.history(key)) == _points(eager.get_metric_history(run.info.run_id, key))


def test_histories_read_at_load_need_the_database_no_more(stores: dict[str, Store], tmp_path: Path) -> None:
    copy = tmp_path / "mlflow.db"
    shutil.copy(stores["db"].location, copy)
    lazy, eager = from_mlflow_db(copy), from_mlflow_db(copy, histories=True)
    run_id = stores["db"].runs["r01"]
    copy.unlink()
    assert len(eager.get_metric_history(run_id, "loss")) == 3
    with pytest.raises(StoreError) as caught:
        lazy.get_metric_history(run_id, "loss")
    assert caught.value.where == str(copy)


def test_a_database_without_latest_metrics_gives_the_latest_points_of_the_histories(
    stores: dict[str, Store], workspaces: dict[str, Workspace], tmp_path: Path
) -> None:
    copy = tmp_path / "old.db"
    shutil.copy(stores["db"].location, copy)
    with sqlite3.connect(copy) as connection:
        connection.execute("DROP TABLE latest_metrics")  # as an MLflow from before the table
    old = from_mlflow_db(copy)
    for run in old.runs:
        assert run.data.stored is None
        assert run.data.metrics.keys() == workspaces["db"].get_run(run.info.run_id).data.metrics.keys()
        for key in run.data.metrics:
            expected = workspaces["db"].get_metric_history(run.info.run_id, key)
            assert _points(run.data.histories[key]) == _points(expected)
