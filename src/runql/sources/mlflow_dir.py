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

A folder may come from anyone, so the reader refuses, with a :class:`StoreError` naming the path: a
symbolic link that leads out of the store, a file with hard links (another name of it may be outside),
anything that is not a regular file or folder (a pipe would hang the read, a device never end it), YAML
aliases, and a field of the wrong type.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from runql.common.optional import progress_bar, require
from runql.common.redact import shown_value
from runql.errors import StoreError
from runql.model.entities import LifecycleStage, RunStatus
from runql.model.records import TIME_LIMIT
from runql.sources.base import StoreRecords, local_path, sort_inputs

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


_UNSAFE = "unsafe-store"
# What a path that is neither a regular file nor a folder is, for the message refusing it.
_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


# A hard link is the file itself under another name, which may be outside the store (/etc/shadow linked
# in as a tag): no path tells where the other names are, and MLflow makes none, so any is refused.
_HARD_LINK = (
    "a file with {links} names (hard links), of which runql cannot tell whether one is outside the store; "
    "MLflow writes none: refused (copy the store without hard links, e.g. with cp -r)"
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _optional_int(meta: dict[str, Any], key: str, where: Path) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise StoreError(
            f"{key} must be an integer (milliseconds), not {shown_value(value)}", where=str(where)
        )
    if not -TIME_LIMIT <= value < TIME_LIMIT:
        raise StoreError(
            f"{key} must be between -{TIME_LIMIT} and {TIME_LIMIT}, not {value}", where=str(where)
        )
    return value


def _optional_text(meta: dict[str, Any], key: str, where: Path) -> str | None:
    value = meta.get(key)
    if value is None or isinstance(value, str):
        return value
    raise StoreError(f"{key} must be a string, not {shown_value(value)}", where=str(where))


def _scalar_mapping(value: Any, what: str, where: Path) -> dict[str, str]:
    """A YAML mapping of tags: plain values only (a nested one is no tag, and may be an alias bomb)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StoreError(f"{what} must be a mapping, not {shown_value(value)}", where=str(where))
    out = {}
    for key, item in value.items():
        if isinstance(key, (dict, list)) or isinstance(item, (dict, list)):
            raise StoreError(
                f"{what} must map names to plain values, not {shown_value({key: item})}", where=str(where)
            )
        out[str(key)] = str(item)
    return out


class _FileStore:
    def __init__(self, root: Path) -> None:
        yaml = require("yaml", "mlflow-files", "reading an MLflow file store")
        self.root = root
        # Links are judged by where they lead: inside the store's real folder, or out of it.
        self._real_root = os.path.realpath(root)
        self._yaml = yaml
        self._loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    # -- reading paths safely ------------------------------------------------------------------

    def _inside(self, path: Path) -> str:
        """The real path of ``path``, a symbolic link, refused unless it stays in the store."""
        real = os.path.realpath(path)
        if real != self._real_root and not real.startswith(self._real_root.rstrip(os.sep) + os.sep):
            raise StoreError(
                f"a symbolic link to {real}, outside the store: refused", where=str(path), code=_UNSAFE
            )
        return real

    def _kind_of(self, path: Path) -> str:
        """``"file"``, ``"folder"`` or ``""`` (nothing there) for ``path``, following a link only when
        it stays in the store; anything else is refused."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return ""
        except OSError as error:
            raise StoreError(f"cannot read it: {error.strerror or error}", where=str(path)) from None
        try:
            if stat.S_ISLNK(mode):
                mode = os.stat(self._inside(path)).st_mode
        except OSError as error:
            raise StoreError(f"cannot read it: {error.strerror or error}", where=str(path)) from None
        if stat.S_ISREG(mode):
            return "file"
        if stat.S_ISDIR(mode):
            return "folder"
        raise StoreError(f"{_kind(mode)}, not a file MLflow writes: refused", where=str(path), code=_UNSAFE)

    def _entry_kind(self, entry: os.DirEntry[str]) -> str:
        """:meth:`_kind_of` for an entry of a folder: the folder listing says what a plain file or
        folder is without a system call; links and anything else are looked at closely."""
        if entry.is_file(follow_symlinks=False):
            return "file"
        if entry.is_dir(follow_symlinks=False):
            return "folder"
        return self._kind_of(Path(entry.path))

    def _text(self, path: Path) -> str:
        """A file's text (MLflow writes and reads these files as UTF-8 without newline translation).
        The file is opened without following a link (a link's target, checked, is opened instead)
        and without blocking, then checked to be a regular file of one name (no hard link) before a
        byte is read."""
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            try:
                descriptor = os.open(path, flags)
            except OSError:
                if not path.is_symlink():
                    raise
                descriptor = os.open(self._inside(path), flags)
            with open(descriptor, "rb") as handle:
                status = os.fstat(handle.fileno())
                if not stat.S_ISREG(status.st_mode):
                    raise StoreError(
                        f"{_kind(status.st_mode)}, not a file MLflow writes: refused",
                        where=str(path),
                        code=_UNSAFE,
                    )
                if status.st_nlink > 1:
                    raise StoreError(_HARD_LINK.format(links=status.st_nlink), where=str(path), code=_UNSAFE)
                data = handle.read()
        except OSError as error:
            raise StoreError(f"cannot read it: {error.strerror or error}", where=str(path)) from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise StoreError(
                f"not UTF-8 text ({error.reason} at byte {error.start})", where=str(path)
            ) from None

    def _folders(self, parent: Path) -> list[Path]:
        """The folders in ``parent``, sorted (files in it are not MLflow's concern here)."""
        with os.scandir(parent) as entries:
            return sorted(Path(e.path) for e in entries if self._entry_kind(e) == "folder")

    def _files(self, folder: Path) -> dict[str, Path]:
        """Every file under ``folder`` by its key: the relative path with '/' (keys may hold '/')."""
        if self._kind_of(folder) != "folder":
            return {}
        found: dict[str, Path] = {}
        pending = [folder]
        # Only a link can make the walk loop, so only the folders reached through one are remembered:
        # a loop comes back to one of them.
        linked: set[str] = set()
        while pending:
            directory = pending.pop()
            with os.scandir(directory) as entries:
                for entry in entries:
                    kind = self._entry_kind(entry)
                    child = Path(entry.path)
                    if kind == "file":
                        found[child.relative_to(folder).as_posix()] = child
                    elif kind == "folder":
                        if entry.is_symlink():
                            real = os.path.realpath(child)
                            if real in linked:
                                raise StoreError(
                                    "a symbolic link that loops: refused", where=str(child), code=_UNSAFE
                                )
                            linked.add(real)
                        pending.append(child)
        return dict(sorted(found.items()))

    # -- meta.yaml -----------------------------------------------------------------------------

    def _meta(self, folder: Path, what: str) -> dict[str, Any]:
        path = folder / META
        if self._kind_of(path) != "file":
            raise StoreError(f"{what} folder without {META}", where=str(path))
        text = self._text(path)
        # MLflow writes each meta.yaml whole, ending with a newline: anything else was cut short.
        if text and not text.endswith("\n"):
            raise StoreError("the file ends mid-line; it was truncated", where=str(path))
        try:
            # An alias needs a '*': only then is the text scanned for one (MLflow writes none, and a
            # nest of them expands to more than any memory).
            if "*" in text and any(
                isinstance(event, self._yaml.AliasEvent)
                for event in self._yaml.parse(text, Loader=self._loader)
            ):
                raise StoreError(
                    "YAML aliases (*name), which MLflow never writes: refused", where=str(path), code=_UNSAFE
                )
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
            if self._kind_of(parent) != "folder":
                continue
            for child in self._folders(parent):
                if child.name.startswith(".") or child.name in ROOT_RESERVED:
                    continue
                if self._kind_of(child / META) != "file":
                    raise StoreError(f"experiment folder without {META}", where=str(child / META))
                folders.append(child)
        return folders

    def experiment(self, folder: Path) -> dict[str, Any]:
        meta = self._meta(folder, "experiment")
        experiment_id = _identifier(
            self._required(meta, ("experiment_id",), folder, "experiment"), folder / META
        )
        if experiment_id != folder.name:
            raise StoreError(
                f"the metadata says experiment_id {experiment_id!r}, but the folder is {folder.name!r}",
                where=str(folder / META),
            )
        name = _identifier(self._required(meta, ("name",), folder, "experiment"), folder / META, "name")
        # Older stores kept experiment tags in meta.yaml (a list when empty); the tags folder wins.
        legacy = meta.get("tags")
        tags = _scalar_mapping(legacy, "tags", folder / META) if legacy != [] else {}
        tags.update(self._values(folder / "tags"))
        stage = _stage(meta, folder / META)
        if folder.parent.name == TRASH:
            stage = LifecycleStage.DELETED
        return {
            "experiment_id": experiment_id,
            "name": name,
            "artifact_location": _optional_text(meta, "artifact_location", folder / META),
            "lifecycle_stage": stage,
            "creation_time": _optional_int(meta, "creation_time", folder / META),
            "last_update_time": _optional_int(meta, "last_update_time", folder / META),
            "tags": tags,
        }

    def run_folders(self, experiment: Path) -> list[Path]:
        return [
            child
            for child in self._folders(experiment)
            if child.name not in RESERVED and not child.name.startswith(".")
        ]

    # -- runs ----------------------------------------------------------------------------------

    def run(self, folder: Path, experiment_id: str) -> dict[str, Any]:
        meta = self._meta(folder, "run")
        where = folder / META
        run_id = _identifier(self._required(meta, ("run_id", "run_uuid"), folder, "run"), where, "run_id")
        absent = [key for key in RUN_KEYS if key not in meta]
        if absent:
            raise StoreError(
                f"the run metadata lacks {', '.join(absent)}; the file may be truncated", where=str(where)
            )
        if run_id != folder.name:
            raise StoreError(
                f"the metadata says run_id {run_id!r}, but the folder is {folder.name!r}", where=str(where)
            )
        recorded = _identifier(self._required(meta, ("experiment_id",), folder, "run"), where)
        if recorded != experiment_id:
            raise StoreError(
                f"the run says experiment_id {recorded!r}, but sits in experiment {experiment_id!r}",
                where=str(where),
            )
        status = meta["status"]
        if isinstance(status, int) and status in STATUS_NUMBERS:
            status = STATUS_NUMBERS[status]
        elif not isinstance(status, str) or status not in RunStatus.ALL:
            raise StoreError(f"unknown run status {shown_value(status)}", where=str(where))
        stage = _stage(meta, where)
        tags = self._values(folder / "tags")
        return {
            "run_id": run_id,
            "experiment_id": experiment_id,
            "run_name": _optional_text(meta, "run_name", where) or tags.get("mlflow.runName"),
            "user_id": _optional_text(meta, "user_id", where),
            "status": status,
            "start_time": _optional_int(meta, "start_time", where),
            "end_time": _optional_int(meta, "end_time", where),
            "artifact_uri": _optional_text(meta, "artifact_uri", where),
            "lifecycle_stage": stage,
            "metrics": {
                key: _history(self._text(path), path) for key, path in self._files(folder / "metrics").items()
            },
            "params": self._values(folder / "params"),
            "tags": tags,
            "inputs": self._inputs(folder / "inputs", folder.parent / "datasets"),
        }

    def _values(self, folder: Path) -> dict[str, str]:
        return {key: self._text(path) for key, path in self._files(folder).items()}

    def _inputs(self, folder: Path, datasets: Path) -> list[dict[str, Any]]:
        if self._kind_of(folder) != "folder":
            return []
        inputs: list[dict[str, Any]] = []
        for child in self._folders(folder):
            meta = self._meta(child, "input")
            if meta.get("source_type") != "DATASET":
                continue  # a model input: not part of run search
            source_id = _identifier(
                self._required(meta, ("source_id",), child, "input"), child / META, "source_id"
            )
            if source_id in (".", "..") or "/" in source_id or os.sep in source_id:
                raise StoreError(
                    f"source_id {source_id!r} is not a dataset's folder name", where=str(child / META)
                )
            dataset_folder = datasets / source_id
            if self._kind_of(dataset_folder) != "folder":
                raise StoreError(
                    f"the input names dataset {source_id!r}, which is not in {datasets}",
                    where=str(child / META),
                )
            dataset = self._meta(dataset_folder, "dataset")
            where = dataset_folder / META
            tags = _scalar_mapping(meta.get("tags") or {}, "input tags", child / META)
            inputs.append(
                {
                    "dataset": {
                        "name": _identifier(
                            self._required(dataset, ("name",), dataset_folder, "dataset"), where, "name"
                        ),
                        "digest": _identifier(dataset.get("digest") or "", where, "digest"),
                        "source_type": _optional_text(dataset, "source_type", where),
                        "source": _optional_text(dataset, "source", where),
                        "schema": _optional_text(dataset, "schema", where),
                        "profile": _optional_text(dataset, "profile", where),
                    },
                    "tags": tags,
                }
            )
        return sort_inputs(inputs)


def _identifier(value: Any, where: Path, what: str = "experiment_id") -> str:
    """An id or name: YAML reads an unquoted 12 as an int, so ints are taken as their text."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise StoreError(f"{what} must be a string, not {shown_value(value)}", where=str(where))
    return str(value)


def _stage(meta: dict[str, Any], where: Path) -> str:
    stage = meta.get("lifecycle_stage") or LifecycleStage.ACTIVE
    if stage not in (LifecycleStage.ACTIVE, LifecycleStage.DELETED):
        raise StoreError(f"unknown lifecycle_stage {shown_value(stage)}", where=str(where))
    return str(stage)


def _history(text: str, path: Path) -> list[dict[str, Any]]:
    points = []
    for number, line in enumerate(text.splitlines(), start=1):
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
