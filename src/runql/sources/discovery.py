"""Which store the ``runql`` command reads when ``--source`` is not given: the one MLflow would use.

MLflow looks at ``MLFLOW_TRACKING_URI`` first, then at the current folder: an ``mlruns`` folder that
holds experiments, else ``mlflow.db``. Only when none of them is there does the command read the
bundled sample, and it says so: fake runs must never pass for the user's own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runql.common.redact import redact

__all__ = ["Found", "find_source"]

SAMPLE_NOTICE = "reading the bundled sample workspace: pass --source or set MLFLOW_TRACKING_URI"


@dataclass(frozen=True)
class Found:
    """The store to read (None: the bundled sample) and the line that tells the user which it is
    (empty when they named it themselves)."""

    source: str | None
    notice: str


def _has_experiments(mlruns: Path) -> bool:
    """Whether ``mlruns`` holds an experiment, as MLflow decides it (a numbered folder with meta.yaml)."""
    try:
        return any(
            entry.is_dir() and entry.name.isdigit() and (entry / "meta.yaml").exists()
            for entry in mlruns.iterdir()
        )
    except OSError:
        return False


def find_source(
    given: str | None, environ: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None
) -> Found:
    """``given`` (``--source``), else ``MLFLOW_TRACKING_URI``, else ``./mlruns`` holding experiments,
    else ``./mlflow.db``, else the bundled sample."""
    if given is not None:
        return Found(given, "")
    environ = os.environ if environ is None else environ
    uri = environ.get("MLFLOW_TRACKING_URI", "").strip()
    if uri:
        return Found(uri, f"reading MLFLOW_TRACKING_URI={redact(uri)}")
    folder = Path.cwd() if cwd is None else Path(cwd)
    if _has_experiments(folder / "mlruns"):
        return Found(str(folder / "mlruns"), "reading ./mlruns (pass --source to read another store)")
    if (folder / "mlflow.db").is_file():
        return Found(str(folder / "mlflow.db"), "reading ./mlflow.db (pass --source to read another store)")
    return Found(None, SAMPLE_NOTICE)
