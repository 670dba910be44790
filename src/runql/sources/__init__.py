"""Readers that turn a store of runs into the records a :class:`~runql.Workspace` is built from.

- :func:`read_mlflow_dir`: an MLflow file store folder (``mlruns/``), read directly with PyYAML;
- :func:`read_mlflow_db`: an MLflow tracking database (SQLite, PostgreSQL, MySQL), read with SQLAlchemy;
- :func:`read_mlflow`: any tracking URI, through ``mlflow.MlflowClient``;
- :func:`read_jsonl`: a workspace :meth:`~runql.Workspace.save` wrote (:func:`write_jsonl`).

:func:`source_kind` says which one reads a path or URI, from the one table of URL schemes
(:mod:`runql.sources.schemes`); :meth:`~runql.Workspace.load` picks it. Each reader reads the whole
store before returning: a store that is corrupt or partial raises :class:`StoreError`, naming the file
(or table) and what is wrong in it. The libraries a reader needs are optional extras, imported when
the reader runs. Readers return records and never build a workspace, so this package does not depend
on :mod:`runql.stores.workspace`.
"""

from __future__ import annotations

from runql.errors import MissingDependencyError, StoreError
from runql.sources.base import StoreRecords
from runql.sources.jsonl import read_jsonl, write_jsonl
from runql.sources.mlflow_client import read_mlflow
from runql.sources.mlflow_db import read_mlflow_db
from runql.sources.mlflow_dir import read_mlflow_dir
from runql.sources.schemes import source_kind

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
