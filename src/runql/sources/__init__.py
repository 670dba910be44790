"""Readers that turn a store of runs into a :class:`~runql.Workspace`.

- :func:`from_mlflow_dir`: an MLflow file store folder (``mlruns/``), read directly with PyYAML;
- :func:`from_mlflow_db`: an MLflow tracking database (SQLite, PostgreSQL, MySQL), read with SQLAlchemy;
- :func:`from_mlflow`: any tracking URI, through ``mlflow.MlflowClient``;
- :func:`load`: picks one of them, or :meth:`Workspace.load` for a JSON Lines file.

Each reader builds the whole workspace before returning it: a store that is corrupt or partial
raises :class:`StoreError`, naming the file (or table) and what is wrong in it. The libraries a
reader needs are optional extras, imported when the reader runs.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from ..records import DATASET_CONTEXT_TAG

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = [
    "MissingDependencyError",
    "StoreError",
    "from_mlflow",
    "from_mlflow_db",
    "from_mlflow_dir",
    "load",
    "source_kind",
]

T = TypeVar("T")

# The database URL schemes SQLAlchemy reads MLflow's schema from (a driver may follow a '+').
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql")
_PACKAGES = {"yaml": "PyYAML", "sqlalchemy": "SQLAlchemy"}  # import name -> name on PyPI
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(ValueError):
    """A store that cannot be read whole: ``where`` names the file or table, ``code`` the kind of fault.

    Codes: ``not-found`` (no such file, folder or database), ``not-a-store`` (it exists but is not
    a store runql reads), ``corrupt-store`` (a file or row is malformed), ``missing-table`` (a
    database lacks a table of MLflow's schema).
    """

    def __init__(self, message: str, *, where: str = "", code: str = "corrupt-store") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where
        self.code = code


class MissingDependencyError(ImportError):
    """A reader needs a package that is not installed; the message names the extra to install."""

    code = "missing-dependency"


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` telling which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = _PACKAGES.get(module, module.split(".")[0])
        raise MissingDependencyError(
            f"{what} needs the {package!r} package: pip install 'runql[{extra}]'"
        ) from error


def progress_bar(
    items: Iterable[T], *, total: int | None, desc: str, unit: str, enabled: bool | None, extra: str
) -> Iterator[T]:
    """``items``, with a tqdm progress bar on stderr when ``enabled`` (None: when stderr is a terminal).

    The bar appears only once a load has taken more than a moment, so quick loads print nothing.
    """
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield from items
        return
    try:
        from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        if enabled:
            raise MissingDependencyError(
                f"a progress bar needs the 'tqdm' package: pip install 'runql[{extra}]'"
            ) from None
        yield from items
        return
    bar = tqdm(items, total=total, desc=desc, unit=unit, delay=0.5, leave=False, file=sys.stderr)
    try:
        yield from bar
    finally:
        bar.close()


def sort_inputs(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dataset inputs in one order (name, digest, context): a store keeps none, and readers must agree."""
    return sorted(
        inputs,
        key=lambda i: (i["dataset"]["name"], i["dataset"]["digest"], i["tags"].get(DATASET_CONTEXT_TAG, "")),
    )


def local_path(path_or_uri: str | os.PathLike[str]) -> Path:
    """A filesystem path from a path or a ``file:`` URI."""
    text = os.fspath(path_or_uri)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return Path(url2pathname(unquote(parsed.path)))
    return Path(text)


def _scheme(text: str) -> str:
    parsed = urlparse(text)
    # One letter is a Windows drive, not a scheme.
    return parsed.scheme.lower() if len(parsed.scheme) > 1 else ""


def source_kind(path_or_uri: str | os.PathLike[str]) -> str:
    """Which reader :func:`load` uses: ``"jsonl"``, ``"mlflow-dir"``, ``"mlflow-db"`` or ``"mlflow"``.

    A database URL (``sqlite:///...``, ``postgresql://...``, ``mysql://...``) or a SQLite file is
    ``mlflow-db``; a folder or ``file:`` URI is ``mlflow-dir``; any other URI (``http://``,
    ``databricks``, ``azureml://``) is ``mlflow``; any other file is JSON Lines. Raises
    :class:`StoreError` for a local path that does not exist.
    """
    text = os.fspath(path_or_uri)
    scheme = _scheme(text).split("+")[0]
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


def load(path_or_uri: str | os.PathLike[str], *, progress: bool | None = None, **options: Any) -> Workspace:
    """A workspace from any source runql reads; :func:`source_kind` says which reader is used.

    A folder holding an ``mlruns`` folder (a project checkout) is read as that ``mlruns``.
    ``options`` go to the :class:`Workspace` (``profile=...``).
    """
    kind = source_kind(path_or_uri)
    if kind == "mlflow-db":
        return from_mlflow_db(path_or_uri, progress=progress, **options)
    if kind == "mlflow":
        return from_mlflow(os.fspath(path_or_uri), progress=progress, **options)
    if kind == "mlflow-dir":
        return from_mlflow_dir(path_or_uri, progress=progress, **options)
    from ..workspace import Workspace

    return Workspace.load(path_or_uri, **options)


# The readers use the helpers above, so they are imported last.
from .mlflow_client import from_mlflow  # noqa: E402
from .mlflow_db import from_mlflow_db  # noqa: E402
from .mlflow_dir import from_mlflow_dir  # noqa: E402
