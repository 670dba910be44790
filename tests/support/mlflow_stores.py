"""MLflow tracking databases written by MLflow itself, from runql's run records.

:func:`write_with_mlflow` opens MLflow's ``SqlAlchemyStore`` on a database URL (which creates or migrates
MLflow's tables) and logs the records' experiments and runs through that store's API, as a tracking
server would: ``create_experiment``, ``create_run``, ``log_batch`` (every point of a metric history,
NaN and infinities included), ``log_inputs``, ``update_run_info`` and ``delete_run``. Reading the database
back (``runql.from_mlflow_db``) gives what MLflow made of the records, which is the reference a SQL
search on that database must agree with.

What MLflow does to a record on the way in, and the reference therefore holds:

- it generates run ids (the returned mapping translates) and experiment ids (numbers, from 1; a
  record's experiment ``"0"`` is MLflow's Default experiment);
- a run without a name gets the ``mlflow.runName`` tag and a generated name; an empty name counts as none;
- infinite metrics are stored as the largest finite float; identical points of one key are kept once;
- a dataset logged twice to a run is kept once, with the input tags of the first;
- deleting an experiment deletes its runs (the Default experiment, ``"0"``, is never deleted here);
- experiments get MLflow's creation times, and runs their artifact URIs under ``artifact_root``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from mlflow.entities import (
    Dataset,
    DatasetInput,
    ExperimentTag,
    InputTag,
    Metric,
    Param,
    RunStatus,
    RunTag,
)
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

from runql.model.entities import RUN_NAME_TAG, Experiment, LifecycleStage, Run
from runql.model.records import experiment_from_record, run_from_record

__all__ = [
    "DEFAULT_ARTIFACT_ROOT",
    "Written",
    "create_mlflow_schema",
    "experiment_ids",
    "log_with_mlflow",
    "tracking_uri",
    "write_with_mlflow",
]

# Nothing is written there: MLflow only builds the runs' artifact URIs from it.
DEFAULT_ARTIFACT_ROOT = "file:///runql-test-artifacts"
# MLflow's log_batch limits: 1000 metrics, 100 params and 100 tags, 1000 entities in all.
_METRICS_PER_BATCH = 800
_PARAMS_PER_BATCH = 100


@dataclass(frozen=True)
class Written:
    """The ids MLflow gave what was logged, keyed by the records' ids."""

    runs: dict[str, str]
    experiments: dict[str, str]


@contextlib.contextmanager
def tracking_uri(uri: str | None) -> Iterator[None]:
    """MLflow's tracking URI set to ``uri`` (None: none set, so MLFLOW_TRACKING_URI or the default
    decides) for the block, and then exactly as it was. ``mlflow.set_tracking_uri(mlflow.get_tracking_uri())``
    would not restore it: it sets the default it reads (``sqlite:///mlflow.db`` in the working folder) for
    every later test."""
    from mlflow.tracking._tracking_service import utils

    before = utils._tracking_uri
    utils._tracking_uri = uri
    try:
        yield
    finally:
        utils._tracking_uri = before


def create_mlflow_schema(url: str, artifact_root: str = DEFAULT_ARTIFACT_ROOT) -> None:
    """Create (or migrate to the installed MLflow's version) MLflow's tables in the database at ``url``."""
    _close(SqlAlchemyStore(url, artifact_root))


def write_with_mlflow(
    url: str,
    records: Iterable[Mapping[str, Any] | Run],
    experiments: Iterable[Mapping[str, Any] | Experiment] = (),
    artifact_root: str = DEFAULT_ARTIFACT_ROOT,
) -> dict[str, str]:
    """Log ``records`` (run records or :class:`runql.model.records.Run`) into the database at ``url`` with
    MLflow; return a mapping from each record's ``run_id`` to the id MLflow gave the run.

    ``experiments`` (records or :class:`runql.model.records.Experiment`) name the experiments and give their
    tags and lifecycle stage; an experiment a run names without a record is created as
    ``experiment <id>``. :func:`log_with_mlflow` also returns the experiments' ids.
    """
    return log_with_mlflow(url, records, experiments, artifact_root).runs


def log_with_mlflow(
    url: str,
    records: Iterable[Mapping[str, Any] | Run],
    experiments: Iterable[Mapping[str, Any] | Experiment] = (),
    artifact_root: str = DEFAULT_ARTIFACT_ROOT,
) -> Written:
    """As :func:`write_with_mlflow`, returning the experiments' ids (record's id to MLflow's) as well."""
    runs = [run_from_record(record) for record in records]
    described = {e.experiment_id: e for e in (experiment_from_record(record) for record in experiments)}
    store = SqlAlchemyStore(url, artifact_root)
    try:
        experiment_map = _create_experiments(store, described, runs)
        run_ids = {
            run.info.run_id: _log_run(store, run, experiment_map[run.info.experiment_id]) for run in runs
        }
        # Deleted last: MLflow logs nothing to a deleted run, nor creates runs in a deleted experiment.
        for run in runs:
            if run.info.lifecycle_stage == LifecycleStage.DELETED:
                store.delete_run(run_ids[run.info.run_id])
        for experiment_id, experiment in described.items():
            if experiment.lifecycle_stage == LifecycleStage.DELETED and experiment_id != "0":
                store.delete_experiment(experiment_map[experiment_id])
    finally:
        _close(store)
    return Written(runs=run_ids, experiments=experiment_map)


def experiment_ids(url: str) -> list[str]:
    """The ids of every experiment in the MLflow database at ``url`` (Default and deleted ones included)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT experiment_id FROM experiments ORDER BY experiment_id"))
            return [str(row[0]) for row in rows]
    finally:
        engine.dispose()


def _close(store: SqlAlchemyStore) -> None:
    # MLflow keeps one engine per URL for the life of the process; a test database is written once, and
    # an open pool would keep its file busy or its server-side connections alive after it is dropped.
    SqlAlchemyStore._engine_map.pop(store.db_uri, None)
    store.engine.dispose()


def _create_experiments(
    store: SqlAlchemyStore, described: Mapping[str, Experiment], runs: Sequence[Run]
) -> dict[str, str]:
    wanted = list(described) + [r.info.experiment_id for r in runs if r.info.experiment_id not in described]
    ids: dict[str, str] = {}
    for experiment_id in dict.fromkeys(wanted):
        experiment = described.get(experiment_id)
        tags = [ExperimentTag(k, v) for k, v in experiment.tags.items()] if experiment else []
        if experiment_id == "0":
            # The store made the Default experiment, id 0, with the schema.
            for tag in tags:
                store.set_experiment_tag("0", tag)
            ids[experiment_id] = "0"
            continue
        name = (experiment.name if experiment else "") or f"experiment {experiment_id}"
        ids[experiment_id] = store.create_experiment(name, tags=tags)
    return ids


def _log_run(store: SqlAlchemyStore, run: Run, experiment_id: str) -> str:
    info, data = run.info, run.data
    tags = [RunTag(k, v) for k, v in data.tags.items()]
    # MLflow refuses a run_name that differs from the mlflow.runName tag: the tag, when there is one, wins.
    run_name = None if RUN_NAME_TAG in data.tags else info.run_name
    created = store.create_run(experiment_id, info.user_id, info.start_time, tags, run_name)
    run_id: str = created.info.run_id
    params = [Param(k, v) for k, v in data.params.items()]
    start = info.start_time or 0
    metrics = [
        Metric(point.key, point.value, point.timestamp, point.step)
        for key in data.metrics
        for point in data.history(key, start)
    ]
    batches = max(math.ceil(len(metrics) / _METRICS_PER_BATCH), math.ceil(len(params) / _PARAMS_PER_BATCH))
    for batch in range(batches):
        store.log_batch(
            run_id,
            metrics=metrics[batch * _METRICS_PER_BATCH : (batch + 1) * _METRICS_PER_BATCH],
            params=params[batch * _PARAMS_PER_BATCH : (batch + 1) * _PARAMS_PER_BATCH],
            tags=[],
        )
    inputs = [
        DatasetInput(
            Dataset(
                item.dataset.name,
                item.dataset.digest,
                item.dataset.source_type or "local",
                item.dataset.source or "",
                item.dataset.schema,
                item.dataset.profile,
            ),
            [InputTag(tag.key, tag.value) for tag in item.tags],
        )
        for item in run.inputs.dataset_inputs
    ]
    if inputs:
        store.log_inputs(run_id, datasets=inputs)
    if info.status != RunStatus.to_string(RunStatus.RUNNING) or info.end_time is not None:
        store.update_run_info(run_id, RunStatus.from_string(info.status), info.end_time, None)
    return run_id


def write_logged_models(store: Any, models: Iterable[Any]) -> dict[str, str]:
    """Log runql's logged models (:class:`runql.model.logged_models.LoggedModel`) through MLflow's
    tracking ``store`` (SQL or file) as MLflow's client would: ``create_logged_model``, a ``log_metric``
    per point by the run that logged it, ``finalize_logged_model`` and ``delete_logged_model``. The
    models' experiments and runs must exist; MLflow gives the models their ids and creation times.
    Returns each model's id to the id MLflow gave it."""
    from mlflow.entities import LoggedModelParameter, LoggedModelStatus, LoggedModelTag

    ids = {}
    for model in models:
        made = store.create_logged_model(
            model.experiment_id,
            name=model.name,
            source_run_id=model.source_run_id,
            tags=[LoggedModelTag(k, v) for k, v in model.tags.items()],
            params=[LoggedModelParameter(k, v) for k, v in model.params.items()],
            model_type=model.model_type,
        ).model_id
        ids[model.model_id] = made
        for point in model.metrics:
            logged = Metric(
                point.key,
                point.value,
                point.timestamp,
                point.step,
                model_id=made,
                dataset_name=point.dataset_name,
                dataset_digest=point.dataset_digest,
            )
            store.log_metric(point.run_id, logged)
        if model.status != "PENDING":
            store.finalize_logged_model(made, LoggedModelStatus(model.status))
        if model.lifecycle_stage == "deleted":
            store.delete_logged_model(made)
    return ids
