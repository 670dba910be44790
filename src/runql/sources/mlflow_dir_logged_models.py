"""The logged models of an MLflow file store folder (``mlruns/``), read directly, without MLflow.

The layout MLflow's tracking ``FileStore`` writes::

    mlruns/<experiment_id>/models/<model_id>/meta.yaml       the model (status as the integer MLflow
                                                             stores: 0 UNSPECIFIED, 1 PENDING, 2 READY,
                                                             3 FAILED)
    mlruns/<experiment_id>/models/<model_id>/params/<key>    a param: the value, the whole file
    mlruns/<experiment_id>/models/<model_id>/tags/<key>      a tag: the value, the whole file
    mlruns/<experiment_id>/models/<model_id>/metrics/<key>   one line per point:
                                                             "timestamp value step run_id", with
                                                             "dataset_name dataset_digest" after it when
                                                             the point was logged on a dataset
    mlruns/.trash/<experiment_id>/models/...                 a deleted experiment's, laid out the same way

Every model is read, deleted ones included (``lifecycle_stage: deleted`` in its meta.yaml; a model
whose meta.yaml has none, as MLflow rewrites it when the model is finalized, is active). A model of a
deleted experiment keeps its own stage: MLflow's stores search it still when the search names its
experiment.

Every line of a metric file is a point. MLflow's FileStore, reading a model back, keeps only the
largest point of each metric and dataset; its SQL store keeps every point, and runql answers as the SQL
store does.

MLflow writes a model's metric under the experiment of the run that logged it, which need not be the
model's: such a point lands in a folder ``<run's experiment>/models/<model_id>/metrics/`` without a
meta.yaml. Its points are the model's, as they are in the SQL store (MLflow's FileStore does not see
them); a folder without a meta.yaml whose model is nowhere in the store (MLflow leaves one behind when it
removes a model for good) is passed over, as MLflow passes it over.

The files are read as :mod:`runql.sources.mlflow_dir` reads runs, with the same refusals (a link out of
the store, a hard link, a pipe, YAML aliases): a corrupt or hostile file raises :class:`StoreError`
naming it. Needs PyYAML (``pip install 'runql[mlflow-files]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runql.common.redact import shown_value
from runql.errors import StoreError
from runql.model.logged_models import LOGGED_MODEL_STATUSES, LoggedModel, LoggedModelMetric

# The run reader's safe file access, shared so every part of an mlruns folder refuses the same things.
from runql.sources.mlflow_dir import (
    META,
    _FileStore,
    _identifier,
    _optional_int,
    _optional_text,
    _stage,
)

__all__ = ["read_logged_models_dir"]

MODELS = "models"
METRICS = "metrics"
# MLflow's LoggedModel reads a meta.yaml without a status as READY.
DEFAULT_STATUS = 2
_ABSENT = "the logged model metadata has no {key!r}; the file may be truncated"


def read_logged_models_dir(root: Path) -> list[LoggedModel]:
    """Every logged model of the file store ``root`` (the ``mlruns`` folder), deleted ones and those of
    deleted experiments included, each with its params, tags and every point of its metrics.

    Raises :class:`StoreError` naming the file at fault when a model is corrupt.
    """
    store = _FileStore(root)
    models: dict[str, LoggedModel] = {}
    # Folders of points logged from another experiment's run, by the model they name.
    strays: list[tuple[str, Path]] = []
    for experiment in store.experiment_folders():
        folder = experiment / MODELS
        if store._kind_of(folder) != "folder":
            continue
        for model_folder in store._folders(folder):
            if store._kind_of(model_folder / META) != "file":
                strays.append((model_folder.name, model_folder))
                continue
            model = _model(store, model_folder, experiment.name)
            held = models.get(model.model_id)
            if held is not None:
                raise StoreError(
                    f"model {model.model_id!r} is also in experiment {held.experiment_id!r}",
                    where=str(model_folder / META),
                )
            models[model.model_id] = model
    for model_id, folder in strays:
        owner = models.get(model_id)
        if owner is not None:
            owner.metrics.extend(_metrics(store, folder, model_id))
    return list(models.values())


def _model(store: _FileStore, folder: Path, experiment_id: str) -> LoggedModel:
    meta = store._meta(folder, "logged model")
    where = folder / META
    model_id = _identifier(store._required(meta, ("model_id",), folder, "logged model"), where, "model_id")
    if model_id != folder.name:
        raise StoreError(
            f"the metadata says model_id {model_id!r}, but the folder is {folder.name!r}", where=str(where)
        )
    recorded = _identifier(store._required(meta, ("experiment_id",), folder, "logged model"), where)
    if recorded != experiment_id:
        raise StoreError(
            f"the model says experiment_id {recorded!r}, but sits in experiment {experiment_id!r}",
            where=str(where),
        )
    return LoggedModel(
        experiment_id=experiment_id,
        model_id=model_id,
        name=_identifier(store._required(meta, ("name",), folder, "logged model"), where, "name"),
        artifact_location=_text(meta, "artifact_location", where),
        creation_timestamp=_time(meta, "creation_timestamp", where),
        last_updated_timestamp=_time(meta, "last_updated_timestamp", where),
        model_type=_optional_text(meta, "model_type", where),
        source_run_id=_optional_text(meta, "source_run_id", where),
        status=_status(meta.get("status", DEFAULT_STATUS), where),
        status_message=_optional_text(meta, "status_message", where),
        tags=store._values(folder / "tags"),
        params=store._values(folder / "params"),
        metrics=_metrics(store, folder, model_id),
        lifecycle_stage=_stage(meta, where),
    )


def _text(meta: dict[str, Any], key: str, where: Path) -> str:
    value = _optional_text(meta, key, where)
    if not value:
        raise StoreError(_ABSENT.format(key=key), where=str(where))
    return value


def _time(meta: dict[str, Any], key: str, where: Path) -> int:
    value = _optional_int(meta, key, where)
    if value is None:
        raise StoreError(_ABSENT.format(key=key), where=str(where))
    return value


def _status(value: object, where: Path) -> str:
    """The status's name, from the integer MLflow writes (``LoggedModelStatus.to_int``)."""
    if type(value) is int and 0 <= value < len(LOGGED_MODEL_STATUSES):
        return LOGGED_MODEL_STATUSES[value]
    known = ", ".join(f"{i} ({name})" for i, name in enumerate(LOGGED_MODEL_STATUSES))
    raise StoreError(f"status must be one of {known}, not {shown_value(value)}", where=str(where))


def _metrics(store: _FileStore, folder: Path, model_id: str) -> list[LoggedModelMetric]:
    return [
        point
        for key, path in store._files(folder / METRICS).items()
        for point in _points(store._text(path), key, model_id, path)
    ]


def _points(text: str, key: str, model_id: str, path: Path) -> list[LoggedModelMetric]:
    """Every line of a metric file as a point, in the order logged."""
    points = []
    for number, line in enumerate(text.splitlines(), start=1):
        # As MLflow splits it: a dataset's name and digest follow the run id, or neither does.
        fields = line.strip().split(" ")
        if len(fields) not in (4, 6):
            raise StoreError(
                f"line {number}: {line!r} has {len(fields)} fields; expected "
                "'timestamp value step run_id' and, after it, a dataset's name and digest",
                where=str(path),
            )
        try:
            timestamp, value, step = int(fields[0]), float(fields[1]), int(fields[2])
        except ValueError:
            raise StoreError(
                f"line {number}: {line!r} is not 'timestamp value step run_id' (an integer, a number, "
                "an integer, an id)",
                where=str(path),
            ) from None
        dataset_name, dataset_digest = (fields[4], fields[5]) if len(fields) == 6 else (None, None)
        points.append(
            LoggedModelMetric(key, value, timestamp, step, fields[3], dataset_name, dataset_digest, model_id)
        )
    if not points:
        raise StoreError("the metric file is empty", where=str(path))
    return points
