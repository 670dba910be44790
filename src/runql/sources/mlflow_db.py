"""An MLflow tracking database read directly with SQLAlchemy, against MLflow's schema.

The tables read at load: ``experiments`` and ``experiment_tags``; ``runs`` with ``latest_metrics``
(each metric's latest value, the one MLflow searches), ``params`` and ``tags``; and, where the schema
has them, ``inputs``, ``input_tags`` and ``datasets`` for dataset inputs. Each table is one plain
SELECT on the reflected table, so one code path serves SQLite, PostgreSQL and MySQL URLs; its rows
come from the driver's cursor as tuples, a chunk at a time (on PostgreSQL from a server-side cursor, so
the client never holds a whole table's rows), and go straight into the runs, a string that many rows
repeat (a key, a common value) kept once.

``metrics`` (every logged point, by far the largest table) is not read at load: the runs come with a
:class:`DatabaseHistories`, which reads a history from the database when it is asked for.
``histories=True`` reads every history at load instead. A SQLite file is opened read-only: reading
never creates or changes a database (a database in WAL mode keeps the ``-wal`` and ``-shm`` files SQLite
makes beside it to read it; docs/security.md).

A database may come from anyone, and its tables hold what was put in them, whatever MLflow's schema says
(SQLite keeps text in an integer column). Every row is checked as it is read (:mod:`runql.sources.rows`),
as the readers of files check a line or a ``meta.yaml``: a value of the wrong type for its column (text
in a time or a step, a metric value that is not a number, a status MLflow does not have, text that is not
UTF-8) is a :class:`StoreError` (``corrupt-store``) naming the table and the row, by its run id, never a
value that would break a search later.
"""

from __future__ import annotations

import itertools
import math
import os
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from runql.common.collector import collector_paused
from runql.common.optional import install_hint, progress_bar, require
from runql.common.redact import redact, shown_value
from runql.errors import MissingDependencyError, StoreError
from runql.model.entities import (
    History,
    LifecycleStage,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    latest_metric,
)
from runql.sources import rows as check
from runql.sources.base import StoreRecords, dataset_inputs, local_path, url_scheme
from runql.sources.mlflow_logged_models import read_logged_models
from runql.sources.mlflow_registry import read_registry
from runql.sources.schemes import DATABASE_SCHEMES, RUNQL_PREFIX

__all__ = ["DatabaseHistories", "missing_driver", "read_mlflow_db"]

REQUIRED_TABLES = ("experiments", "experiment_tags", "runs", "metrics", "params", "tags")
INPUT_TABLES = ("inputs", "input_tags", "datasets")
# Rows taken from the driver at once: few calls per table, and never a whole large table's raw rows.
_CHUNK = 50_000
# Run ids bound in one statement when reading histories: far below every database's limit.
_IDS_PER_STATEMENT = 500
_POINT_COLUMNS = ("run_uuid", "key", "value", "timestamp", "step", "is_nan")
# The table keeps no logged order; MLflow's SQL store reads a history back by timestamp, step, value.
_HISTORY_ORDER = ("timestamp", "step", "value")
# The column that names a row of each table in a message, and what its id names (run_uuid, a run, for
# the others).
_ROW_KEYS = {
    "experiments": ("experiment_id", "experiment"),
    "experiment_tags": ("experiment_id", "experiment"),
    "datasets": ("dataset_uuid", "dataset"),
    "inputs": ("input_uuid", "input"),
    "input_tags": ("input_uuid", "input"),
}
# The first bytes of every SQLite database file.
_SQLITE_MAGIC = b"SQLite format 3\x00"
# The drivers of a PostgreSQL URL (plain postgresql:// is psycopg's on SQLAlchemy 2.1, psycopg2's before).
_POSTGRES_DRIVERS = ("psycopg", "psycopg2")
# Numbers the names of PostgreSQL's server-side cursors: a name need only be unique within its session.
_cursor_numbers = itertools.count()


def connect_url(url_or_path: str | os.PathLike[str]) -> tuple[str, str]:
    """The SQLAlchemy URL to connect with, and the name to show in errors (no password)."""
    text = os.fspath(url_or_path)
    if text.startswith(RUNQL_PREFIX):  # the URL an `mlflow server` with runql's plugin is given
        text = text[len(RUNQL_PREFIX) :]
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
    _check_sqlite_file(path)
    # A read-only URI: SQLAlchemy would otherwise create an empty database at a mistyped path.
    uri = quote(path.resolve().as_posix())
    return f"sqlite:///file:{uri}?mode=ro&uri=true", str(path)


def _check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not a SQLite database before a driver reads it (an empty file is one: SQLite
    reads it as a database without tables)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as error:
        raise StoreError(f"cannot read it: {error.strerror or error}", where=str(path)) from None
    if head and head != _SQLITE_MAGIC:
        raise StoreError(
            "not a SQLite database file (an MLflow tracking database such as mlflow.db is one)",
            where=str(path),
            code="not-a-store",
        )


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
    target, where = connect_url(url)
    engine = _engine(sa, target, where)
    try:
        with _connected(sa, engine, where) as connection, collector_paused():
            reader = _Reader(sa, connection, where)
            if not histories and "latest_metrics" in reader.names:
                from runql.sources.mlflow_tables import read_run_columns  # numpy; pyarrow if installed

                stored = DatabaseHistories(target, where)
                columns = read_run_columns(reader, stored, target)
                if columns is not None:
                    reader.experiments_read()
                    return StoreRecords(
                        reader.experiments,
                        [],
                        where=where,
                        histories=stored,
                        columns=columns,
                        registry=read_registry(sa, connection, where),
                        logged_models=read_logged_models(sa, connection, where),
                    )
            experiments, runs, whole = reader.read(histories, progress)
            registry = read_registry(sa, connection, where)
            logged_models = read_logged_models(sa, connection, where)
    finally:
        engine.dispose()
    return StoreRecords(
        experiments,
        runs,
        where=where,
        histories=None if whole else DatabaseHistories(target, where),
        registry=registry,
        logged_models=logged_models,
    )


class DatabaseHistories:
    """The metric histories an MLflow tracking database keeps, read when asked for.

    Each read opens the database (a SQLite file read-only), reads, and closes it, so the runs hold no
    connection; a history therefore includes the points logged since the runs were loaded. A history's
    points come ordered by timestamp, step and value, as MLflow's SQL store reads them back. A point of
    the wrong type is a :class:`StoreError` naming table ``metrics`` and the run.
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

    @staticmethod
    def _storable(engine: Any, key: str) -> bool:
        # Imported here: the engine's module needs SQLAlchemy, which this module imports only when reading.
        from runql.engines.sql import storable

        return storable(key, engine.dialect.name)

    def history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key`` of run ``run_id`` in table ``metrics`` (empty if none)."""
        engine = self._engine()
        if not self._storable(engine, key):  # never logged, and the driver could not even send it
            return []
        sa, metrics = self._sa, _metrics_table(self._sa)
        # The key is compared as an expression, which no index holds: SQLite, without statistics, would
        # otherwise walk the primary key (key, timestamp, ...) through that key's points of every run,
        # not the run's index through the run's points.
        query = (
            sa.select(metrics.c.value, metrics.c.timestamp, metrics.c.step, metrics.c.is_nan)
            .where(metrics.c.run_uuid == run_id, metrics.c.key.concat("") == key)
            .order_by(*(metrics.c[c] for c in _HISTORY_ORDER))
        )
        with (
            _connected(sa, engine, self.where, "metrics") as connection,
            _driver_rows(connection, query) as chunks,
        ):
            points: list[Metric] = []
            for chunk in chunks:
                for value, timestamp, step, is_nan in chunk:
                    # One test for the rows MLflow writes; any other row is checked field by field.
                    if type(value) is float and type(timestamp) is int and type(step) is int and is_nan == 0:
                        points.append(Metric(key, value, timestamp, step))
                        continue
                    try:
                        points.append(check.metric_point(key, value, timestamp, step, is_nan))
                    except ValueError as error:
                        raise check.bad_row(self.where, "metrics", run_id, error) from None
            return points

    def histories(
        self, run_ids: Sequence[str], keys: Collection[str] | None = None
    ) -> dict[str, dict[str, list[Metric]]]:
        """Every point of the metrics ``keys`` (None: of every metric) of the runs ``run_ids``, by run id
        and key (runs without points left out), read in a few statements rather than one per run."""
        engine = self._engine()
        if keys is not None:
            keys = [key for key in keys if self._storable(engine, key)]
        sa, metrics = self._sa, _metrics_table(self._sa)
        found: defaultdict[str, dict[str, list[Metric]]] = defaultdict(dict)
        points = sa.select(*(metrics.c[c] for c in _POINT_COLUMNS)).order_by(
            metrics.c.run_uuid, metrics.c.key, *(metrics.c[c] for c in _HISTORY_ORDER)
        )
        with _connected(sa, engine, self.where, "metrics") as connection:
            if keys is not None and len(run_ids) > _IDS_PER_STATEMENT:
                # Many runs, few metrics: the metrics' points in one statement, the runs asked for kept.
                # Chunk by chunk of runs, the database would walk every point of the key once per chunk.
                wanted = set(run_ids)
                with _driver_rows(connection, points.where(metrics.c.key.in_(sorted(keys)))) as chunks:
                    kept = ([row for row in chunk if row[0] in wanted] for chunk in chunks)
                    _add_points(kept, found, self.where)
                return dict(found)
            for start in range(0, len(run_ids), _IDS_PER_STATEMENT):
                chunk = list(run_ids[start : start + _IDS_PER_STATEMENT])
                query = points.where(metrics.c.run_uuid.in_(chunk))
                if keys is not None:  # compared as an expression, so the runs' index serves, not the key's
                    query = query.where(metrics.c.key.concat("").in_(sorted(keys)))
                with _driver_rows(connection, query) as chunks:
                    _add_points(chunks, found, self.where)
        return dict(found)


def _metrics_table(sa: Any) -> Any:
    # Columns named, not reflected: the load checked the schema, and a read then costs one statement.
    return sa.table("metrics", *(sa.column(c) for c in _POINT_COLUMNS))


@contextmanager
def _driver_rows(connection: Any, query: Any) -> Iterator[Iterator[list[Any]]]:
    """The rows of ``query`` as the driver's tuples, a chunk at a time, from a cursor closed on leaving.

    On millions of rows, SQLAlchemy's Row objects cost several times the driver's tuples, so the
    statement SQLAlchemy compiles runs on the driver's cursor, its values still bound as parameters
    (strings, which need no conversion on the way). The cursor is closed before the connection is,
    also when reading the rows failed.
    """
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.params
    parameters = [values[name] for name in compiled.positiontup] if compiled.positional else values
    cursor = _cursor(connection)
    try:
        cursor.execute(str(compiled), parameters)
        yield iter(partial(cursor.fetchmany, _CHUNK), [])
    finally:
        cursor.close()


def _cursor(connection: Any) -> Any:
    """A DBAPI cursor of ``connection`` to read a statement's rows a chunk at a time.

    On PostgreSQL it is a named, server-side cursor (psycopg and psycopg2 both make one when given a
    name): their plain cursor takes the statement's whole result into client memory at ``execute``,
    whatever ``fetchmany`` then asks for, so the rows of ``params`` or ``tags`` would all be held at
    once. A named cursor fetches ``_CHUNK`` rows per round trip instead. It lives in the connection's
    transaction, which the driver opens. SQLite's cursor already steps through the rows as they are
    fetched.
    """
    if connection.dialect.name == "postgresql":
        return connection.connection.cursor(name=f"runql_rows_{next(_cursor_numbers)}")
    return connection.connection.cursor()


def _add_points(
    chunks: Iterable[Sequence[Sequence[Any]]],
    into: Mapping[str, dict[str, list[Metric]]] | Mapping[str, dict[str, History | list[Metric]]],
    where: str,
) -> None:
    """Append each point of ``chunks`` (rows of ``_POINT_COLUMNS``, ordered by run, key, then as a history
    is) to its history in ``into[run_id][key]``, which starts each history anew. A row of the wrong type
    is a StoreError naming table ``metrics`` and its run (``where`` names the store)."""
    names: dict[str, str] = {}
    current: tuple[str, str] | None = None
    name = ""
    history: list[Metric] = []
    for chunk in chunks:
        for run_id, key, value, timestamp, step, is_nan in chunk:
            if (run_id, key) != current:
                try:
                    check.text(key, "key")
                except ValueError as error:
                    raise check.bad_row(where, "metrics", run_id, error) from None
                current = (run_id, key)
                name = names.setdefault(key, key)  # one string per key, not one per point
                history = into[run_id][name] = []
            # One test for the rows MLflow writes; any other row is checked field by field.
            if type(value) is float and type(timestamp) is int and type(step) is int and is_nan == 0:
                history.append(Metric(name, value, timestamp, step))
                continue
            try:
                history.append(check.metric_point(name, value, timestamp, step, is_nan))
            except ValueError as error:
                raise check.bad_row(where, "metrics", run_id, error) from None


# -- connecting --------------------------------------------------------------------------------------


def missing_driver(where: str, error: ImportError) -> MissingDependencyError:
    """The error for a database URL whose driver is not installed, as one line that says what to install.

    ``where`` is the URL without its password. A PostgreSQL driver (``psycopg``, which SQLAlchemy 2.1
    uses for a plain ``postgresql://`` URL, or ``psycopg2``) comes with the ``postgres`` extra.
    """
    module = (error.name or "").split(".")[0]
    if module in _POSTGRES_DRIVERS:
        return MissingDependencyError(
            f"reading {where} needs the PostgreSQL driver {module!r}: {install_hint('postgres')}"
        )
    if module:
        return MissingDependencyError(
            f"reading {where} needs the database driver {module!r}, which is not installed"
        )
    return MissingDependencyError(f"reading {where} needs its database driver: {_detail(error)}")


def _engine(sa: Any, target: str, where: str) -> Any:
    try:
        # No pool: a connection is closed as soon as its read is done.
        return sa.create_engine(target, poolclass=sa.pool.NullPool)
    except ImportError as error:  # the database's driver (psycopg, pymysql, ...) is not installed
        raise missing_driver(where, error) from None
    except sa.exc.ArgumentError as error:
        raise StoreError(f"not a database URL: {error}", where=where, code="not-a-store") from None


def _detail(error: BaseException) -> str:
    """The first line of a driver's message (SQLAlchemy's wrapper adds the statement and a link)."""
    text = str(getattr(error, "orig", None) or error) or type(error).__name__
    return text.splitlines()[0]


def _undecodable(error: BaseException) -> bool:
    """Whether reading failed on text that is not UTF-8: SQLite keeps any bytes in a text column, and
    its Python driver refuses them only when it reads them (an OperationalError saying so)."""
    found = getattr(error, "orig", None) or error
    return isinstance(found, UnicodeDecodeError) or str(found).startswith("Could not decode to UTF-8")


def _corrupt_sqlite(engine: Any, error: BaseException) -> bool:
    """Whether SQLite failed on a damaged file: Python's sqlite3 raises its bare DatabaseError for
    SQLITE_CORRUPT and SQLITE_NOTADB, and a subclass (OperationalError, ...) for everything else."""
    found = getattr(error, "orig", None) or error
    return engine.dialect.name == "sqlite" and type(found) is engine.dialect.loaded_dbapi.DatabaseError


def _read_error(engine: Any, error: BaseException, where: str) -> StoreError:
    """The :class:`StoreError` for a statement on ``engine``'s database that failed with ``error``:
    ``corrupt-store`` when the data is at fault (text that is not UTF-8, a damaged SQLite file), else
    ``unreachable-store`` (the server went away, the file is locked, access is denied). ``where`` names
    the store, and the table when it is known; the message is the driver's first line."""
    if _undecodable(error):
        return StoreError(f"text that is not UTF-8: {_detail(error)}", where=where)
    if _corrupt_sqlite(engine, error):
        return StoreError(f"the database file is damaged: {_detail(error)}", where=where)
    return StoreError(f"cannot read the database: {_detail(error)}", where=where, code="unreachable-store")


@contextmanager
def _connected(sa: Any, engine: Any, where: str, table: str = "") -> Iterator[Any]:
    """A connection to the database, closed afterwards. Failing to connect is ``unreachable-store``;
    failing to read is :func:`_read_error`'s, naming ``table`` when given."""
    # Rows are read through the driver's own cursor, whose errors SQLAlchemy does not wrap.
    failures = (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error, UnicodeDecodeError)
    try:
        connection = engine.connect()
    except failures as error:
        message = f"cannot connect to the database: {_detail(error)}"
        raise StoreError(message, where=where, code="unreachable-store") from None
    try:
        with connection:
            yield connection
    except failures as error:
        raise _read_error(engine, error, f"{where}, table {table}" if table else where) from None


# -- the load ----------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, sa: Any, connection: Any, where: str) -> None:
        self.sa = sa
        self.connection = connection
        self.where = where
        names = set(sa.inspect(connection).get_table_names())
        missing = [t for t in REQUIRED_TABLES if t not in names]
        if missing:
            if "runs" not in names and "experiments" not in names:
                raise StoreError(
                    "not an MLflow tracking database: it has no 'experiments' or 'runs' table",
                    where=where,
                    code="not-a-store",
                )
            raise StoreError(
                f"the database lacks table{'s' if len(missing) > 1 else ''} {', '.join(missing)} of "
                "MLflow's schema; it may be partial, or from an MLflow too old to read",
                where=where,
                code="missing-table",
            )
        self.names = names
        # What reading a table may raise: the database's errors, through the driver or SQLAlchemy.
        self.errors = (connection.dialect.loaded_dbapi.Error, sa.exc.SQLAlchemyError)
        self.tables: dict[str, Any] = {}
        self.experiments: list[dict[str, Any]] = []
        self.runs: dict[str, Run] = {}

    def table(self, name: str) -> Any:
        if name not in self.tables:
            self.tables[name] = self.sa.Table(name, self.sa.MetaData(), autoload_with=self.connection)
        return self.tables[name]

    @contextmanager
    def rows(
        self, name: str, columns: Sequence[str], order: Sequence[str] = ()
    ) -> Iterator[Iterator[list[Any]]]:
        """The rows of ``columns`` of table ``name``, as the driver's tuples, a chunk at a time. Text that
        is not UTF-8 is a StoreError naming the row that holds it."""
        table = self.table(name)
        missing = [c for c in (*columns, *order) if c not in table.c]
        if missing:
            raise StoreError(
                f"table {name!r} lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                where=self.where,
                code="missing-table",
            )
        query = self.sa.select(*(table.c[c] for c in columns)).order_by(*(table.c[c] for c in order))
        try:
            with _driver_rows(self.connection, query) as chunks:
                yield chunks
        except self.errors as error:
            if not _undecodable(error):
                raise
            raise self._not_utf8(name, columns) from None

    def _not_utf8(self, name: str, columns: Sequence[str]) -> StoreError:
        """The error for text that is not UTF-8 in table ``name``: its columns are read again as bytes
        (only after the read failed) to find the first row holding some."""
        table = self.table(name)
        key, noun = _ROW_KEYS.get(name, ("run_uuid", "run"))
        query = self.sa.select(*(self.sa.cast(table.c[c], self.sa.LargeBinary) for c in (key, *columns)))
        with _driver_rows(self.connection, query) as chunks:
            found = check.undecodable(row for chunk in chunks for row in chunk)
        if found is None:
            return StoreError("text that is not UTF-8", where=f"{self.where}, table {name}")
        row_id, index, problem = found
        message = f"{columns[index]} holds text that is not UTF-8 ({problem})"
        return StoreError(message, where=check.row_place(self.where, name, row_id, noun))

    def read(self, histories: bool, progress: bool | None) -> tuple[list[dict[str, Any]], list[Run], bool]:
        """The experiment records and the runs, and whether the runs hold their whole histories."""
        has_latest = "latest_metrics" in self.names
        # Without latest_metrics (an MLflow from before 2020), the histories alone give the latest values.
        whole = histories or not has_latest
        steps: list[Callable[[], None]] = [
            self.experiments_read,
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
            f"table {table!r} has a row for run {shown_value(run_id)}, which is not in table 'runs'",
            where=self.where,
        )

    def experiments_read(self) -> None:
        """Table ``experiments`` (and their tags) into ``self.experiments``."""
        experiment_tags: dict[str, dict[str, str]] = defaultdict(dict)
        with self.rows("experiment_tags", ("key", "value", "experiment_id")) as chunks:
            for chunk in chunks:
                for key, value, experiment_id in chunk:
                    try:
                        tags = experiment_tags[check.experiment_id(experiment_id)]
                        name, text = check.text(key, "key"), check.optional_text(value, "value")
                        if text is not None:  # a NULL value, which the schema allows, is no value
                            tags[name] = text
                    except ValueError as error:
                        raise check.bad_row(
                            self.where, "experiment_tags", experiment_id, error, "experiment"
                        ) from None
        columns = (
            "experiment_id",
            "name",
            "artifact_location",
            "lifecycle_stage",
            "creation_time",
            "last_update_time",
        )
        with self.rows("experiments", columns, order=("experiment_id",)) as chunks:
            for chunk in chunks:
                for experiment_id, name, artifact_location, stage, created, updated in chunk:
                    try:
                        identifier = check.experiment_id(experiment_id)
                        record = {
                            "experiment_id": identifier,
                            "name": check.text(name, "name"),
                            "artifact_location": check.optional_text(artifact_location, "artifact_location"),
                            "lifecycle_stage": _stage(stage),
                            "creation_time": check.time_ms(created, "creation_time"),
                            "last_update_time": check.time_ms(updated, "last_update_time"),
                            "tags": experiment_tags.get(identifier, {}),
                        }
                    except ValueError as error:
                        raise check.bad_row(
                            self.where, "experiments", experiment_id, error, "experiment"
                        ) from None
                    self.experiments.append(record)

    def _runs(self) -> None:
        with self.rows("runs", check.RUN_COLUMNS, order=("experiment_id", "run_uuid")) as chunks:
            for chunk in chunks:
                for row in chunk:
                    run = self._run(*row)
                    if run.info.run_id in self.runs:
                        raise StoreError(
                            "the run appears twice", where=check.row_place(self.where, "runs", row[0])
                        )
                    self.runs[run.info.run_id] = run

    def _run(
        self,
        run_id: Any,
        experiment_id: Any,
        name: Any,
        user_id: Any,
        status: Any,
        start: Any,
        end: Any,
        artifact_uri: Any,
        stage: Any,
    ) -> Run:
        """A row of ``runs`` as a run without data yet."""
        try:
            identifier = check.run_id(run_id)
            end_time = check.time_ms(end, "end_time")
            info = RunInfo(
                run_id=identifier,
                experiment_id=check.experiment_id(experiment_id),
                user_id=check.optional_text(user_id, "user_id"),
                status=check.run_status(status, end_time),
                start_time=check.time_ms(start, "start_time"),
                end_time=end_time,
                lifecycle_stage=_stage(stage),
                artifact_uri=check.optional_text(artifact_uri, "artifact_uri"),
                run_name=check.optional_text(name, "name"),
            )
        except ValueError as error:
            raise check.bad_row(self.where, "runs", run_id, error) from None
        return Run(info, RunData(), RunInputs())

    def _strings(self, part: str) -> None:
        """Table ``part`` (params or tags) into the runs' mappings of the same name."""
        into = {run_id: getattr(run.data, part) for run_id, run in self.runs.items()}
        # Each row brings new strings; a key, or a value many runs share, is kept once instead.
        strings: dict[str | None, str | None] = {}
        once = strings.setdefault
        # MLflow's schema lets a tag's value be NULL, not a param's.
        nullable = part == "tags"
        try:
            with self.rows(part, ("run_uuid", "key", "value")) as chunks:
                for chunk in chunks:
                    for run_id, key, value in chunk:
                        if type(key) is not str or type(value) is not str:
                            try:
                                check.text(key, "key")
                                if nullable and value is None:
                                    continue  # no value, as a search reads it: the run lacks the tag
                                check.text(value, "value")
                            except ValueError as error:
                                raise check.bad_row(self.where, part, run_id, error) from None
                        into[run_id][once(key, key)] = once(value, value)
        except KeyError as error:
            raise self._orphan(part, error.args[0]) from None

    def _latest(self) -> None:
        into = {run_id: run.data.metrics for run_id, run in self.runs.items()}
        keys: dict[str, str] = {}
        once = keys.setdefault
        try:
            with self.rows("latest_metrics", ("run_uuid", "key", "value", "is_nan")) as chunks:
                for chunk in chunks:
                    for run_id, key, value, is_nan in chunk:
                        # Checked as one test on the rows MLflow writes; any other row field by field.
                        if type(key) is not str or type(value) is not float or is_nan != 0:
                            try:
                                key = check.text(key, "key")
                                nan = check.flag(is_nan, "is_nan")
                                value = math.nan if nan else check.number(value, "value")
                            except ValueError as error:
                                raise check.bad_row(self.where, "latest_metrics", run_id, error) from None
                        into[run_id][once(key, key)] = value
        except KeyError as error:
            raise self._orphan("latest_metrics", error.args[0]) from None

    def _histories(self, latest: bool) -> None:
        """Every point of table ``metrics`` into the runs' histories; with ``latest``, the latest values
        too, for a schema without ``latest_metrics``."""
        into = {run_id: run.data.histories for run_id, run in self.runs.items()}
        order = ("run_uuid", "key", *_HISTORY_ORDER)
        try:
            with self.rows("metrics", _POINT_COLUMNS, order=order) as chunks:
                _add_points(chunks, into, self.where)
        except KeyError as error:
            raise self._orphan("metrics", error.args[0]) from None
        if latest:
            for run in self.runs.values():
                run.data.metrics = {key: latest_metric(h).value for key, h in run.data.histories.items()}

    def _inputs(self) -> None:
        for run_id, inputs in self.inputs(self.runs).items():
            self.runs[run_id].inputs.dataset_inputs = dataset_inputs(inputs)

    def inputs(self, run_ids: Collection[str]) -> dict[str, list[dict[str, Any]]]:
        """The dataset input records of each run of ``run_ids`` that has some; an input of another run is
        a StoreError."""
        dataset_columns = (
            "dataset_uuid",
            "name",
            "digest",
            "dataset_source_type",
            "dataset_source",
            "dataset_schema",
            "dataset_profile",
        )
        datasets: dict[str, dict[str, str | None]] = {}
        with self.rows("datasets", dataset_columns) as chunks:
            for chunk in chunks:
                for dataset_id, name, digest, source_type, source, schema, profile in chunk:
                    try:
                        datasets[check.text(dataset_id, "dataset_uuid")] = {
                            "name": check.text(name, "name"),
                            "digest": check.text(digest, "digest"),
                            "source_type": check.optional_text(source_type, "dataset_source_type"),
                            "source": check.optional_text(source, "dataset_source"),
                            "schema": check.optional_text(schema, "dataset_schema"),
                            "profile": check.optional_text(profile, "dataset_profile"),
                        }
                    except ValueError as error:
                        raise check.bad_row(self.where, "datasets", dataset_id, error, "dataset") from None
        input_tags: dict[str, dict[str, str]] = defaultdict(dict)
        with self.rows("input_tags", ("input_uuid", "name", "value")) as chunks:
            for chunk in chunks:
                for input_id, name, value in chunk:
                    try:
                        tags = input_tags[check.text(input_id, "input_uuid")]
                        tags[check.text(name, "name")] = check.text(value, "value")
                    except ValueError as error:
                        raise check.bad_row(self.where, "input_tags", input_id, error, "input") from None
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        columns = ("input_uuid", "source_type", "source_id", "destination_type", "destination_id")
        with self.rows("inputs", columns) as chunks:
            for chunk in chunks:
                for input_id, source_type, source_id, destination_type, run_id in chunk:
                    if source_type != "DATASET" or destination_type != "RUN":
                        continue  # model inputs and outputs: not part of run search
                    dataset = datasets.get(source_id)
                    if dataset is None:
                        named = shown_value(source_id)
                        raise StoreError(
                            f"input {shown_value(input_id)} names dataset {named}, which is not in "
                            "table 'datasets'",
                            where=self.where,
                        )
                    if run_id not in run_ids:
                        raise self._orphan("inputs", run_id)
                    found[run_id].append({"dataset": dataset, "tags": input_tags.get(input_id, {})})
        return found


def _stage(value: object) -> str:
    """A lifecycle stage; NULL is active, as in MLflow's schema."""
    return check.one_of(value, check.LIFECYCLE_STAGES, LifecycleStage.ACTIVE, "lifecycle_stage")
