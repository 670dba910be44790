"""``runql logged-models`` on logged models MLflow wrote: in a tracking database, in an ``mlruns`` folder and
behind a tracking server (issue 26's "done means")."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

from support.commands import run_command
from support.mlflow_stores import write_logged_models
from support.services import mlflow_server

from runql.model.logged_models import LoggedModel, LoggedModelMetric

# name: (lr, team, accuracy on eval by step, accuracy on train by step)
MODELS = {
    "xgb-fast": ("0.1", "risk", [0.80, 0.85], [0.90, 0.93]),
    "xgb-slow": ("0.01", "risk", [0.88, 0.92], [0.95, 0.97]),
    "lgbm-slow": ("0.01", "ops", [0.91, 0.89], [0.96, 0.99]),
    "lgbm-tiny": ("0.01", "ops", [0.70, 0.75], [0.92, 0.95]),
}
ISSUE_QUERY = ["--filter", "metrics.accuracy > 0.9 AND params.lr = '0.01'", "--dataset", "eval"]


def _fill(store: Any) -> None:
    experiment = store.create_experiment("models")
    run = store.create_run(experiment, "u", 1000, [], "trainer").info.run_id
    models = []
    for name, (lr, team, on_eval, on_train) in MODELS.items():
        metrics = [
            LoggedModelMetric("accuracy", value, at + step, step, run, dataset, digest)
            for at, dataset, digest, values in (
                (1000, "eval", "e1", on_eval),
                (2000, "train", "t1", on_train),
            )
            for step, value in enumerate(values)
        ]
        model = LoggedModel(experiment, name, name, "", 0, 0, "tree", run, "READY", tags={"team": team})
        model.params, model.metrics = {"lr": lr}, metrics
        models.append(model)
    write_logged_models(store, models)


@pytest.fixture(scope="module")
def database(new_sqlite_database: Callable[..., str]) -> str:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    url = new_sqlite_database(mlflow_schema=True)
    store = SqlAlchemyStore(url, "file:///runql-test-artifacts")
    try:
        _fill(store)
    finally:
        SqlAlchemyStore._engine_map.pop(store.db_uri, None)
        store.engine.dispose()
    return url


@pytest.fixture(scope="module")
def mlruns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlflow.store.tracking.file_store import FileStore

    folder = tmp_path_factory.mktemp("logged") / "mlruns"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        _fill(FileStore(str(folder), str(folder.parent / "artifacts")))
    return folder


@pytest.fixture(scope="module")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(database, tmp_path_factory.mktemp("logged-server")) as url:
        yield url


def _rows(*args: str) -> list[dict[str, Any]]:
    done = run_command("logged-models", *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


@pytest.mark.parametrize("where", ["database", "mlruns", "server"])
def test_the_issues_query_lists_the_models_as_mlflow_orders_them(
    where: str, request: pytest.FixtureRequest
) -> None:
    source = str(request.getfixturevalue(where))
    # Any point on eval above 0.9 with lr 0.01: lgbm-slow's first, xgb-slow's last; newest first.
    assert [r["name"] for r in _rows("--source", source, *ISSUE_QUERY)] == ["lgbm-slow", "xgb-slow"]
    ordered = _rows("--source", source, "--order-by", "metrics.accuracy DESC", "--dataset", "eval")
    # The latest point on eval: 0.92, 0.89, 0.85, 0.75.
    assert [(r["name"], r["metrics.accuracy"]) for r in ordered] == [
        ("xgb-slow", 0.92),
        ("lgbm-slow", 0.89),
        ("xgb-fast", 0.85),
        ("lgbm-tiny", 0.75),
    ]
    extended = _rows(
        "--source", source, "--profile", "extended", "--filter", "tags.team = 'ops' OR name LIKE '%fast'"
    )
    assert sorted(r["name"] for r in extended) == ["lgbm-slow", "lgbm-tiny", "xgb-fast"]


def test_the_database_answers_as_mlflows_store(database: str) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(database, "file:///runql-test-artifacts")
    try:
        expected = store.search_logged_models(
            ["1"],
            "metrics.accuracy > 0.9 AND params.lr = '0.01'",
            datasets=[{"dataset_name": "eval"}],
            order_by=[{"field_name": "metrics.accuracy", "ascending": False, "dataset_name": "eval"}],
        )
    finally:
        SqlAlchemyStore._engine_map.pop(store.db_uri, None)
        store.engine.dispose()
    found = _rows("--source", database, *ISSUE_QUERY, "--order-by", "metrics.accuracy DESC")
    assert [r["model_id"] for r in found] == [m.model_id for m in expected]


def test_what_mlflow_answers_wrongly_is_one_line(database: str) -> None:
    done = run_command("logged-models", "--source", database, "--filter", 'name = "xgb-slow"')
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "single quotes" in done.stderr
    done = run_command("logged-models", "--source", database, "--dataset", "@e1")
    assert done.returncode == 1 and "names no dataset" in done.stderr
