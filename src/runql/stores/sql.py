"""A read-only store over an MLflow tracking database that answers each search in SQL.

``runql.connect("sqlite:///mlflow.db")`` (or a PostgreSQL URL) gives a :class:`~runql.stores.base.RunStore`:
the Workspace's read methods, signatures and answers. A run search is one statement that selects the
ids of one page (:mod:`runql.engines.sql`), then set-based statements that read the runs of that page
only: their rows, params, tags, latest metrics and dataset inputs. Experiments are few: they are read
whole and searched in memory. A SQLite file is opened read-only; every search runs in one read-only
transaction, so a store that MLflow writes at the same time gives a consistent answer. Needs
SQLAlchemy (``runql[mlflow-db]``): importing this module without it raises
:class:`~runql.MissingDependencyError`.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from runql.common.optional import require

if TYPE_CHECKING:
    import sqlalchemy as sa
else:
    # Before the imports that need SQLAlchemy: without it, this names the extra to install.
    sa = require("sqlalchemy", "mlflow-db", "searching an MLflow tracking database in SQL")

from runql.common.redact import redact
from runql.engines.sql import MLFLOW_SCHEMA, Schema, Tables, register_sqlite_functions, runs_select
from runql.errors import MissingDependencyError, NotFoundError, StoreError
from runql.model.keys import KeySets
from runql.model.paging import next_page_token, parse_page_token
from runql.model.records import (
    Experiment,
    LifecycleStage,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    ViewType,
)
from runql.profiles.catalog import Profile
from runql.profiles.compiled import CompiledQuery, OrderBy
from runql.sources.base import dataset_inputs
from runql.sources.mlflow_db import connect_url
from runql.stores.base import Page, RunStore

__all__ = ["SqlStore", "connect"]


# Bound parameters per statement when reading a page's runs: far below every database's limit.
_CHUNK = 1000
_SQLITE_MMAP_BYTES = 1 << 30
_DATASET_FIELDS = ("name", "digest", "source_type", "source", "schema", "profile")


def connect(
    url: str | os.PathLike[str], *, profile: str | Profile | None = None, schema: Schema = MLFLOW_SCHEMA
) -> SqlStore:
    """A read-only store over the MLflow tracking database at ``url`` (a SQLAlchemy URL such as
    ``sqlite:///mlflow.db`` or ``postgresql://user:password@host/db``, or a SQLite file's path).

    ``profile`` is the default profile of its searches (``mlflow`` when None); ``schema`` maps
    MLflow's tables and columns to a database that names them otherwise. Raises ``StoreError`` when
    the database is unreachable or lacks a table of MLflow's schema.
    """
    return SqlStore(url, profile=profile, schema=schema)


class SqlStore(RunStore[CompiledQuery, sa.Connection]):
    """The read calls of a :class:`~runql.stores.base.RunStore`, each answered by a few SQL statements
    in one read-only transaction (see :func:`connect`; ``schema`` None is MLflow's)."""

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        profile: str | Profile | None = None,
        schema: Schema | None = None,
    ) -> None:
        target, self.where = connect_url(url)
        self._url = target  # may hold a password: only ever shown through redact()
        self.profile: str | Profile = "mlflow" if profile is None else profile
        try:
            self.engine = sa.create_engine(target)
        except ImportError as error:  # the database's driver (psycopg2, pymysql, ...) is not installed
            raise MissingDependencyError(f"reading {self.where} needs its database driver: {error}") from None
        except sa.exc.ArgumentError as error:
            raise StoreError(
                redact(f"not a database URL: {error}", target), where=self.where, code="not-a-store"
            ) from None
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        self.tables: Tables = (schema or MLFLOW_SCHEMA).build()
        self._check_schema()

    def __repr__(self) -> str:
        return f"SqlStore({self.where!r})"

    def close(self) -> None:
        self.engine.dispose()

    # -- connections

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        """One read-only transaction: every statement of a call sees the same state of the database."""
        options: dict[str, Any] = {}
        if self.dialect == "postgresql":
            options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        try:
            with self.engine.connect().execution_options(**options) as connection, connection.begin():
                yield connection
        except sa.exc.OperationalError as error:
            raise StoreError(
                redact(_one_line(error), self._url), where=self.where, code="unreachable-store"
            ) from None
        except sa.exc.ProgrammingError as error:
            raise StoreError(
                redact(_one_line(error), self._url), where=self.where, code="missing-table"
            ) from None

    def _check_schema(self) -> None:
        """Every table and column of the schema is there: one statement that reads none of their rows
        (each table's columns selected with LIMIT 0); only when it fails, the catalog is read to name
        what is missing. Reading the catalog first would cost a statement per table on every connect."""
        probe = sa.union_all(
            *(
                sa.select(sa.literal(1)).select_from(sa.select(*table.c).limit(0).subquery())
                for table in self.tables.tables.values()
            )
        )
        try:
            with self._reading() as connection:
                connection.execute(probe).all()
        except StoreError:
            self._name_what_is_missing()
            raise

    def _name_what_is_missing(self) -> None:
        with self._reading() as connection:
            inspector = sa.inspect(connection)
            present = set(inspector.get_table_names())
            for table in self.tables.tables.values():
                if table.name not in present:
                    raise StoreError(
                        f"the database lacks table {table.name!r} of MLflow's schema; it may be partial, "
                        "from an MLflow too old to read, or not an MLflow tracking database",
                        where=self.where,
                        code="missing-table",
                    )
                columns = {c["name"] for c in inspector.get_columns(table.name)}
                missing = [c.name for c in table.c if c.name not in columns]
                if missing:
                    raise StoreError(
                        f"table {table.name!r} lacks column{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(missing)} of MLflow's schema",
                        where=self.where,
                        code="missing-table",
                    )

    # -- experiments

    def _experiments(self, connection: sa.Connection) -> list[Experiment]:
        experiments, tags_table = self.tables["experiments"], self.tables["experiment_tags"]
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for key, value, experiment_id in connection.execute(
            sa.select(tags_table.c.key, tags_table.c.value, tags_table.c.experiment_id)
        ).all():
            tags[str(experiment_id)][key] = value
        rows = connection.execute(
            sa.select(
                experiments.c.experiment_id,
                experiments.c.name,
                experiments.c.artifact_location,
                experiments.c.lifecycle_stage,
                experiments.c.creation_time,
                experiments.c.last_update_time,
            ).order_by(experiments.c.experiment_id)
        )
        return [
            Experiment(
                experiment_id=str(row[0]),
                name=row[1],
                artifact_location=row[2],
                lifecycle_stage=row[3] or LifecycleStage.ACTIVE,
                tags=tags.get(str(row[0]), {}),
                creation_time=row[4],
                last_update_time=row[5],
            )
            for row in rows
        ]

    @property
    def experiments(self) -> list[Experiment]:
        with self._reading() as connection:
            return self._experiments(connection)

    def _experiments_in(self, reading: sa.Connection) -> list[Experiment]:
        return self._experiments(reading)

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        with self._reading() as connection:
            for experiment in self._experiments(connection):
                if experiment.experiment_id == str(experiment_id):
                    return experiment
        raise NotFoundError(f"No Experiment with id={experiment_id} exists")

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._reading() as connection:
            for experiment in self._experiments(connection):
                if experiment.name == name:
                    return experiment
        return None

    # -- runs

    def _search_ids(
        self,
        connection: sa.Connection,
        compiled: CompiledQuery,
        experiment_ids: Sequence[str],
        view: ViewType,
        limit: int | None,
        offset: int,
    ) -> list[str]:
        # MLflow's ids are integers in the database; an id that is not one names no experiment.
        numeric = [int(i) for i in experiment_ids if i.lstrip("-").isdigit()]
        statement = runs_select(
            compiled,
            self.tables,
            self.dialect,
            experiment_ids=numeric,
            lifecycle_stages=sorted(view.stages),
            limit=limit,
            offset=offset,
            distinct_values=lambda values: connection.execute(values).scalars().all(),
        )
        return [row[0] for row in connection.execute(statement).all()]

    def _prepare(
        self, filter_string: str | None, order_by: OrderBy, profile: str | Profile | None
    ) -> CompiledQuery:
        return self._compile(filter_string, profile, "runs", order_by)

    def _compiled(self, query: CompiledQuery) -> CompiledQuery:
        return query

    def _page(
        self,
        reading: sa.Connection,
        query: CompiledQuery,
        experiment_ids: list[str],
        view: ViewType,
        page_token: str | bytes | None,
        size: int | None,
        paged: bool,
    ) -> Page:
        offset = parse_page_token(page_token)
        # One run more than the page tells whether another page follows.
        fetch = size + 1 if paged and size is not None else size
        run_ids = self._search_ids(reading, query, experiment_ids, view, fetch, offset)
        token = next_page_token(offset, size, offset + len(run_ids)) if paged else None
        return Page(self._read_runs(reading, run_ids[:size]), token)

    def get_run(self, run_id: str) -> Run:
        with self._reading() as connection:
            found = self._read_runs(connection, [run_id])
        if not found:
            raise NotFoundError(f"Run '{run_id}' not found")
        return found[0]

    def key_sets(self, experiment_ids: Iterable[str], lifecycle_stages: Iterable[str]) -> KeySets:
        # Three SELECT DISTINCT statements, one per kind of key.
        runs = self.tables["runs"]
        numeric = [int(i) for i in experiment_ids if i.lstrip("-").isdigit()]
        found: dict[str, frozenset[str]] = {}
        with self._reading() as connection:
            for name, table in (("metrics", "latest_metrics"), ("params", "params"), ("tags", "tags")):
                keyed = self.tables[table]
                statement = (
                    sa.select(keyed.c.key)
                    .distinct()
                    .select_from(keyed.join(runs, keyed.c.run_uuid == runs.c.run_uuid))
                    .where(
                        runs.c.experiment_id.in_(numeric), runs.c.lifecycle_stage.in_(list(lifecycle_stages))
                    )
                )
                found[name] = frozenset(connection.execute(statement).scalars())
        return KeySets(**found)

    def run_ids_starting(self, prefix: str, limit: int = 6) -> list[str]:
        if not prefix:
            return []
        runs = self.tables["runs"]
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = (
            sa.select(runs.c.run_uuid).where(runs.c.run_uuid.like(escaped + "%", escape="\\")).limit(limit)
        )
        with self._reading() as connection:
            # LIKE ignores case on SQLite: the exact prefix is checked here.
            return [i for i in connection.execute(statement).scalars() if i.startswith(prefix)]

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        metrics = self.tables["metrics"]
        with self._reading() as connection:
            if not self._read_runs(connection, [run_id], data=False):
                raise NotFoundError(f"Run '{run_id}' not found")
            rows = connection.execute(
                sa.select(metrics.c.value, metrics.c.timestamp, metrics.c.step, metrics.c.is_nan)
                # `key || ''` keeps SQLite, which has no statistics on MLflow's tables, from walking the
                # primary key's entries for that key across every run instead of this run's index.
                .where(metrics.c.run_uuid == run_id, metrics.c.key.concat("") == key)
                .order_by(metrics.c.timestamp, metrics.c.step, metrics.c.value)
            )
            return [
                Metric(key, math.nan if is_nan else float(value), timestamp, step or 0)
                for value, timestamp, step, is_nan in rows
            ]

    # -- reading the runs of a page

    def _read_runs(self, connection: sa.Connection, run_ids: Sequence[str], data: bool = True) -> list[Run]:
        """The runs ``run_ids`` names, in that order, with their params, tags, latest metrics and
        dataset inputs; ids the database lacks are left out."""
        runs: dict[str, Run] = {}
        table = self.tables["runs"]
        for chunk in _chunks(run_ids):
            for row in connection.execute(
                sa.select(
                    table.c.run_uuid,
                    table.c.experiment_id,
                    table.c.user_id,
                    table.c.status,
                    table.c.start_time,
                    table.c.end_time,
                    table.c.lifecycle_stage,
                    table.c.artifact_uri,
                    table.c.name,
                ).where(table.c.run_uuid.in_(chunk))
            ).all():
                info = RunInfo(
                    run_id=row[0],
                    experiment_id=str(row[1]),
                    user_id=row[2],
                    status=row[3],
                    start_time=row[4],
                    end_time=row[5],
                    lifecycle_stage=row[6] or LifecycleStage.ACTIVE,
                    artifact_uri=row[7],
                    run_name=row[8],
                )
                runs[row[0]] = Run(info, RunData(), RunInputs())
        if data and runs:
            self._read_data(connection, runs)
        return [runs[run_id] for run_id in run_ids if run_id in runs]

    def _read_data(self, connection: sa.Connection, runs: dict[str, Run]) -> None:
        latest = self.tables["latest_metrics"]
        inputs, datasets, input_tags = (
            self.tables["inputs"],
            self.tables["datasets"],
            self.tables["input_tags"],
        )
        found_inputs: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for chunk in _chunks(list(runs)):
            for key, value, is_nan, run_id in connection.execute(
                sa.select(latest.c.key, latest.c.value, latest.c.is_nan, latest.c.run_uuid).where(
                    latest.c.run_uuid.in_(chunk)
                )
            ).all():
                runs[run_id].data.metrics[key] = math.nan if is_nan else float(value)
            for part in ("params", "tags"):
                table = self.tables[part]
                for key, value, run_id in connection.execute(
                    sa.select(table.c.key, table.c.value, table.c.run_uuid).where(table.c.run_uuid.in_(chunk))
                ).all():
                    getattr(runs[run_id].data, part)[key] = value
            for run_id, input_id, *dataset in connection.execute(
                sa.select(
                    inputs.c.destination_id,
                    inputs.c.input_uuid,
                    datasets.c.name,
                    datasets.c.digest,
                    datasets.c.dataset_source_type,
                    datasets.c.dataset_source,
                    datasets.c.dataset_schema,
                    datasets.c.dataset_profile,
                )
                .join(datasets, datasets.c.dataset_uuid == inputs.c.source_id)
                .where(
                    inputs.c.source_type == "DATASET",
                    inputs.c.destination_type == "RUN",
                    inputs.c.destination_id.in_(chunk),
                )
            ).all():
                fields = dict(zip(_DATASET_FIELDS, dataset, strict=True))
                found_inputs[run_id].append((input_id, fields))
        if not found_inputs:
            return
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        input_ids = [input_id for found in found_inputs.values() for input_id, _ in found]
        for chunk in _chunks(input_ids):
            for input_id, name, value in connection.execute(
                sa.select(input_tags.c.input_uuid, input_tags.c.name, input_tags.c.value).where(
                    input_tags.c.input_uuid.in_(chunk)
                )
            ).all():
                tags[input_id][name] = value
        for run_id, found in found_inputs.items():
            runs[run_id].inputs.dataset_inputs = dataset_inputs(
                [{"dataset": fields, "tags": tags.get(input_id, {})} for input_id, fields in found]
            )


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    register_sqlite_functions(dbapi_connection)
    # Reading pages through a memory map skips a copy per page: the searches read many rows at random.
    dbapi_connection.execute(f"PRAGMA mmap_size = {_SQLITE_MMAP_BYTES}")
    # Let SQLAlchemy's "begin" event open the transaction: pysqlite would not for a SELECT.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def _one_line(error: sa.exc.DBAPIError) -> str:
    """The driver's message without SQLAlchemy's statement and parameters (which may be long)."""
    return str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error).splitlines()[0]
