"""An MLflow file store folder (``mlruns/``) read directly, without MLflow.

The layout MLflow writes::

    mlruns/<experiment_id>/meta.yaml              the experiment
    mlruns/<experiment_id>/tags/<key>             experiment tags (a key with '/' is a nested path)
    mlruns/<experiment_id>/datasets/<id>/meta.yaml   datasets runs of the experiment used
    mlruns/<experiment_id>/<run_id>/meta.yaml     the run (status as MLflow's enum number)
    mlruns/<experiment_id>/<run_id>/metrics/<key> one line per point: "timestamp value step"
    mlruns/<experiment_id>/<run_id>/params/<key>  the value, the whole file
    mlruns/<experiment_id>/<run_id>/tags/<key>    the value, the whole file
    mlruns/<experiment_id>/<run_id>/inputs/<id>/meta.yaml   a dataset input and its tags
    mlruns/.trash/<experiment_id>/...             deleted experiments, laid out the same way

Deleted runs stay in their experiment's folder with ``lifecycle_stage: deleted``. Metric files
keep every point in logged order, so histories are whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..optional import progress_bar, require
from ..records import LifecycleStage, RunStatus
from .base import StoreRecords, local_path, sort_inputs

__all__ = ["read_mlflow_dir"]

TRASH = ".trash"
META = "meta.yaml"
# Folders of an experiment that are not runs (MLflow reserves these names).
RESERVED = frozenset({"tags", "datasets", "traces", "models"})
# The model registry of a file store lives beside the experiments.
ROOT_RESERVED = frozenset({"models"})
# Keys MLflow writes in every run's meta.yaml (their values may be null).
RUN_KEYS = ("experiment_id", "status", "start_time", "end_time", "user_id")
STATUS_NUMBERS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}


def read_mlflow_dir(path: str | os.PathLike[str] = "mlruns", *, progress: bool | None = None) -> StoreRecords:
    """Every experiment and run of an MLflow file store folder, deleted ones included.

    ``path`` is the ``mlruns`` folder (or a ``file:`` URI, or a folder that holds ``mlruns``).
    ``progress``: show a progress bar (None: when stderr is a terminal). Needs PyYAML
    (``pip install 'runql[mlflow-files]'``). Raises :class:`StoreError` naming the file at fault
    when the store is corrupt or partial.
    """
    store = _FileStore(_store_root(local_path(path)))
    experiments: list[dict[str, Any]] = []
    run_folders: list[tuple[Path, str]] = []
    for folder in store.experiment_folders():
        experiment = store.experiment(folder)
        experiments.append(experiment)
        run_folders.extend((run, experiment["experiment_id"]) for run in store.run_folders(folder))
    runs = [
        store.run(folder, experiment_id)
        for folder, experiment_id in progress_bar(
            run_folders,
            total=len(run_folders),
            desc="reading runs",
            unit="run",
            enabled=progress,
            extra="mlflow-files",
        )
    ]
    return StoreRecords(experiments, runs, where=str(store.root))


def _is_experiment(folder: Path) -> bool:
    return (folder / META).is_file()


def _store_root(path: Path) -> Path:
    if not path.exists():
        raise StoreError("no such folder", where=str(path), code="not-found")
    if not path.is_dir():
        raise StoreError("not a folder: an MLflow file store is a folder (mlruns)", where=str(path))
    if (path / META).is_file():
        raise StoreError(
            f"this is one experiment's or run's folder; pass the mlruns folder that holds it ({path.parent})",
            where=str(path),
            code="not-a-store",
        )

    def looks_like_store(folder: Path) -> bool:
        return (folder / TRASH).is_dir() or any(
            child.is_dir() and _is_experiment(child) for child in folder.iterdir()
        )

    if looks_like_store(path):
        return path
    if (path / "mlruns").is_dir() and looks_like_store(path / "mlruns"):
        return path / "mlruns"
    raise StoreError(
        "not an MLflow file store: no experiment folders (<experiment_id>/meta.yaml) in it",
        where=str(path),
        code="not-a-store",
    )


def _text(path: Path) -> str:
    # MLflow writes and reads these files as UTF-8 without newline translation.
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise StoreError(f"not UTF-8 text ({error.reason} at byte {error.start})", where=str(path)) from None
    except OSError as error:
        raise StoreError(f"cannot read it: {error.strerror or error}", where=str(path)) from None


def _optional_int(meta: dict[str, Any], key: str, where: Path) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise StoreError(f"{key} must be an integer (milliseconds), not {value!r}", where=str(where))
    return value


class _FileStore:
    def __init__(self, root: Path) -> None:
        yaml = require("yaml", "mlflow-files", "reading an MLflow file store")
        self.root = root
        self._yaml = yaml
        self._loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def _meta(self, folder: Path, what: str) -> dict[str, Any]:
        path = folder / META
        if not path.is_file():
            raise StoreError(f"{what} folder without {META}", where=str(path))
        text = _text(path)
        # MLflow writes each meta.yaml whole, ending with a newline: anything else was cut short.
        if text and not text.endswith("\n"):
            raise StoreError("the file ends mid-line; it was truncated", where=str(path))
        try:
            meta = self._yaml.load(text, Loader=self._loader)
        except self._yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            mark = getattr(error, "problem_mark", None)
            place = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
            raise StoreError(
                f"{place}not valid YAML ({problem}); the file may be truncated", where=str(path)
            ) from None
        if not isinstance(meta, dict):
            state = "empty" if meta is None else f"a {type(meta).__name__}, not a mapping"
            raise StoreError(f"the {what} metadata is {state}; the file may be truncated", where=str(path))
        return meta

    def _required(self, meta: dict[str, Any], keys: tuple[str, ...], folder: Path, what: str) -> Any:
        for key in keys:
            if meta.get(key) not in (None, ""):
                return meta[key]
        raise StoreError(
            f"the {what} metadata has no {keys[0]!r}; the file may be truncated", where=str(folder / META)
        )

    # -- experiments ---------------------------------------------------------------------------

    def experiment_folders(self) -> list[Path]:
        folders = []
        for parent in (self.root, self.root / TRASH):
            if not parent.is_dir():
                continue
            for child in sorted(parent.iterdir()):
                if not child.is_dir() or child.name.startswith(".") or child.name in ROOT_RESERVED:
                    continue
                if not _is_experiment(child):
                    raise StoreError(f"experiment folder without {META}", where=str(child / META))
                folders.append(child)
        return folders

    def experiment(self, folder: Path) -> dict[str, Any]:
        meta = self._meta(folder, "experiment")
        experiment_id = str(self._required(meta, ("experiment_id",), folder, "experiment"))
        if experiment_id != folder.name:
            raise StoreError(
                f"the metadata says experiment_id {experiment_id!r}, but the folder is {folder.name!r}",
                where=str(folder / META),
            )
        name = self._required(meta, ("name",), folder, "experiment")
        # Older stores kept experiment tags in meta.yaml; the tags folder wins.
        legacy = meta.get("tags")
        tags = {str(k): str(v) for k, v in legacy.items()} if isinstance(legacy, dict) else {}
        tags.update(self._values(folder / "tags"))
        stage = meta.get("lifecycle_stage") or LifecycleStage.ACTIVE
        if folder.parent.name == TRASH:
            stage = LifecycleStage.DELETED
        return {
            "experiment_id": experiment_id,
            "name": str(name),
            "artifact_location": meta.get("artifact_location"),
            "lifecycle_stage": stage,
            "creation_time": _optional_int(meta, "creation_time", folder / META),
            "last_update_time": _optional_int(meta, "last_update_time", folder / META),
            "tags": tags,
        }

    def run_folders(self, experiment: Path) -> list[Path]:
        return [
            child
            for child in sorted(experiment.iterdir())
            if child.is_dir() and child.name not in RESERVED and not child.name.startswith(".")
        ]

    # -- runs ----------------------------------------------------------------------------------

    def run(self, folder: Path, experiment_id: str) -> dict[str, Any]:
        meta = self._meta(folder, "run")
        where = folder / META
        run_id = str(self._required(meta, ("run_id", "run_uuid"), folder, "run"))
        absent = [key for key in RUN_KEYS if key not in meta]
        if absent:
            raise StoreError(
                f"the run metadata lacks {', '.join(absent)}; the file may be truncated", where=str(where)
            )
        if run_id != folder.name:
            raise StoreError(
                f"the metadata says run_id {run_id!r}, but the folder is {folder.name!r}", where=str(where)
            )
        recorded = str(self._required(meta, ("experiment_id",), folder, "run"))
        if recorded != experiment_id:
            raise StoreError(
                f"the run says experiment_id {recorded!r}, but sits in experiment {experiment_id!r}",
                where=str(where),
            )
        status = meta["status"]
        if isinstance(status, int) and status in STATUS_NUMBERS:
            status = STATUS_NUMBERS[status]
        elif status not in RunStatus.ALL:
            raise StoreError(f"unknown run status {status!r}", where=str(where))
        stage = meta.get("lifecycle_stage") or LifecycleStage.ACTIVE
        if stage not in (LifecycleStage.ACTIVE, LifecycleStage.DELETED):
            raise StoreError(f"unknown lifecycle_stage {stage!r}", where=str(where))
        tags = self._values(folder / "tags")
        return {
            "run_id": run_id,
            "experiment_id": experiment_id,
            "run_name": meta.get("run_name") or tags.get("mlflow.runName"),
            "user_id": meta.get("user_id"),
            "status": status,
            "start_time": _optional_int(meta, "start_time", where),
            "end_time": _optional_int(meta, "end_time", where),
            "artifact_uri": meta.get("artifact_uri"),
            "lifecycle_stage": stage,
            "metrics": {key: _history(path) for key, path in _files(folder / "metrics").items()},
            "params": self._values(folder / "params"),
            "tags": tags,
            "inputs": self._inputs(folder / "inputs", folder.parent / "datasets"),
        }

    def _values(self, folder: Path) -> dict[str, str]:
        return {key: _text(path) for key, path in _files(folder).items()}

    def _inputs(self, folder: Path, datasets: Path) -> list[dict[str, Any]]:
        if not folder.is_dir():
            return []
        inputs: list[dict[str, Any]] = []
        for child in sorted(folder.iterdir()):
            meta = self._meta(child, "input")
            if meta.get("source_type") != "DATASET":
                continue  # a model input: not part of run search
            source_id = str(self._required(meta, ("source_id",), child, "input"))
            dataset_folder = datasets / source_id
            if not dataset_folder.is_dir():
                raise StoreError(
                    f"the input names dataset {source_id!r}, which is not in {datasets}",
                    where=str(child / META),
                )
            dataset = self._meta(dataset_folder, "dataset")
            tags = meta.get("tags") or {}
            if not isinstance(tags, dict):
                raise StoreError(f"input tags must be a mapping, not {tags!r}", where=str(child / META))
            inputs.append(
                {
                    "dataset": {
                        "name": str(self._required(dataset, ("name",), dataset_folder, "dataset")),
                        "digest": str(dataset.get("digest") or ""),
                        "source_type": dataset.get("source_type"),
                        "source": dataset.get("source"),
                        "schema": dataset.get("schema"),
                        "profile": dataset.get("profile"),
                    },
                    "tags": {str(k): str(v) for k, v in tags.items()},
                }
            )
        return sort_inputs(inputs)


def _files(folder: Path) -> dict[str, Path]:
    """Every file under ``folder`` by its key: the relative path with '/' (keys may hold '/')."""
    if not folder.is_dir():
        return {}
    found = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            path = Path(directory, name)
            found[path.relative_to(folder).as_posix()] = path
    return dict(sorted(found.items()))


def _history(path: Path) -> list[dict[str, Any]]:
    points = []
    for number, line in enumerate(_text(path).splitlines(), start=1):
        fields = line.strip().split(" ")
        # "timestamp value", "timestamp value step", or with a dataset name and digest after the step.
        if len(fields) not in (2, 3, 5):
            raise StoreError(
                f"line {number}: {line!r} has {len(fields)} fields; expected 'timestamp value step'",
                where=str(path),
            )
        try:
            timestamp, value = int(fields[0]), float(fields[1])
            # MLflow reads the step of a five-field line (one logged with a dataset) as 0; so does runql,
            # so that searches agree with MLflow's on the same folder.
            step = int(fields[2]) if len(fields) == 3 else 0
        except ValueError:
            raise StoreError(
                f"line {number}: {line!r} is not 'timestamp value step' (an integer, a number, an integer)",
                where=str(path),
            ) from None
        points.append({"value": value, "step": step, "timestamp": timestamp})
    if not points:
        raise StoreError("the metric file is empty", where=str(path))
    return points
