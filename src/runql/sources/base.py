"""What every reader shares: the records it returns, and the helpers for paths and dataset inputs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from runql.model.entities import DATASET_CONTEXT_TAG, Dataset, DatasetInput, HistorySource, InputTag

if TYPE_CHECKING:
    from runql.engines.column_first import ColumnFirstRuns
    from runql.model.logged_models import LoggedModel
    from runql.model.registry import Registry

__all__ = ["StoreRecords", "dataset_inputs", "local_path", "sort_inputs", "url_scheme"]


@dataclass
class StoreRecords:
    """A store read, as the records :class:`~runql.Workspace` is built from.

    ``runs`` are run records, or :class:`~runql.model.entities.Run` objects a reader built itself; a
    reader that reads runs as columns hands them over as ``columns`` instead (and no ``runs``). ``where``
    names the store in errors. ``histories``, when set, keeps the metric histories the runs were read
    without (a tracking database), and reads them when asked for.
    """

    experiments: list[dict[str, Any]]
    runs: list[Any]
    where: str
    histories: HistorySource | None = None
    active_experiment_id: str | None = None
    last_active_run_id: str | None = None
    # A reader of a file of lines (JSON Lines) notes the line of each experiment and run record, so that
    # a record the workspace cannot build is named by its line.
    experiment_lines: list[int] = field(default_factory=list)
    run_lines: list[int] = field(default_factory=list)
    columns: ColumnFirstRuns | None = None
    registry: Registry | None = None
    """The model registry's registered models and versions, when the store has them (a database)."""
    logged_models: list[LoggedModel] = field(default_factory=list)
    """The logged models of the store's experiments (MLflow 3), deleted ones included."""

    def place(self, kind: str, index: int) -> str:
        """Where the ``index``-th record of ``kind`` (``"experiment"`` or ``"run"``) is: its line when
        the reader noted it, else the store."""
        lines = self.experiment_lines if kind == "experiment" else self.run_lines
        return f"{self.where}, line {lines[index]}" if 0 <= index < len(lines) else self.where


def sort_inputs(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dataset inputs in one order (name, digest, context): a store keeps none, and readers must agree."""
    return sorted(
        inputs,
        key=lambda i: (i["dataset"]["name"], i["dataset"]["digest"], i["tags"].get(DATASET_CONTEXT_TAG, "")),
    )


def dataset_inputs(inputs: list[dict[str, Any]]) -> list[DatasetInput]:
    """Input records (``{"dataset": {name, digest, ...}, "tags": {...}}``) as DatasetInputs, in
    :func:`sort_inputs` order."""
    return [
        DatasetInput(Dataset(**item["dataset"]), [InputTag(k, v) for k, v in item["tags"].items()])
        for item in sort_inputs(inputs)
    ]


def local_path(path_or_uri: str | os.PathLike[str]) -> Path:
    """A filesystem path from a path or a ``file:`` URI."""
    text = os.fspath(path_or_uri)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return Path(url2pathname(unquote(parsed.path)))
    return Path(text)


def url_scheme(text: str) -> str:
    """The lower-case scheme of a URL, or "" for a path."""
    parsed = urlparse(text)
    # One letter is a Windows drive, not a scheme.
    return parsed.scheme.lower() if len(parsed.scheme) > 1 else ""
