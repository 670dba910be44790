"""What a path or URL names, told once: an mlruns folder, a tracking database, a tracking server or a
file a workspace saved.

:data:`SCHEMES` maps each URL scheme runql reads to the kind of store it names. :func:`scheme_kind`
reads a URL's kind from it (a local path has none: what is there tells); :func:`source_kind` tells a
local path's too. :meth:`runql.Workspace.load` picks its reader by :func:`source_kind`, and
:func:`runql.connect` its store by :func:`scheme_kind`, so both read the same table.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from runql.common.redact import redact
from runql.errors import StoreError
from runql.sources.base import local_path, url_scheme

__all__ = ["DATABASE_SCHEMES", "RUNQL_PREFIX", "SCHEMES", "StoreKind", "scheme_kind", "source_kind"]

StoreKind = Literal["jsonl", "mlflow-dir", "mlflow-db", "mlflow", "parquet"]
"""What a source is: a file :meth:`~runql.Workspace.save` wrote (``jsonl``), an MLflow file store
folder (``mlflow-dir``), an MLflow tracking database (``mlflow-db``), a tracking server reached
through MLflow's client (``mlflow``) or a Parquet run table ``runql export`` wrote (``parquet``)."""

SCHEMES: Mapping[str, StoreKind] = MappingProxyType(
    {
        # MLflow's tracking databases, as SQLAlchemy URLs (a driver may follow a '+': postgresql+psycopg2).
        "sqlite": "mlflow-db",
        "postgresql": "mlflow-db",
        "postgres": "mlflow-db",
        "mysql": "mlflow-db",
        "mariadb": "mlflow-db",
        "mssql": "mlflow-db",
        # runql+sqlite://, runql+postgresql://...: the database an `mlflow server` serves with runql's plugin.
        "runql": "mlflow-db",
        # Tracking servers MLflow's client reaches (Azure ML through its MLflow plugin).
        "http": "mlflow",
        "https": "mlflow",
        "databricks": "mlflow",
        "databricks-uc": "mlflow",
        "uc": "mlflow",
        "azureml": "mlflow",
    }
)
"""The kind of store each URL scheme names. A path, or a ``file:`` URI, names what is there."""

DATABASE_SCHEMES = tuple(s for s, kind in SCHEMES.items() if kind == "mlflow-db" and s != "runql")
"""The URL schemes of MLflow's tracking databases."""

RUNQL_PREFIX = "runql+"
"""What MLflow's server is given before a database URL to serve it with runql's plugin."""

# MLflow reads the bare word as Databricks' default profile.
_BARE_SERVER_URIS = ("databricks",)

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_SQLITE_MAGIC = b"SQLite format 3\x00"
# The first bytes of every Parquet file.
_PARQUET_MAGIC = b"PAR1"


@functools.cache
def _plugin_schemes() -> frozenset[str]:
    """The schemes MLflow's installed plugins add to its tracking stores."""
    with contextlib.suppress(Exception):  # a plugin list that cannot be read adds no scheme
        from importlib.metadata import entry_points

        return frozenset(e.name for e in entry_points(group="mlflow.tracking_store"))
    return frozenset()


def scheme_kind(path_or_uri: str | os.PathLike[str]) -> StoreKind | None:
    """The kind of store a URL names by its scheme (:data:`SCHEMES`); None for a local path or a
    ``file:`` URI, whose contents tell (:func:`source_kind`).

    A scheme an installed MLflow plugin registers is a tracking server's. Raises :class:`StoreError`
    (code ``not-a-store``) for a scheme no store reads.
    """
    text = os.fspath(path_or_uri)
    if text in _BARE_SERVER_URIS:
        return "mlflow"
    scheme = url_scheme(text)
    if scheme in ("", "file"):
        return None
    kind = SCHEMES.get(scheme.split("+")[0])
    if kind is not None:
        return kind
    if scheme in _plugin_schemes():
        return "mlflow"
    servers = ", ".join(s for s, k in SCHEMES.items() if k == "mlflow")
    databases = ", ".join(DATABASE_SCHEMES)
    raise StoreError(
        f"no store reads the scheme {scheme!r}; runql reads an mlruns folder, an MLflow database "
        f"({databases}) and MLflow's tracking URIs ({servers})",
        where=redact(text),
        code="not-a-store",
    )


def source_kind(path_or_uri: str | os.PathLike[str]) -> StoreKind:
    """Which reader reads ``path_or_uri``: ``"jsonl"``, ``"mlflow-dir"``, ``"mlflow-db"``, ``"mlflow"`` or
    ``"parquet"``.

    A URL is told by its scheme (:func:`scheme_kind`). A local path (or ``file:`` URI) is
    ``mlflow-dir`` when it is a folder, ``mlflow-db`` when it is a SQLite file (by its suffix or its
    header), ``parquet`` when it is a Parquet file (by its header or its suffix), else JSON Lines.
    Raises :class:`StoreError` for a local path that does not exist, or a scheme no store reads.
    """
    kind = scheme_kind(path_or_uri)
    if kind is not None:
        return kind
    path = local_path(path_or_uri)
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
        start = handle.read(len(_SQLITE_MAGIC))
    if start == _SQLITE_MAGIC:
        return "mlflow-db"
    if start.startswith(_PARQUET_MAGIC) or path.suffix.lower() == ".parquet":
        return "parquet"
    return "jsonl"
