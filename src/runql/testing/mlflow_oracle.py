"""MLflow's own answers, for runql to be measured against: MLflow is imported here, and only when asked.

The oracle turns runql's runs and experiments into MLflow's entities and asks MLflow's search utilities
whether a query is accepted (:func:`mlflow_accepts`) and what it selects (:func:`mlflow_search`), or
fills a real MLflow SQLite store through ``MlflowClient`` (:func:`sqlite_store`). runql otherwise never
imports MLflow; without it, :class:`MlflowUnavailableError` says what to install.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from runql.errors import RunqlError
from runql.model.entities import DATASET_CONTEXT_TAG, Metric, Run, RunData, RunInfo, RunInputs, latest_metric
from runql.testing.kit import row_id

__all__ = [
    "MlflowUnavailableError",
    "SqliteStore",
    "log_run_data",
    "mlflow_accepts",
    "mlflow_search",
    "mlflow_version",
    "quiet_mlflow",
    "sqlite_store",
    "stored_run",
    "to_mlflow_experiment",
    "to_mlflow_run",
    "token_offset",
]


def log_run_data(client: Any, entities: Any, run_id: str, run: Run, inputs: bool = True) -> list[Any]:
    """Log what ``run`` holds into MLflow's run ``run_id`` through ``client`` (an ``MlflowClient``;
    ``entities`` is ``mlflow.entities``): every metric point, the params, the dataset inputs (unless
    ``inputs`` is false: a server without the endpoint) and the status with the end time. Returns the
    dataset inputs logged, each once, as MLflow keeps them."""
    e, info = entities, run.info
    histories = run.data.histories.values()
    points = [e.Metric(p.key, p.value, p.timestamp, p.step) for history in histories for p in history]
    client.log_batch(run_id, metrics=points, params=[e.Param(k, v) for k, v in run.data.params.items()])
    datasets = {(d.dataset.name, d.dataset.digest): d for d in run.inputs.dataset_inputs} if inputs else {}
    if datasets:
        client.log_inputs(
            run_id,
            datasets=[
                e.DatasetInput(
                    e.Dataset(d.dataset.name, d.dataset.digest, "local", d.dataset.source or ""),
                    [e.InputTag(t.key, t.value) for t in d.tags],
                )
                for d in datasets.values()
            ],
        )
    if info.end_time is not None:
        client.set_terminated(run_id, info.status, end_time=info.end_time)
    elif info.status != "RUNNING":
        client.update_run(run_id, status=info.status)
    return list(datasets.values())


def stored_run(stored: Any, generated: Run, inputs: Sequence[Any]) -> Run:
    """runql's run for ``stored``, the run MLflow's client read back after logging ``generated``: its
    info, params and tags as the store keeps them (ids, names, users it gave), the generated metric
    histories (the points logged), and the dataset ``inputs`` logged."""
    info = stored.info
    data = RunData(params=dict(stored.data.params), tags=dict(stored.data.tags))
    for history in generated.data.histories.values():
        for point in history:
            data.log(Metric(point.key, point.value, point.timestamp, point.step))
    return Run(
        RunInfo(
            run_id=info.run_id,
            experiment_id=info.experiment_id,
            run_name=info.run_name,
            user_id=info.user_id,
            status=info.status,
            start_time=info.start_time,
            end_time=info.end_time,
            artifact_uri=info.artifact_uri,
            lifecycle_stage=info.lifecycle_stage,
        ),
        data,
        RunInputs(list(inputs)),
    )


class MlflowUnavailableError(RunqlError, RuntimeError):
    """MLflow is needed for the differential layers and is not installed."""


def mlflow_version() -> str:
    """The version of the MLflow installed; :class:`MlflowUnavailableError` when there is none."""
    return str(_mlflow().mlflow.__version__)


def _mlflow() -> SimpleNamespace:
    try:
        return SimpleNamespace(
            mlflow=importlib.import_module("mlflow"),
            entities=importlib.import_module("mlflow.entities"),
            search=importlib.import_module("mlflow.utils.search_utils"),
        )
    except ImportError as error:
        raise MlflowUnavailableError(
            "the differential layers compare runql with MLflow, which is not installed: "
            "pip install 'runql[test]' (or mlflow>=3.17.2)"
        ) from error


def to_mlflow_run(run: Any) -> Any:
    """``run`` as an ``mlflow.entities.Run`` (its latest metric points, as a store returns them)."""
    e = _mlflow().entities
    info = run.info
    histories = getattr(run.data, "histories", {})
    metrics = []
    for key, value in run.data.metrics.items():
        latest = _latest(histories.get(key), key, value, info.start_time or 0)
        metrics.append(e.Metric(key, latest.value, latest.timestamp, latest.step))
    inputs = [
        e.DatasetInput(
            e.Dataset(
                d.dataset.name, d.dataset.digest, d.dataset.source_type or "local", d.dataset.source or ""
            ),
            [e.InputTag(t.key, t.value) for t in d.tags],
        )
        for d in (getattr(getattr(run, "inputs", None), "dataset_inputs", None) or [])
    ]
    return e.Run(
        e.RunInfo(
            run_id=info.run_id,
            experiment_id=info.experiment_id,
            user_id=info.user_id or "",
            status=info.status,
            start_time=info.start_time,
            end_time=info.end_time,
            lifecycle_stage=info.lifecycle_stage,
            artifact_uri=info.artifact_uri,
            run_name=info.run_name,
        ),
        e.RunData(
            metrics=metrics,
            params=[e.Param(k, v) for k, v in run.data.params.items()],
            tags=[e.RunTag(k, v) for k, v in run.data.tags.items()],
        ),
        e.RunInputs(dataset_inputs=inputs),
    )


def _latest(history: Sequence[Metric] | None, key: str, value: float, timestamp: int) -> Metric:
    # runql's runs keep every point; the latest one follows the stores' rule (records.latest_metric).
    return latest_metric(history) if history else Metric(key, value, timestamp, 0)


def to_mlflow_experiment(experiment: Any) -> Any:
    """``experiment`` as an ``mlflow.entities.Experiment``."""
    e = _mlflow().entities
    return e.Experiment(
        experiment.experiment_id,
        experiment.name,
        experiment.artifact_location,
        experiment.lifecycle_stage,
        tags=[e.ExperimentTag(k, v) for k, v in experiment.tags.items()],
        creation_time=experiment.creation_time,
        last_update_time=experiment.last_update_time,
    )


def _dummy_rows() -> tuple[Any, Any]:
    """One run and one experiment holding every kind of key: MLflow checks comparators on a row only."""
    e = _mlflow().entities
    run = e.Run(
        e.RunInfo("r", "0", "u", "FINISHED", 1, 2, "active", "file:///a", run_name="n"),
        e.RunData(metrics=[e.Metric("m", 0.5, 1, 0)], params=[e.Param("p", "v")], tags=[e.RunTag("t", "v")]),
        e.RunInputs(
            dataset_inputs=[
                e.DatasetInput(
                    e.Dataset("d", "g", "local", "s"), [e.InputTag(DATASET_CONTEXT_TAG, "training")]
                )
            ]
        ),
    )
    experiment = e.Experiment(
        "0", "e", "file:///a", "active", tags=[e.ExperimentTag("t", "v")], creation_time=1, last_update_time=2
    )
    return run, experiment


def mlflow_accepts(entity: str, filter_string: str, order_by: Sequence[str]) -> bool:
    """Whether MLflow accepts the query: it parses, and each clause and sort key works on a row."""
    utils = _mlflow().search
    run, experiment = _dummy_rows()
    try:
        if entity == "runs":
            for clause in utils.SearchUtils.parse_search_filter(filter_string):
                # Each clause on its own: MLflow stops at the first false clause of a conjunction.
                utils.SearchUtils._does_run_match_clause(run, clause)
            utils.SearchUtils.sort([run], list(order_by))
        else:
            experiments = utils.SearchExperimentsUtils
            for clause in experiments.parse_search_filter(filter_string):
                experiments._does_experiment_match_clause(experiment, clause)
            experiments.sort([experiment], list(order_by))
    except Exception:  # MLflow raises MlflowException, and a bare ValueError for some lists
        return False
    return True


def token_offset(token: str | bytes | None) -> int | None:
    """The offset a page token names (MLflow's and runql's are both base64 of ``{"offset": N}``); None
    when there is no next page."""
    return None if token is None else int(json.loads(base64.b64decode(token))["offset"])


def mlflow_search(
    rows: Sequence[Any], entity: str, filter_string: str, order_by: Sequence[str], max_results: int
) -> tuple[list[str], int | None]:
    """MLflow's in-memory answer (``SearchUtils.filter``, ``sort``, ``paginate``) and the next offset."""
    utils = _mlflow().search
    if entity == "runs":
        found = utils.SearchUtils.filter([to_mlflow_run(r) for r in rows], filter_string)
        ordered = utils.SearchUtils.sort(found, list(order_by))
    else:
        found = utils.SearchExperimentsUtils.filter([to_mlflow_experiment(r) for r in rows], filter_string)
        # The file store's default order, which it passes to sort when none is given.
        ordered = utils.SearchExperimentsUtils.sort(
            found, list(order_by) or ["creation_time DESC", "experiment_id ASC"]
        )
    page, token = utils.SearchUtils.paginate(ordered, None, max_results)
    return [row_id(r) for r in page], token_offset(token)


class SqliteStore:
    """A real MLflow SQLite store holding workspaces of generated runs, one experiment each.

    ``runs[i]`` are the runs of workspace ``i`` as runql sees them: the generated data under the
    ids, names, users and tags the store gave them.
    """

    def __init__(self, workspaces: Sequence[Sequence[Run]], folder: Path) -> None:
        m = _mlflow()
        self.client = m.mlflow.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
        self.experiment_ids: list[str] = []
        self.runs: list[list[Run]] = []
        for index, generated in enumerate(workspaces):
            experiment_id = self.client.create_experiment(
                f"conformance-{index}", artifact_location=(folder / f"artifacts-{index}").as_uri()
            )
            self.experiment_ids.append(experiment_id)
            self.runs.append([self._add(experiment_id, run, m.entities) for run in generated])

    def _add(self, experiment_id: str, run: Run, e: Any) -> Run:
        info = run.info
        created = self.client.create_run(
            experiment_id, start_time=info.start_time, tags=dict(run.data.tags), run_name=info.run_name
        )
        run_id = created.info.run_id
        logged_inputs = log_run_data(self.client, e, run_id, run)
        return stored_run(self.client.get_run(run_id), run, logged_inputs)

    def search(self, workspace: int, filter_string: str, order_by: Sequence[str]) -> list[str]:
        """The run ids ``MlflowClient.search_runs`` returns in workspace ``workspace``, in its order."""
        found = self.client.search_runs(
            [self.experiment_ids[workspace]], filter_string, order_by=list(order_by), max_results=50000
        )
        return [r.info.run_id for r in found]


@contextmanager
def sqlite_store(workspaces: Sequence[Sequence[Run]]) -> Iterator[SqliteStore]:
    """A :class:`SqliteStore` of ``workspaces`` in a temporary folder, MLflow's logging and warnings quiet."""
    with tempfile.TemporaryDirectory(prefix="runql-conformance-") as folder, quiet_mlflow():
        yield SqliteStore(workspaces, Path(folder))


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """MLflow's and alembic's logs below errors, and warnings ignored, while the block runs."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
