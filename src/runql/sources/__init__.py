"""Readers that turn a store of runs into the records a :class:`~runql.Workspace` is built from.

- :func:`read_mlflow_dir`: an MLflow file store folder (``mlruns/``), read directly with PyYAML;
- :func:`read_mlflow_db`: an MLflow tracking database (SQLite, PostgreSQL, MySQL), read with SQLAlchemy;
- :func:`read_mlflow`: any tracking URI, through ``mlflow.MlflowClient``;
- :func:`read_jsonl`: a workspace :meth:`~runql.Workspace.save` wrote (:func:`write_jsonl`).

:func:`source_kind` says which one reads a path or URI; :meth:`~runql.Workspace.load` picks it. Each
reader reads the whole store before returning: a store that is corrupt or partial raises
:class:`StoreError`, naming the file (or table) and what is wrong in it. The libraries a reader
needs are optional extras, imported when the reader runs. Readers return records and never build
a workspace, so this package does not depend on :mod:`runql.stores.workspace`.
"""

from __future__ import annotations

import os

from runql.errors import MissingDependencyError, StoreError
from runql.sources.base import DATABASE_SCHEMES, StoreRecords, local_path, url_scheme
from runql.sources.jsonl import read_jsonl, write_jsonl
from runql.sources.mlflow_client import read_mlflow
from runql.sources.mlflow_db import read_mlflow_db
from runql.sources.mlflow_dir import read_mlflow_dir

__all__ = [
    "MissingDependencyError",
    "StoreError",
    "StoreRecords",
    "read_jsonl",
    "read_mlflow",
    "read_mlflow_db",
    "read_mlflow_dir",
    "source_kind",
    "write_jsonl",
]

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def source_kind(path_or_uri: str | os.PathLike[str]) -> str:
    """Which reader reads ``path_or_uri``: ``"jsonl"``, ``"mlflow-dir"``, ``"mlflow-db"`` or ``"mlflow"``.

    A database URL (``sqlite:///...``, ``postgresql://...``, ``mysql://...``) or a SQLite file is
    ``mlflow-db``; a folder or ``file:`` URI is ``mlflow-dir``; any other URI (``http://``,
    ``databricks``, ``azureml://``) is ``mlflow``; any other file is JSON Lines. Raises
    :class:`StoreError` for a local path that does not exist.
    """
    text = os.fspath(path_or_uri)
    scheme = url_scheme(text).split("+")[0]
    if scheme in DATABASE_SCHEMES:
        return "mlflow-db"
    if scheme not in ("", "file"):
        return "mlflow"
    if text == "databricks":
        return "mlflow"
    path = local_path(text)
    if path.is_dir():
        return "mlflow-dir"
    if not path.exists():
        raise StoreError(
            "no such file or folder (expected an mlruns folder, an MLflow database such as mlflow.db, "
            "a runql workspace .jsonl file or a tracking URI)",
            where=str(path),
            code="not-found",
        )
    if path.suffix.lower() in _SQLITE_SUFFIXES:
        return "mlflow-db"
    with open(path, "rb") as handle:
        if handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC:
            return "mlflow-db"
    return "jsonl"
