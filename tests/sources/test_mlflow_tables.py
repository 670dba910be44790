"""The column reader (``runql.sources.mlflow_tables``, Arrow through ADBC) reads what the row-by-row
reader reads, from databases MLflow wrote, on SQLite and PostgreSQL; a table holding what MLflow would not
write makes it give way to the row reader, which names the fault, and so does a missing ADBC.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from support.mlflow_stores import log_with_mlflow

import runql
from runql.errors import StoreError
from runql.model.entities import Run
from runql.sources import mlflow_tables
from runql.sources.mlflow_db import read_mlflow_db
from runql.testing.conformance import examples
from runql.testing.strategies import DEFAULT_VOCABULARY, runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mlflow_db

SEED = 20261206


def _generated(url: str) -> str:
    """``url`` holding 200 of the benchmark's runs (NaN metrics, missing keys, dataset inputs), and
    generated runs (odd keys and values, NaN, deleted runs, datasets) logged by MLflow in two experiments."""
    mlflow_db.fill(url, mlflow_db.benchmark_records(200))
    for index, generated in enumerate(examples(runs(DEFAULT_VOCABULARY, min_size=6, max_size=12), 2, SEED)):
        for run in generated:
            run.info.experiment_id = f"g{index}"
        log_with_mlflow(url, generated, [{"experiment_id": f"g{index}", "name": f"generated {index}"}])
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    make = request.getfixturevalue(f"new_{'sqlite' if request.param == 'sqlite' else 'postgres'}_database")
    url: str = make(mlflow_schema=True)
    if request.param == "postgresql":
        url = f"postgresql+psycopg2://{url.split('://', 1)[1]}"  # the benchmark's fill copies with psycopg2
    return _generated(url)


def _rows_read(url: str, monkeypatch: pytest.MonkeyPatch) -> runql.Workspace:
    with monkeypatch.context() as rows:
        rows.setattr(mlflow_tables, "read_run_columns", lambda *args: None)
        return runql.from_mlflow_db(url)


def by_id(runs: list[Run]) -> list[Run]:
    return sorted(runs, key=lambda run: run.info.run_id)


def test_the_columns_hold_the_runs_the_row_reader_reads(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = read_mlflow_db(database)
    assert records.columns is not None and records.runs == []
    columns = runql.from_mlflow_db(database)
    rows = _rows_read(database, monkeypatch)
    assert len(columns.runs) == len(rows.runs) > 200
    assert by_id(columns.runs) == by_id(rows.runs)
    assert columns.experiments == rows.experiments
    every = {"search_all_experiments": True, "run_view_type": "ALL"}
    for order_by in ([], ["metrics.auc DESC"], ["params.model", "attributes.run_name DESC"]):
        found = columns.search_runs(order_by=order_by, **every)
        assert found.equals(rows.search_runs(order_by=order_by, **every))


def test_a_runs_history_is_read_from_the_database(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    columns, rows = runql.from_mlflow_db(database), _rows_read(database, monkeypatch)
    logged = [run for run in by_id(rows.runs) if run.data.metrics][:20]
    for run in logged:
        for key in run.data.metrics:
            history = columns.get_metric_history(run.info.run_id, key)
            assert history == rows.get_metric_history(run.info.run_id, key)
    query = "min(metrics.auc) > 0.5"
    every = {"search_all_experiments": True, "profile": "extended", "output_format": "list"}
    assert [r.info.run_id for r in columns.search_runs(query, **every)] == [
        r.info.run_id for r in rows.search_runs(query, **every)
    ]


# (statement making the SQLite database hold what MLflow would not write, the row reader's error)
HOSTILE = [
    ("UPDATE runs SET start_time = 'soon' WHERE rowid = 1", "start_time must be milliseconds"),
    ("UPDATE params SET key = x'6b' WHERE rowid = 1", "key must be text"),
    ("UPDATE params SET value = x'ff' WHERE rowid = 1", "value must be text"),
    ("UPDATE latest_metrics SET value = 'high' WHERE rowid = 1 AND is_nan = 0", "value must be a number"),
    ("UPDATE latest_metrics SET is_nan = 2 WHERE rowid = 1", "is_nan"),
    ("UPDATE runs SET status = 'DONE' WHERE rowid = 1", "status"),
    ("UPDATE runs SET lifecycle_stage = 'gone' WHERE rowid = 1", "lifecycle_stage"),
    ("UPDATE tags SET run_uuid = 'nobody' WHERE rowid = 1", "which is not in table 'runs'"),
    ("UPDATE runs SET run_uuid = '' WHERE rowid = 1", "run_uuid must be a run id"),
]


@pytest.fixture(scope="module")
def clean_sqlite(new_sqlite_database: Callable[..., str]) -> Path:
    url = new_sqlite_database(mlflow_schema=True)
    mlflow_db.fill(url, mlflow_db.benchmark_records(50))
    return Path(url.removeprefix("sqlite:///"))


@pytest.mark.parametrize(("statement", "message"), HOSTILE)
def test_a_table_mlflow_would_not_write_gives_way_to_the_row_reader(
    clean_sqlite: Path, tmp_path: Path, statement: str, message: str
) -> None:
    path = tmp_path / "mlflow.db"
    path.write_bytes(clean_sqlite.read_bytes())
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("PRAGMA ignore_check_constraints = ON")
        assert connection.execute(statement).rowcount == 1
    with pytest.raises(StoreError, match=message):
        read_mlflow_db(path)


def test_a_tag_whose_value_is_null_is_no_tag(clean_sqlite: Path, tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    path.write_bytes(clean_sqlite.read_bytes())
    with sqlite3.connect(path) as connection:
        run_id, key = connection.execute("SELECT run_uuid, key FROM tags LIMIT 1").fetchone()
        connection.execute("UPDATE tags SET value = NULL WHERE run_uuid = ? AND key = ?", (run_id, key))
    records = read_mlflow_db(path)
    assert records.columns is not None
    assert key not in runql.from_mlflow_db(path).get_run(run_id).data.tags


def test_without_adbc_the_row_reader_reads_the_same_runs(clean_sqlite: Path) -> None:
    """``pip install '.[mlflow-db]'`` without the ``adbc`` extra: ADBC's packages cannot be imported."""
    code = textwrap.dedent(
        f"""
        import json, sys
        for package in ("adbc_driver_manager", "adbc_driver_sqlite", "adbc_driver_postgresql"):
            sys.modules[package] = None
        from runql.sources.mlflow_db import read_mlflow_db
        records = read_mlflow_db({str(clean_sqlite)!r})
        assert records.columns is None
        print(json.dumps(sorted((r.info.run_id, r.data.params) for r in records.runs)))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sorted([r.info.run_id, r.data.params] for r in runql.from_mlflow_db(clean_sqlite).runs)
    assert json.loads(done.stdout) == expected
