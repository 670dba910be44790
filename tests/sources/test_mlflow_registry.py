"""A tracking database's model registry read whole (``sources/mlflow_registry.py``): what MLflow wrote
comes back field by field, and a row MLflow would not write is a StoreError naming the registry."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

import runql
from runql.errors import StoreError


@pytest.fixture
def registry_db(new_sqlite_database: Callable[..., str]) -> Path:
    url = new_sqlite_database(mlflow_schema=True)
    store = SqlAlchemyStore(url)
    try:
        store.create_registered_model("m", [RegisteredModelTag("team", "risk")], description="first")
        store.create_model_version("m", "s3://m/1", "r1", [ModelVersionTag("stage", "prod")])
        store.create_model_version("m", "s3://m/2", None)
        store.transition_model_version_stage("m", "2", "Production", archive_existing_versions=False)
        store.set_registered_model_alias("m", "champion", "2")
        store.delete_model_version("m", "1")
        expected = store.get_registered_model("m")
    finally:
        SqlAlchemyStore._engine_map.pop(store.db_uri, None)
        store.engine.dispose()
    assert expected.aliases == {"champion": 2}  # runql's versions are text, as MLflow's REST API sends them
    return Path(url.removeprefix("sqlite:///"))


def test_the_registry_comes_back_as_mlflow_wrote_it(registry_db: Path) -> None:
    workspace = runql.from_mlflow_db(registry_db)
    model = workspace.get_registered_model("m")
    assert (model.description, model.tags, model.aliases) == ("first", {"team": "risk"}, {"champion": "2"})
    assert [(v.version, v.current_stage) for v in model.latest_versions] == [("2", "Production")]
    version = workspace.get_model_version("m", 2)
    assert (version.source, version.run_id, version.aliases) == ("s3://m/2", None, ["champion"])
    # A deleted version is gone, as from MLflow's searches.
    assert [v.version for v in workspace.search_model_versions()] == ["2"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE model_versions SET version = 'two' WHERE version = 2",
        "UPDATE registered_models SET creation_time = 'soon'",
        "UPDATE registered_model_tags SET key = x'ff'",
    ],
)
def test_a_row_mlflow_would_not_write_is_a_store_error(registry_db: Path, statement: str) -> None:
    with sqlite3.connect(registry_db) as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        assert connection.execute(statement).rowcount >= 1
    with pytest.raises(StoreError, match="model registry"):
        runql.from_mlflow_db(registry_db)
