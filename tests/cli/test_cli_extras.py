"""Each extra README.md names, missing: the command that needs it prints one line naming the extra to
install and exits 1, never a traceback (issue 22, finding 4).

Each case runs the command in a fresh interpreter as ``pip install .`` leaves it, with no extra: a None
in ``sys.modules`` makes every import of a package fail, as when it is not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runql import Workspace

IDS = ("1234-5678-90AB-CDEFG", "5678-1234-90AB-CDEFG")
# The packages the extras bring (pyproject.toml), by the names they are imported with.
EXTRA_PACKAGES = (
    "yaml", "tqdm", "sqlalchemy", "psycopg", "psycopg2", "mlflow", "matplotlib", "pyspark", "pyarrow", "re2",
    "hypothesis",
)  # fmt: skip

# (the extra README.md names, a command that needs it, what is in the command's folder); none of the
# extras is installed
CASES = [
    ("mlflow-files", ["runs"], "mlruns"),
    ("mlflow-db", ["runs"], "mlflow.db"),
    ("mlflow-db", ["runs", "--source", "sqlite:///mlflow.db"], "mlflow.db"),
    ("mlflow-db", ["compare", *IDS, "--source", "mlflow.db"], "mlflow.db"),
    ("mlflow", ["runs", "--source", "http://127.0.0.1:9"], None),
    ("plot", ["compare", *IDS, "--plot", "auc", "--out", "auc.png"], None),
    ("parquet", ["export", "--source", "sample.jsonl", "--out", "runs.parquet"], "sample"),
    ("parquet", ["runs", "--source", "runs.parquet"], "runs.parquet"),
    ("regex", ["runs", "-p", "extended", "--filter", "params.model RLIKE 'xgb.*'"], None),
]
# PostgreSQL's drivers come with the extra postgres, over SQLAlchemy: here only they are missing.
POSTGRES_DRIVERS = ("psycopg", "psycopg2")
POSTGRES = ["runs", "--source", "postgresql://user:secret@127.0.0.1:9/db"]


def _place(around: str | None, folder: Path) -> None:
    """What the command finds in its folder: an mlruns folder with an experiment, an mlflow.db or a
    runs.parquet (their content is never read: the missing package stops the command first) or a saved
    sample."""
    if around == "mlruns":
        (folder / "mlruns" / "0").mkdir(parents=True)
        (folder / "mlruns" / "0" / "meta.yaml").write_text("name: Default\nexperiment_id: '0'\n")
    elif around == "mlflow.db":
        (folder / "mlflow.db").write_bytes(b"")
    elif around == "runs.parquet":
        (folder / "runs.parquet").write_bytes(b"PAR1")
    elif around == "sample":
        Workspace.sample().save(folder / "sample.jsonl")


def _without(packages: tuple[str, ...], args: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    """``runql *args`` run in ``folder`` by an interpreter that cannot import ``packages``."""
    code = textwrap.dedent(
        f"""
        import sys
        for package in {packages!r}:
            sys.modules[package] = None
        from runql.cli import main
        sys.exit(main({args!r}))
        """
    )
    # Without MLFLOW_TRACKING_URI: the folder decides what is read.
    environ = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=folder, env=environ, check=False
    )


def _one_line_naming(extra: str, done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("reading ")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("error: ") and f"pip install 'runql[{extra}]'" in errors[0]
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("extra", "args", "around"), CASES, ids=[f"{c[0]}-{c[1][0]}-{i}" for i, c in enumerate(CASES)]
)
def test_a_missing_extra_is_one_line_naming_it(
    extra: str, args: list[str], around: str | None, tmp_path: Path
) -> None:
    _place(around, tmp_path)
    _one_line_naming(extra, _without(EXTRA_PACKAGES, args, tmp_path))


def test_a_missing_postgres_driver_is_one_line_naming_its_extra(tmp_path: Path) -> None:
    done = _without(POSTGRES_DRIVERS, POSTGRES, tmp_path)
    _one_line_naming("postgres", done)
    assert "secret" not in done.stderr


def test_every_extra_the_readme_names_is_tried() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    extras = readme[readme.index("\n## Extras\n") :]
    for extra in {case[0] for case in CASES} | {"postgres"}:
        assert f"`{extra}`" in extras[: extras.index("\n## ", 1)], extra


def test_the_regex_hint_names_the_package_on_the_index(tmp_path: Path) -> None:
    """The module is ``re2``; the package to install is ``google-re2``."""
    done = _without(EXTRA_PACKAGES, ["runs", "-p", "extended", "--filter", "params.m RLIKE 'x'"], tmp_path)
    assert "'google-re2'" in done.stderr, done.stderr
