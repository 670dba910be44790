"""An MLflow tracking database read directly with SQLAlchemy, against MLflow's schema.

The tables read at load: ``experiments`` and ``experiment_tags``; ``runs`` with ``latest_metrics``
(each metric's latest value, the one MLflow searches), ``params`` and ``tags``; and, where the schema
has them, ``inputs``, ``input_tags`` and ``datasets`` for dataset inputs. Each table is one plain
SELECT on the reflected table, so one code path serves SQLite, PostgreSQL and MySQL URLs; its rows
come from the driver's cursor as tuples, a chunk at a time, and go straight into the runs, a string
that many rows repeat (a key, a common value) kept once.

``metrics`` (every logged point, by far the largest table) is not read at load: the runs come with a
:class:`DatabaseHistories`, which reads a history from the database when it is asked for.
``histories=True`` reads every history at load instead. A SQLite file is opened read-only: reading
never creates or changes a database.
"""

from __future__ import annotations

import gc
import math
import os
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from runql.common.optional import progress_bar, require
from runql.common.redact import redact
from runql.errors import MissingDependencyError, StoreError
from runql.model.records import (
    History,
    LifecycleStage,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    latest_metric,
)
from runql.sources.base import StoreRecords, dataset_inputs, local_path, url_scheme
from runql.sources.schemes import DATABASE_SCHEMES

__all__ = ["DatabaseHistories", "read_mlflow_db"]

REQUIRED_TABLES = ("experiments", "experiment_tags", "runs", "metrics", "params", "tags")
INPUT_TABLES = ("inputs", "input_tags", "datasets")
# Rows taken from the driver at once: few calls per table, and never a whole large table's raw rows.
_CHUNK = 50_000
# Run ids bound in one statement when reading histories: far below every database's limit.
_IDS_PER_STATEMENT = 500
_RUN_COLUMNS = (
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
_POINT_COLUMNS = ("run_uuid", "key", "value", "timestamp", "step", "is_nan")
# The table keeps no logged order; MLflow's SQL store reads a history back by timestamp, step, value.
_HISTORY_ORDER = ("timestamp", "step", "value")


def connect_url(url_or_path: str | os.PathLike[str]) -> tuple[str, str]:
    """The SQLAlchemy URL to connect with, and the name to show in errors (no password)."""
    text = os.fspath(url_or_path)
    scheme = url_scheme(text).split("+")[0]
    if scheme in DATABASE_SCHEMES and scheme != "sqlite":
        return text, redact(text)
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


def read_mlflow_db(
    url: str | os.PathLike[str], *, progress: bool | None = None, histories: bool = False
) -> StoreRecords:
    """Every experiment and run of an MLflow tracking database, deleted ones included.

    ``url`` is a SQLAlchemy URL (``sqlite:///mlflow.db``, ``postgresql://user:pw@host/db``,
    ``mysql+pymysql://...``) or the path of a SQLite file. Each run's metrics are its latest values,
    those of ``latest_metrics``, the table MLflow searches. The metric histories stay in the database:
    the records' ``histories`` (a :class:`DatabaseHistories`) reads them when asked for. With
    ``histories=True`` (or a database from an MLflow too old to have ``latest_metrics``), every history
    is read now, and the runs need the database no more. Needs SQLAlchemy (``pip install
    'runql[mlflow-db]'``) and, for a server, its driver.
    """
    sa = require("sqlalchemy", "mlflow-db", "reading an MLflow tracking database")
    target, shown = connect_url(url)
    engine = _engine(sa, target, shown)
    try:
        with _connected(sa, engine, shown) as connection, _collector_paused():
            reader = _Reader(sa, connection, shown)
            experiments, runs, whole = reader.read(histories, progress)
    finally:
        engine.dispose()
    return StoreRecords(
        experiments, runs, where=shown, histories=None if whole else DatabaseHistories(target, shown)
    )


class DatabaseHistories:
    """The metric histories an MLflow tracking database keeps, read when asked for.

    Each read opens the database (a SQLite file read-only), reads, and closes it, so the runs hold no
    connection; a history therefore includes the points logged since the runs were loaded. A history's
    points come ordered by timestamp, step and value, as MLflow's SQL store reads them back.
    """

    def __init__(self, target: str, where: str) -> None:
        self._target = target  # the URL to connect with, which may hold a password: never shown
        self.where = where
        self._sa: Any = None
        self._made: Any = None  # the engine, made at the first read; with no pool, it holds no connection

    def __repr__(self) -> str:
        return f"DatabaseHistories({self.where!r})"

    def _engine(self) -> Any:
        if self._made is None:
            self._sa = require("sqlalchemy", "mlflow-db", "reading an MLflow tracking database")
            self._made = _engine(self._sa, self._target, self.where)
        return self._made

    def history(self, run_id: str, key: str) -> list[Metric]:
        engine = self._engine()
        sa, metrics = self._sa, _metrics_table(self._sa)
        # The key is compared as an expression, which no index holds: SQLite, without statistics, would
        # otherwise walk the primary key (key, timestamp, ...) through that key's points of every run,
        # not the run's index through the run's points.
        query = (
            sa.select(metrics.c.value, metrics.c.timestamp, metrics.c.step, metrics.c.is_nan)
            .where(metrics.c.run_uuid == run_id, metrics.c.key.concat("") == key)
            .order_by(*(metrics.c[c] for c in _HISTORY_ORDER))
        )
        with _connected(sa, engine, self.where) as connection:
            return [
                Metric(key, math.nan if is_nan else float(value), timestamp, step or 0)
                for chunk in _driver_rows(connection, query)
                for value, timestamp, step, is_nan in chunk
            ]

    def histories(
        self, run_ids: Sequence[str], keys: Collection[str] | None = None
    ) -> dict[str, dict[str, list[Metric]]]:
        engine = self._engine()
        sa, metrics = self._sa, _metrics_table(self._sa)
        found: defaultdict[str, dict[str, list[Metric]]] = defaultdict(dict)
        points = sa.select(*(metrics.c[c] for c in _POINT_COLUMNS)).order_by(
            metrics.c.run_uuid, metrics.c.key, *(metrics.c[c] for c in _HISTORY_ORDER)
        )
        with _connected(sa, engine, self.where) as connection:
            if keys is not None and len(run_ids) > _IDS_PER_STATEMENT:
                # Many runs, few metrics: the metrics' points in one statement, the runs asked for kept.
                # Chunk by chunk of runs, the database would walk every point of the key once per chunk.
                wanted = set(run_ids)
                rows = _driver_rows(connection, points.where(metrics.c.key.in_(sorted(keys))))
                _add_points(([row for row in chunk if row[0] in wanted] for chunk in rows), found)
                return dict(found)
            for start in range(0, len(run_ids), _IDS_PER_STATEMENT):
                chunk = list(run_ids[start : start + _IDS_PER_STATEMENT])
                query = points.where(metrics.c.run_uuid.in_(chunk))
                if keys is not None:  # compared as an expression, so the runs' index serves, not the key's
                    query = query.where(metrics.c.key.concat("").in_(sorted(keys)))
                _add_points(_driver_rows(connection, query), found)
        return dict(found)


def _metrics_table(sa: Any) -> Any:
    # Columns named, not reflected: the load checked the schema, and a read then costs one statement.
    return sa.table("metrics", *(sa.column(c) for c in _POINT_COLUMNS))


def _driver_rows(connection: Any, query: Any) -> Iterator[list[Any]]:
    """The rows of ``query`` as the driver's tuples, a chunk at a time.

    On millions of rows, SQLAlchemy's Row objects cost several times the driver's tuples, so the
    statement SQLAlchemy compiles runs on the driver's cursor, its values still bound as parameters
    (strings, which need no conversion on the way).
    """
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.params
    parameters = [values[name] for name in compiled.positiontup] if compiled.positional else values
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled), parameters)
        while chunk := cursor.fetchmany(_CHUNK):
            yield chunk
    finally:
        cursor.close()


def _add_points(
    chunks: Iterable[Sequence[Sequence[Any]]],
    into: Mapping[str, dict[str, list[Metric]]] | Mapping[str, dict[str, History | list[Metric]]],
) -> None:
    """Append each point of ``chunks`` (rows of ``_POINT_COLUMNS``, ordered by run, key, then as a history
    is) to its history in ``into[run_id][key]``, which starts each history anew."""
    names: dict[str, str] = {}
    current: tuple[str, str] | None = None
    name = ""
    history: list[Metric] = []
    for chunk in chunks:
        for run_id, key, value, timestamp, step, is_nan in chunk:
            if (run_id, key) != current:
                current = (run_id, key)
                name = names.setdefault(key, key)  # one string per key, not one per point
                history = into[run_id][name] = []
            history.append(Metric(name, math.nan if is_nan else float(value), timestamp, step or 0))


@contextmanager
def _collector_paused() -> Iterator[None]:
    # The read makes millions of objects and no cycles; the cyclic garbage collector would rescan them
    # again and again as they pile up.
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _engine(sa: Any, target: str, shown: str) -> Any:
    try:
        # No pool: a connection is closed as soon as its read is done.
        return sa.create_engine(target, poolclass=sa.pool.NullPool)
    except ImportError as error:  # the database's driver (psycopg, pymysql, ...) is not installed
        raise MissingDependencyError(f"reading {shown} needs its database driver: {error}") from None
    except sa.exc.ArgumentError as error:
        raise StoreError(f"not a database URL: {error}", where=shown, code="not-a-store") from None


@contextmanager
def _connected(sa: Any, engine: Any, shown: str) -> Iterator[Any]:
    """A connection to the database, closed afterwards; failing to open or read it is a StoreError."""
    # Rows are read through the driver's own cursor, whose errors SQLAlchemy does not wrap.
    failures = (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error)
    try:
        with engine.connect() as connection:
            yield connection
    except failures as error:
        detail = str(getattr(error, "orig", None) or error) or type(error).__name__
        raise StoreError(f"cannot read the database: {detail.splitlines()[0]}", where=shown) from None


class _Reader:
    def __init__(self, sa: Any, connection: Any, shown: str) -> None:
        self.sa = sa
        self.connection = connection
        self.shown = shown
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
        self.experiments: list[dict[str, Any]] = []
        self.runs: dict[str, Run] = {}

    def table(self, name: str) -> Any:
        if name not in self.tables:
            self.tables[name] = self.sa.Table(name, self.sa.MetaData(), autoload_with=self.connection)
        return self.tables[name]

    def rows(self, name: str, columns: Sequence[str], order: Sequence[str] = ()) -> Iterator[list[Any]]:
        """The rows of ``columns`` of table ``name``, as the driver's tuples, a chunk at a time."""
        table = self.table(name)
        missing = [c for c in (*columns, *order) if c not in table.c]
        if missing:
            raise StoreError(
                f"table {name!r} lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                where=self.shown,
                code="missing-table",
            )
        query = self.sa.select(*(table.c[c] for c in columns)).order_by(*(table.c[c] for c in order))
        return _driver_rows(self.connection, query)

    def read(self, histories: bool, progress: bool | None) -> tuple[list[dict[str, Any]], list[Run], bool]:
        """The experiment records and the runs, and whether the runs hold their whole histories."""
        has_latest = "latest_metrics" in self.names
        # Without latest_metrics (an MLflow from before 2020), the histories alone give the latest values.
        whole = histories or not has_latest
        steps: list[Callable[[], None]] = [
            self._experiments,
            self._runs,
            partial(self._strings, "params"),
            partial(self._strings, "tags"),
        ]
        if has_latest:
            steps.append(self._latest)
        if whole:
            steps.append(partial(self._histories, latest=not has_latest))
        if all(t in self.names for t in INPUT_TABLES):
            steps.append(self._inputs)
        for step in progress_bar(
            steps, total=len(steps), desc="reading tables", unit="table", enabled=progress, extra="mlflow-db"
        ):
            step()
        return self.experiments, list(self.runs.values()), whole

    def _orphan(self, table: str, run_id: Any) -> StoreError:
        return StoreError(
            f"table {table!r} has a row for run {run_id!r}, which is not in table 'runs'", where=self.shown
        )

    def _experiments(self) -> None:
        experiment_tags: dict[str, dict[str, str]] = defaultdict(dict)
        for chunk in self.rows("experiment_tags", ("key", "value", "experiment_id")):
            for key, value, experiment_id in chunk:
                experiment_tags[str(experiment_id)][key] = value
        columns = (
            "experiment_id",
            "name",
            "artifact_location",
            "lifecycle_stage",
            "creation_time",
            "last_update_time",
        )
        for chunk in self.rows("experiments", columns, order=("experiment_id",)):
            for experiment_id, name, artifact_location, stage, created, updated in chunk:
                self.experiments.append(
                    {
                        "experiment_id": str(experiment_id),
                        "name": name,
                        "artifact_location": artifact_location,
                        "lifecycle_stage": stage or LifecycleStage.ACTIVE,
                        "creation_time": created,
                        "last_update_time": updated,
                        "tags": experiment_tags.get(str(experiment_id), {}),
                    }
                )

    def _runs(self) -> None:
        for chunk in self.rows("runs", _RUN_COLUMNS, order=("experiment_id", "run_uuid")):
            for run_id, experiment_id, name, user_id, status, start, end, artifact_uri, stage in chunk:
                info = RunInfo(
                    run_id=run_id,
                    experiment_id=str(experiment_id),
                    user_id=user_id,
                    status=status or (RunStatus.FINISHED if end is not None else RunStatus.RUNNING),
                    start_time=start,
                    end_time=end,
                    lifecycle_stage=stage or LifecycleStage.ACTIVE,
                    artifact_uri=artifact_uri,
                    run_name=name,
                )
                self.runs[run_id] = Run(info, RunData(), RunInputs())

    def _strings(self, part: str) -> None:
        """Table ``part`` (params or tags) into the runs' mappings of the same name."""
        into = {run_id: getattr(run.data, part) for run_id, run in self.runs.items()}
        # Each row brings new strings; a key, or a value many runs share, is kept once instead.
        strings: dict[str | None, str | None] = {}
        once = strings.setdefault
        try:
            for chunk in self.rows(part, ("run_uuid", "key", "value")):
                for run_id, key, value in chunk:
                    into[run_id][once(key, key)] = once(value, value)
        except KeyError as error:
            raise self._orphan(part, error.args[0]) from None

    def _latest(self) -> None:
        into = {run_id: run.data.metrics for run_id, run in self.runs.items()}
        keys: dict[str, str] = {}
        once = keys.setdefault
        try:
            for chunk in self.rows("latest_metrics", ("run_uuid", "key", "value", "is_nan")):
                for run_id, key, value, is_nan in chunk:
                    into[run_id][once(key, key)] = math.nan if is_nan else float(value)
        except KeyError as error:
            raise self._orphan("latest_metrics", error.args[0]) from None

    def _histories(self, latest: bool) -> None:
        """Every point of table ``metrics`` into the runs' histories; with ``latest``, the latest values
        too, for a schema without ``latest_metrics``."""
        into = {run_id: run.data.histories for run_id, run in self.runs.items()}
        order = ("run_uuid", "key", *_HISTORY_ORDER)
        try:
            _add_points(self.rows("metrics", _POINT_COLUMNS, order=order), into)
        except KeyError as error:
            raise self._orphan("metrics", error.args[0]) from None
        if latest:
            for run in self.runs.values():
                run.data.metrics = {key: latest_metric(h).value for key, h in run.data.histories.items()}

    def _inputs(self) -> None:
        dataset_columns = (
            "dataset_uuid",
            "name",
            "digest",
            "dataset_source_type",
            "dataset_source",
            "dataset_schema",
            "dataset_profile",
        )
        datasets = {
            dataset_id: {
                "name": name,
                "digest": digest,
                "source_type": source_type,
                "source": source,
                "schema": schema,
                "profile": profile,
            }
            for chunk in self.rows("datasets", dataset_columns)
            for dataset_id, name, digest, source_type, source, schema, profile in chunk
        }
        input_tags: dict[str, dict[str, str]] = defaultdict(dict)
        for chunk in self.rows("input_tags", ("input_uuid", "name", "value")):
            for input_id, name, value in chunk:
                input_tags[input_id][name] = value
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        columns = ("input_uuid", "source_type", "source_id", "destination_type", "destination_id")
        for chunk in self.rows("inputs", columns):
            for input_id, source_type, source_id, destination_type, run_id in chunk:
                if source_type != "DATASET" or destination_type != "RUN":
                    continue  # model inputs and outputs: not part of run search
                dataset = datasets.get(source_id)
                if dataset is None:
                    raise StoreError(
                        f"input {input_id!r} names dataset {source_id!r}, which is not in table 'datasets'",
                        where=self.shown,
                    )
                if run_id not in self.runs:
                    raise self._orphan("inputs", run_id)
                found[run_id].append({"dataset": dataset, "tags": input_tags.get(input_id, {})})
        for run_id, inputs in found.items():
            self.runs[run_id].inputs.dataset_inputs = dataset_inputs(inputs)
