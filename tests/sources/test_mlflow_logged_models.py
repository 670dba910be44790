"""A tracking database's logged models read whole (``sources/mlflow_logged_models.py``): what MLflow wrote
comes back field by field, every point of every metric, on SQLite and on PostgreSQL; a row MLflow would
not write is a StoreError naming its table."""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("mlflow")

import sqlalchemy as sa
from mlflow.entities import LoggedModelParameter, LoggedModelStatus, LoggedModelTag, Metric
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

from runql.errors import StoreError
from runql.model.logged_models import LoggedModel, LoggedModelMetric, logged_model_from_entity
from runql.sources.mlflow_logged_models import read_logged_models

WHERE = "the test database"


@dataclasses.dataclass(frozen=True)
class Written:
    url: str
    ids: dict[str, str]  # the models' names to the ids MLflow gave them
    experiments: tuple[str, str]  # the live experiment and the deleted one


def write_models(url: str) -> Written:
    """Logged models written by MLflow's SQL store: a finalized model with tags, params (one set later)
    and metrics on a dataset and on none (NaN, an infinity, a point logged by a run of another
    experiment); a failed model of an experiment deleted afterwards; a deleted model; a bare one."""
    store = SqlAlchemyStore(url, "file:///runql-test-artifacts")
    try:
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
            Metric("loss", math.nan, 150, 0, model_id=first),
            Metric("big", math.inf, 150, 0, model_id=first),
        ]
        for point in points:
            store.log_metric(run, point)
        store.log_metric(other, Metric("acc", 0.4, 300, 4, model_id=first))
        store.log_logged_model_params(first, [LoggedModelParameter("later", "yes")])
        store.set_logged_model_tags(first, [LoggedModelTag("stage", "final")])
        store.finalize_logged_model(first, LoggedModelStatus.READY)
        failed = store.create_logged_model(gone, name="failed", params=[LoggedModelParameter("k", "v")])
        store.log_metric(other, Metric("f1", 0.1, 10, 0, model_id=failed.model_id))
        store.finalize_logged_model(failed.model_id, LoggedModelStatus.FAILED)
        deleted = store.create_logged_model(live, name="deleted", tags=[LoggedModelTag("x", "y")])
        store.delete_logged_model(deleted.model_id)
        bare = store.create_logged_model(live, name="bare")
        store.delete_experiment(gone)
        ids = {"first": first, "failed": failed.model_id, "deleted": deleted.model_id, "bare": bare.model_id}
    finally:
        _close(store)
    return Written(url, ids, (live, gone))


def _close(store: SqlAlchemyStore) -> None:
    # MLflow keeps one engine per URL for the life of the process: let the database go.
    SqlAlchemyStore._engine_map.pop(store.db_uri, None)
    store.engine.dispose()


def read(url: str) -> list[LoggedModel]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return read_logged_models(sa, connection, WHERE)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def written(request: pytest.FixtureRequest) -> Written:
    factory: Callable[..., str] = request.getfixturevalue(f"new_{request.param}_database")
    return write_models(factory(mlflow_schema=True))


@pytest.fixture
def sqlite_written(new_sqlite_database: Callable[..., str]) -> Written:
    return write_models(new_sqlite_database(mlflow_schema=True))


@contextmanager
def mlflow_store(url: str) -> Iterator[SqlAlchemyStore]:
    store = SqlAlchemyStore(url, "file:///runql-test-artifacts")
    try:
        yield store
    finally:
        _close(store)


def _point_order(point: LoggedModelMetric) -> tuple[Any, ...]:
    return (point.key, point.timestamp, point.step, point.run_id, point.dataset_name or "", point.value)


def _comparable(model: LoggedModel) -> dict[str, Any]:
    fields = dataclasses.asdict(model)
    fields["metrics"] = sorted(model.metrics, key=_point_order)
    del fields["lifecycle_stage"]  # MLflow's entity has none: compared on its own
    return fields


def test_the_models_come_back_as_mlflow_reads_them(written: Written) -> None:
    models = read(written.url)
    assert sorted(m.name for m in models) == ["bare", "deleted", "failed", "first"]
    with mlflow_store(written.url) as store:
        for model in models:
            entity = store.get_logged_model(model.model_id, allow_deleted=True)
            # MLflow's SQL store gives every point of every metric, as runql keeps them.
            assert _comparable(model) == _comparable(logged_model_from_entity(entity))
        # A search leaves the deleted model out; the models of a deleted experiment stay searchable.
        searched = store.search_logged_models(list(written.experiments), max_results=100)
    assert sorted(m.model_id for m in searched) == sorted(
        m.model_id for m in models if m.lifecycle_stage == "active"
    )


def test_every_point_is_a_row_of_logged_model_metrics(written: Written) -> None:
    engine = sa.create_engine(written.url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT model_id, metric_name, metric_value, metric_timestamp_ms, metric_step, run_id, "
                    "dataset_name, dataset_digest FROM logged_model_metrics"
                )
            ).all()
    finally:
        engine.dispose()
    expected = sorted(
        (LoggedModelMetric(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[0]) for r in rows), key=_point_order
    )
    found = sorted((p for m in read(written.url) for p in m.metrics), key=_point_order)
    assert found == expected
    assert len(found) == 8


def test_what_the_models_hold(written: Written) -> None:
    """The models written, spelled out: the comparisons above are not vacuous."""
    by_name = {m.name: m for m in read(written.url)}
    live, gone = written.experiments
    first = by_name["first"]
    assert (first.experiment_id, first.status, first.model_type, first.lifecycle_stage) == (
        live,
        "READY",
        "agent",
        "active",
    )
    assert first.tags == {"team": "risk", "a/b": "nested", "stage": "final"}
    assert first.params == {"lr": "0.01", "note": "two\nlines", "later": "yes"}
    assert first.artifact_location.endswith(f"/models/{first.model_id}/artifacts")
    acc = sorted((p.value, p.dataset_name, p.dataset_digest) for p in first.metrics if p.key == "acc")
    assert acc == [
        (0.4, None, None),
        (0.5, "eval", "d1"),
        (0.6, None, None),
        (0.7, "eval", "d1"),
        (0.9, "train", "d2"),
    ]
    # MLflow's SQL store writes NaN as 0 and an infinity as the largest float.
    assert first.metric_values("loss") == (0.0,)
    assert first.metric_values("big") == (1.7976931348623157e308,)
    assert first.latest_metric("acc") == 0.4
    assert (by_name["failed"].experiment_id, by_name["failed"].status) == (gone, "FAILED")
    assert by_name["failed"].lifecycle_stage == "active"  # its experiment is deleted, not the model
    assert (by_name["deleted"].lifecycle_stage, by_name["deleted"].tags) == ("deleted", {"x": "y"})
    bare = by_name["bare"]
    assert (bare.status, bare.tags, bare.params, bare.metrics, bare.source_run_id) == (
        "PENDING",
        {},
        {},
        [],
        None,
    )
    assert all(isinstance(m.experiment_id, str) for m in by_name.values())


def test_a_database_from_before_logged_models_has_none(new_sqlite_database: Callable[..., str]) -> None:
    url = new_sqlite_database()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT)")
    assert read(url) == []
    assert read(new_sqlite_database(mlflow_schema=True)) == []


# A NOT NULL constraint cannot be turned off: the table is made again without its constraints first.
_UNCONSTRAINED = (
    "CREATE TABLE copied AS SELECT * FROM {table}; DROP TABLE {table}; ALTER TABLE copied RENAME TO {table};"
)


@pytest.mark.parametrize(
    ("table", "statement"),
    [
        ("logged_models", "UPDATE logged_models SET status = 9 WHERE name = 'first'"),
        ("logged_models", "UPDATE logged_models SET status = 'READY'"),
        ("logged_models", "UPDATE logged_models SET model_id = NULL WHERE name = 'bare'"),
        ("logged_models", "UPDATE logged_models SET creation_timestamp_ms = 'soon'"),
        ("logged_models", "UPDATE logged_models SET experiment_id = NULL WHERE name = 'bare'"),
        ("logged_models", "UPDATE logged_models SET lifecycle_stage = 'gone' WHERE name = 'bare'"),
        ("logged_models", "INSERT INTO logged_models SELECT * FROM logged_models WHERE name = 'bare'"),
        (
            "logged_model_metrics",
            "INSERT INTO logged_model_metrics SELECT 'm-nowhere', metric_name, metric_timestamp_ms, "
            "metric_step, metric_value, experiment_id, run_id, dataset_uuid, dataset_name, dataset_digest "
            "FROM logged_model_metrics LIMIT 1",
        ),
        ("logged_model_metrics", "UPDATE logged_model_metrics SET metric_value = 'high'"),
        ("logged_model_metrics", "UPDATE logged_model_metrics SET model_id = NULL"),
        ("logged_model_metrics", "UPDATE logged_model_metrics SET run_id = NULL"),
        ("logged_model_metrics", "UPDATE logged_model_metrics SET metric_step = 1.5"),
        ("logged_model_params", "UPDATE logged_model_params SET param_value = x'ff'"),
        ("logged_model_params", "UPDATE logged_model_params SET model_id = 'm-nowhere'"),
        ("logged_model_tags", "UPDATE logged_model_tags SET tag_value = NULL"),
        ("logged_model_tags", "UPDATE logged_model_tags SET tag_key = CAST(x'ff' AS TEXT)"),
    ],
)
def test_a_row_mlflow_would_not_write_is_a_store_error(
    sqlite_written: Written, table: str, statement: str
) -> None:
    path = sqlite_written.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("PRAGMA ignore_check_constraints = ON")
        connection.executescript(_UNCONSTRAINED.format(table=table))
        assert connection.execute(statement).rowcount >= 1
    with pytest.raises(StoreError) as raised:
        read(sqlite_written.url)
    assert raised.value.code == "corrupt-store"
    assert f"table {table}" in str(raised.value)
    assert WHERE in str(raised.value)
