"""Any MLflow tracking URI read through ``mlflow.MlflowClient``: a tracking server, Databricks, Azure ML.

Experiments and runs are paged through (deleted ones included); a run's search result carries only
the latest point of each metric, so ``with_history=True`` asks for every history as well (one
request per run and metric key).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from runql.common.optional import progress_bar, require
from runql.common.redact import redact
from runql.errors import StoreError
from runql.sources.base import StoreRecords, sort_inputs

__all__ = ["read_mlflow"]

# Page sizes every tracking server accepts (Databricks caps run pages at 1000).
EXPERIMENT_PAGE = 1000
RUN_PAGE = 1000
ALL = 3  # MLflow's ViewType.ALL


def _pages(fetch: Any) -> Iterator[Any]:
    token = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


def _experiment_record(experiment: Any) -> dict[str, Any]:
    return {
        "experiment_id": str(experiment.experiment_id),
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
        "tags": dict(experiment.tags),
    }


def _run_record(run: Any, histories: dict[str, list[Any]] | None) -> dict[str, Any]:
    info = run.info
    if histories is None:
        # The search result's Metric objects carry the latest point's step and timestamp.
        latest = getattr(run.data, "_metric_objs", None) or []
        histories = {m.key: [m] for m in latest}
        for key, value in run.data.metrics.items():
            histories.setdefault(key, [{"value": value, "step": 0, "timestamp": info.start_time}])
    metrics = {
        key: [
            p if isinstance(p, dict) else {"value": p.value, "step": p.step, "timestamp": p.timestamp}
            for p in points
        ]
        for key, points in histories.items()
    }
    inputs = [
        {
            "dataset": {
                "name": d.dataset.name,
                "digest": d.dataset.digest,
                "source_type": d.dataset.source_type,
                "source": d.dataset.source,
                "schema": d.dataset.schema,
                "profile": d.dataset.profile,
            },
            "tags": {t.key: t.value for t in d.tags},
        }
        for d in (getattr(getattr(run, "inputs", None), "dataset_inputs", None) or [])
    ]
    return {
        "run_id": info.run_id,
        "experiment_id": str(info.experiment_id),
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "artifact_uri": info.artifact_uri,
        "lifecycle_stage": info.lifecycle_stage,
        "metrics": metrics,
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "inputs": sort_inputs(inputs),
    }


def read_mlflow(
    tracking_uri: str | None = None,
    experiment_ids: Iterable[str | int] | None = None,
    with_history: bool = False,
    *,
    progress: bool | None = None,
) -> StoreRecords:
    """The experiments and runs a tracking URI serves (deleted ones included), through MLflow's client.

    ``tracking_uri`` defaults to MLflow's own default (``MLFLOW_TRACKING_URI``, then the local
    store). ``experiment_ids`` limits the load to those experiments. With ``with_history``, every
    metric history is fetched too; otherwise each metric keeps its latest point only. Needs MLflow
    (``pip install 'runql[mlflow]'``).
    """
    mlflow = require("mlflow", "mlflow", "reading runs through an MLflow tracking URI")
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    where = redact(tracking_uri) if tracking_uri else "the default tracking URI"
    try:
        records, experiments = _read(client, experiment_ids, with_history, progress)
    except mlflow.exceptions.MlflowException as error:
        raise StoreError(redact(str(error).splitlines()[0]), where=where) from None
    return StoreRecords([_experiment_record(e) for e in experiments], records, where=where)


def _read(
    client: Any, experiment_ids: Iterable[str | int] | None, with_history: bool, progress: bool | None
) -> tuple[list[dict[str, Any]], list[Any]]:
    if experiment_ids is None:
        experiments = list(
            _pages(
                lambda token: client.search_experiments(
                    view_type=ALL, max_results=EXPERIMENT_PAGE, page_token=token
                )
            )
        )
    else:
        experiments = [client.get_experiment(str(i)) for i in experiment_ids]
    runs: list[Any] = []
    for experiment in experiments:
        runs.extend(
            _pages(
                lambda token, e=experiment: client.search_runs(
                    [e.experiment_id], run_view_type=ALL, max_results=RUN_PAGE, page_token=token
                )
            )
        )
    records = []
    for run in progress_bar(
        runs, total=len(runs), desc="reading runs", unit="run", enabled=progress, extra="mlflow"
    ):
        histories = None
        if with_history:
            histories = {key: client.get_metric_history(run.info.run_id, key) for key in run.data.metrics}
        records.append(_run_record(run, histories))
    return records, experiments
