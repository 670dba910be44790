"""An MLflow tracking database read directly with SQLAlchemy, against MLflow's schema.

The tables read: ``experiments`` and ``experiment_tags``; ``runs`` with ``metrics`` (every point),
``latest_metrics`` (the value MLflow searches), ``params`` and ``tags``; and, where the schema has
them, ``inputs``, ``input_tags`` and ``datasets`` for dataset inputs. The queries are plain
SELECTs on reflected tables, so one code path serves SQLite, PostgreSQL and MySQL URLs. A SQLite
file is opened read-only: reading never creates or changes a database.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import MissingDependencyError, StoreError
from ..optional import progress_bar, require
from ..records import LifecycleStage
from .base import DATABASE_SCHEMES, StoreRecords, local_path, sort_inputs, url_scheme

__all__ = ["read_mlflow_db"]

REQUIRED_TABLES = ("experiments", "experiment_tags", "runs", "metrics", "params", "tags")
INPUT_TABLES = ("inputs", "input_tags", "datasets")
_CHUNK = 20_000


def connect_url(url_or_path: str | os.PathLike[str]) -> tuple[str, str]:
    """The SQLAlchemy URL to connect with, and the name to show in errors (no password)."""
    text = os.fspath(url_or_path)
    scheme = url_scheme(text).split("+")[0]
    if scheme in DATABASE_SCHEMES and scheme != "sqlite":
        shown = text.split("@", 1)[-1] if "@" in text else text
        return text, f"{scheme}://{shown.split('://', 1)[-1]}"
    if scheme == "sqlite":
        rest = text.split(":", 1)[1]
        if not rest.startswith("///") or rest in ("///", "///:memory:"):
            raise StoreError(
                "an MLflow database URL names a file: sqlite:///relative/path.db or sqlite:////absolute/path.db",
                where=text,
                code="not-a-store",
            )
        path = Path(rest[3:].split("?", 1)[0])
    else:
        path = local_path(text)
    if not path.is_file():
        raise StoreError("no such database file", where=str(path), code="not-found")
    # A read-only URI: SQLAlchemy would otherwise create an empty database at a mistyped path.
    uri = quote(path.resolve().as_posix())
    return f"sqlite:///file:{uri}?mode=ro&uri=true", str(path)


def read_mlflow_db(url: str | os.PathLike[str], *, progress: bool | None = None) -> StoreRecords:
    """Every experiment and run of an MLflow tracking database, deleted ones included.

    ``url`` is a SQLAlchemy URL (``sqlite:///mlflow.db``, ``postgresql://user:pw@host/db``,
    ``mysql+pymysql://...``) or the path of a SQLite file. Histories are read whole; each run's
    latest metric values are those of ``latest_metrics``, the table MLflow searches. Needs
    SQLAlchemy (``pip install 'runql[mlflow-db]'``) and, for a server, its driver.
    """
    sa = require("sqlalchemy", "mlflow-db", "reading an MLflow tracking database")
    target, shown = connect_url(url)
    try:
        engine = sa.create_engine(target)
    except ImportError as error:  # the database's driver (psycopg, pymysql, ...) is not installed
        raise MissingDependencyError(f"reading {shown} needs its database driver: {error}") from None
    except sa.exc.ArgumentError as error:
        raise StoreError(f"not a database URL: {error}", where=shown, code="not-a-store") from None
    try:
        with engine.connect() as connection:
            reader = _Reader(sa, connection, shown, progress)
            experiments, runs, latest = reader.read()
    except sa.exc.SQLAlchemyError as error:
        detail = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise StoreError(f"cannot read the database: {detail}", where=shown) from None
    finally:
        engine.dispose()
    return StoreRecords(experiments, runs, where=shown, latest_metrics=latest)


class _Reader:
    def __init__(self, sa: Any, connection: Any, shown: str, progress: bool | None) -> None:
        self.sa = sa
        self.connection = connection
        self.shown = shown
        self.progress = progress
        names = set(sa.inspect(connection).get_table_names())
        missing = [t for t in REQUIRED_TABLES if t not in names]
        if missing:
            if "runs" not in names and "experiments" not in names:
                raise StoreError(
                    "not an MLflow tracking database: it has no 'experiments' or 'runs' table",
                    where=shown,
                    code="not-a-store",
                )
            raise StoreError(
                f"the database lacks table{'s' if len(missing) > 1 else ''} {', '.join(missing)} of "
                "MLflow's schema; it may be partial, or from an MLflow too old to read",
                where=shown,
                code="missing-table",
            )
        self.names = names
        self.tables: dict[str, Any] = {}

    def table(self, name: str) -> Any:
        if name not in self.tables:
            self.tables[name] = self.sa.Table(name, self.sa.MetaData(), autoload_with=self.connection)
        return self.tables[name]

    def rows(self, name: str, columns: Sequence[str], order: Sequence[str] = ()) -> Iterator[Any]:
        table = self.table(name)
        missing = [c for c in (*columns, *order) if c not in table.c]
        if missing:
            raise StoreError(
                f"table {name!r} lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                where=self.shown,
                code="missing-table",
            )
        query = self.sa.select(*(table.c[c] for c in columns)).order_by(*(table.c[c] for c in order))
        result = self.connection.execution_options(stream_results=True).execute(query)
        while chunk := result.fetchmany(_CHUNK):
            yield from chunk

    def count(self, name: str) -> int:
        table = self.table(name)
        return int(self.connection.execute(self.sa.select(self.sa.func.count()).select_from(table)).scalar())

    def read(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, dict[str, float]]]:
        experiment_tags: dict[str, dict[str, str]] = defaultdict(dict)
        for key, value, experiment_id in self.rows("experiment_tags", ("key", "value", "experiment_id")):
            experiment_tags[str(experiment_id)][key] = value
        experiments = [
            {
                "experiment_id": str(row[0]),
                "name": row[1],
                "artifact_location": row[2],
                "lifecycle_stage": row[3] or LifecycleStage.ACTIVE,
                "creation_time": row[4],
                "last_update_time": row[5],
                "tags": experiment_tags.get(str(row[0]), {}),
            }
            for row in self.rows(
                "experiments",
                (
                    "experiment_id",
                    "name",
                    "artifact_location",
                    "lifecycle_stage",
                    "creation_time",
                    "last_update_time",
                ),
                order=("experiment_id",),
            )
        ]
        runs: dict[str, dict[str, Any]] = {}
        run_columns = (
            "run_uuid",
            "experiment_id",
            "name",
            "user_id",
            "status",
            "start_time",
            "end_time",
            "artifact_uri",
            "lifecycle_stage",
        )
        for row in self.rows("runs", run_columns, order=("experiment_id", "run_uuid")):
            runs[row[0]] = {
                "run_id": row[0],
                "experiment_id": str(row[1]),
                "run_name": row[2],
                "user_id": row[3],
                "status": row[4],
                "start_time": row[5],
                "end_time": row[6],
                "artifact_uri": row[7],
                "lifecycle_stage": row[8] or LifecycleStage.ACTIVE,
                "metrics": defaultdict(list),
                "params": {},
                "tags": {},
                "inputs": [],
            }
        self._metrics(runs)
        for part in ("params", "tags"):
            for key, value, run_id in self.rows(part, ("key", "value", "run_uuid")):
                self._run(runs, run_id, part)[part][key] = value
        if all(t in self.names for t in INPUT_TABLES):
            self._inputs(runs)
        latest: dict[str, dict[str, float]] = defaultdict(dict)
        if "latest_metrics" in self.names:
            for key, value, is_nan, run_id in self.rows(
                "latest_metrics", ("key", "value", "is_nan", "run_uuid")
            ):
                self._run(runs, run_id, "latest_metrics")
                latest[run_id][key] = math.nan if is_nan else float(value)
        for record in runs.values():
            record["metrics"] = dict(record["metrics"])
        return experiments, list(runs.values()), dict(latest)

    def _run(self, runs: dict[str, dict[str, Any]], run_id: str, table: str) -> dict[str, Any]:
        record = runs.get(run_id)
        if record is None:
            raise StoreError(
                f"table {table!r} has a row for run {run_id!r}, which is not in table 'runs'",
                where=self.shown,
            )
        return record

    def _metrics(self, runs: dict[str, dict[str, Any]]) -> None:
        # The table keeps no logged order; MLflow's SQL store reads a history back by timestamp, step, value.
        rows = self.rows(
            "metrics",
            ("run_uuid", "key", "value", "timestamp", "step", "is_nan"),
            order=("run_uuid", "key", "timestamp", "step", "value"),
        )
        total = self.count("metrics")
        for run_id, key, value, timestamp, step, is_nan in progress_bar(
            rows, total=total, desc="reading metrics", unit="point", enabled=self.progress, extra="mlflow-db"
        ):
            point = {"value": math.nan if is_nan else float(value), "timestamp": timestamp, "step": step or 0}
            self._run(runs, run_id, "metrics")["metrics"][key].append(point)

    def _inputs(self, runs: dict[str, dict[str, Any]]) -> None:
        datasets = {
            row[0]: {
                "name": row[1],
                "digest": row[2],
                "source_type": row[3],
                "source": row[4],
                "schema": row[5],
                "profile": row[6],
            }
            for row in self.rows(
                "datasets",
                (
                    "dataset_uuid",
                    "name",
                    "digest",
                    "dataset_source_type",
                    "dataset_source",
                    "dataset_schema",
                    "dataset_profile",
                ),
            )
        }
        input_tags: dict[str, dict[str, str]] = defaultdict(dict)
        for input_id, name, value in self.rows("input_tags", ("input_uuid", "name", "value")):
            input_tags[input_id][name] = value
        columns = ("input_uuid", "source_type", "source_id", "destination_type", "destination_id")
        for input_id, source_type, source_id, destination_type, run_id in self.rows("inputs", columns):
            if source_type != "DATASET" or destination_type != "RUN":
                continue  # model inputs and outputs: not part of run search
            dataset = datasets.get(source_id)
            if dataset is None:
                raise StoreError(
                    f"input {input_id!r} names dataset {source_id!r}, which is not in table 'datasets'",
                    where=self.shown,
                )
            record = self._run(runs, run_id, "inputs")
            record["inputs"].append({"dataset": dataset, "tags": input_tags.get(input_id, {})})
        for record in runs.values():
            record["inputs"] = sort_inputs(record["inputs"])
