"""The ``runql`` command run as a user runs it, for the tests that drive it as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run_command(
    *args: str,
    columns: int = 80,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``runql *args`` in an empty folder (unless ``cwd``), MLFLOW_TRACKING_URI unset (unless ``env``
    sets it), on a terminal ``columns`` wide."""
    environ = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    environ.update({"COLUMNS": str(columns), "MLFLOW_ALLOW_FILE_STORE": "true", **(env or {})})
    with tempfile.TemporaryDirectory() as empty:
        return subprocess.run(
            [sys.executable, "-m", "runql", *args],
            capture_output=True,
            text=True,
            env=environ,
            cwd=cwd or empty,
            timeout=timeout,
        )
