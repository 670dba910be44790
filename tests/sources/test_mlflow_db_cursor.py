"""Reading an MLflow database on PostgreSQL a chunk at a time: every statement that reads one of MLflow's
tables runs on a server-side (named) cursor, with psycopg2 and with psycopg, and the runs read so equal
those read with the driver's plain cursor, which takes a statement's whole result into client memory.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sa = pytest.importorskip("sqlalchemy")
pytest.importorskip("mlflow")
psycopg = pytest.importorskip("psycopg")
psycopg2 = pytest.importorskip("psycopg2")

from runql import from_mlflow_db  # noqa: E402
from runql.sources import mlflow_db as reader  # noqa: E402
from runql.sources import mlflow_tables  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mlflow_db  # noqa: E402

# A statement reading one of MLflow's tables, as SQLAlchemy compiles it (SQLAlchemy's own reflection
# reads pg_catalog).
MLFLOW_TABLE = re.compile(r"\bFROM (\w+)")
READ_AT_LOAD = {
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "tags",
    "latest_metrics",
    "datasets",
    "inputs",
    "input_tags",
}
# The model registry's and the logged models' tables, read whole with plain statements: they hold
# thousands of rows, not millions.
REGISTRY = {
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
    "logged_models",
    "logged_model_metrics",
    "logged_model_params",
    "logged_model_tags",
}
# Fewer rows per fetch than any table has, so each is read in several round trips.
SMALL_CHUNK = 7


@pytest.fixture(autouse=True)
def driver_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables are read by the row reader, through the driver's cursor, as without ``runql[adbc]``."""
    monkeypatch.setattr(mlflow_tables, "_adbc_connection", lambda target: None)


@pytest.fixture(scope="module")
def benchmark_database(new_postgres_database: Callable[..., str]) -> str:
    """A psycopg2 URL of a database holding 300 of the benchmark's runs: NaN metrics, missing keys,
    dataset inputs."""
    url = new_postgres_database(mlflow_schema=True)
    mlflow_db.fill(url, mlflow_db.benchmark_records(300))
    return url


def with_driver(url: str, driver: str) -> str:
    return f"postgresql+{driver}://{url.split('://', 1)[1]}"


class _Psycopg2Cursor(psycopg2.extensions.cursor):  # type: ignore[misc]
    executed: list[tuple[bool, str]]

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self.executed.append((self.name is not None, str(query)))
        return super().execute(query, *args, **kwargs)


class _PsycopgCursor(psycopg.Cursor):  # type: ignore[misc]
    executed: list[tuple[bool, str]]

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self.executed.append((False, str(query)))
        return super().execute(query, *args, **kwargs)


class _PsycopgServerCursor(psycopg.ServerCursor):  # type: ignore[misc]
    executed: list[tuple[bool, str]]

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self.executed.append((True, str(query)))
        return super().execute(query, *args, **kwargs)


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[bool, str]]]:
    """Every statement run on a DBAPI cursor of a connection opened meanwhile: whether the cursor was
    server-side, and the statement. The drivers' cursor factories record them."""
    found: list[tuple[bool, str]] = []
    for cursor_class in (_Psycopg2Cursor, _PsycopgCursor, _PsycopgServerCursor):
        monkeypatch.setattr(cursor_class, "executed", found, raising=False)

    def record(dbapi_connection: Any, _: Any) -> None:
        if isinstance(dbapi_connection, psycopg2.extensions.connection):
            dbapi_connection.cursor_factory = _Psycopg2Cursor
        else:
            dbapi_connection.cursor_factory = _PsycopgCursor
            dbapi_connection.server_cursor_factory = _PsycopgServerCursor

    sa.event.listen(sa.pool.Pool, "connect", record)
    try:
        yield found
    finally:
        sa.event.remove(sa.pool.Pool, "connect", record)


def tables_read(executed: list[tuple[bool, str]]) -> dict[str, set[bool]]:
    """For each of MLflow's tables a statement read, whether its cursors were server-side."""
    found: dict[str, set[bool]] = {}
    for server_side, statement in executed:
        table = MLFLOW_TABLE.search(statement)
        if table and not table[1].startswith("pg_") and table[1] != "information_schema":
            found.setdefault(table[1], set()).add(server_side)
    return found


@pytest.mark.parametrize("driver", ["psycopg2", "psycopg"])
def test_every_table_is_read_on_a_server_side_cursor(
    benchmark_database: str, driver: str, executed: list[tuple[bool, str]]
) -> None:
    workspace = from_mlflow_db(with_driver(benchmark_database, driver))
    run = next(r for r in workspace.runs if r.data.metrics)
    key = next(iter(run.data.metrics))
    assert workspace.get_metric_history(run.info.run_id, key)
    read = tables_read(executed)
    assert set(read) == READ_AT_LOAD | {"metrics"} | REGISTRY
    assert all(kinds == {True} for table, kinds in read.items() if table not in REGISTRY), read


@pytest.mark.parametrize("histories", [False, True])
@pytest.mark.parametrize("driver", ["psycopg2", "psycopg"])
def test_the_runs_equal_those_read_with_a_plain_cursor(
    benchmark_database: str, driver: str, histories: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "_CHUNK", SMALL_CHUNK)
    url = with_driver(benchmark_database, driver)
    streamed = from_mlflow_db(url, histories=histories)
    with monkeypatch.context() as plain:
        plain.setattr(reader, "_cursor", lambda connection: connection.connection.cursor())
        whole = from_mlflow_db(url, histories=histories)
    assert len(streamed.runs) == 300
    assert sorted(streamed.runs, key=run_id) == sorted(whole.runs, key=run_id)
    assert streamed.experiments == whole.experiments
    for run in streamed.runs[:20]:
        for key in run.data.metrics:
            assert streamed.get_metric_history(run.info.run_id, key) == whole.get_metric_history(
                run.info.run_id, key
            )


def run_id(run: Any) -> str:
    return str(run.info.run_id)
