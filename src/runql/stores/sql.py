"""A read-only store over an MLflow tracking database that answers each search in SQL.

``runql.connect("sqlite:///mlflow.db")`` (or a PostgreSQL URL) gives a :class:`~runql.stores.base.RunStore`:
the Workspace's read methods, signatures and answers. A run search is one statement that selects the
ids of one page (:mod:`runql.engines.sql`), then set-based statements that read the runs of that page
only: their rows, params, tags, latest metrics and dataset inputs, fetched from the driver's cursor. A key
the page lacks is looked up by index seeks on that key alone, for the absent-key warning (the keys of a kind
are listed only when one is absent, to name the close ones). Experiments are few: they are read
whole and searched in memory. A SQLite file is opened read-only; every search runs in one read-only
transaction, so a store that MLflow writes at the same time gives a consistent answer. Each call takes
a connection from the store's pool for its transaction, so threads may share a store: the pool's size
bounds how many calls read at once, and a call that waits longer than ``pool_timeout`` for a connection
is refused (``store-busy``). Every value read into a run is checked (:mod:`runql.sources.rows`): a row of
the wrong type is ``corrupt-store``, naming the table and the row. Needs SQLAlchemy
(``runql[mlflow-db]``): importing this module without it raises :class:`~runql.MissingDependencyError`.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from runql.common.optional import require

if TYPE_CHECKING:
    from typing import TypeAlias

    import sqlalchemy as sa
    from typing_extensions import Unpack

    # A statement of any columns.
    _Select: TypeAlias = sa.Select[Unpack[tuple[Any, ...]]]
else:
    # Before the imports that need SQLAlchemy: without it, this names the extra to install.
    sa = require("sqlalchemy", "mlflow-db", "searching an MLflow tracking database in SQL")

from runql.common.redact import redact
from runql.engines.logged_models import LoggedModelSearch
from runql.engines.sql import (
    MLFLOW_SCHEMA,
    Schema,
    Tables,
    refused_pattern,
    register_sqlite_functions,
    runs_select,
    storable,
)
from runql.engines.sql_logged_models import logged_models_select
from runql.engines.sql_registry import REGISTRY_TABLES, registry_select
from runql.errors import ArgumentError, NotFoundError, StoreError
from runql.language.ast import Entity, Key
from runql.model.arguments import experiment_number
from runql.model.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    ViewType,
)
from runql.model.keys import KeySets
from runql.model.logged_models import LoggedModel
from runql.model.paging import next_page_token, parse_page_token
from runql.model.registry import PagedList, Registry
from runql.profiles.catalog import Profile
from runql.profiles.compiled import CompiledQuery, OrderBy
from runql.sources import rows
from runql.sources.base import dataset_inputs
from runql.sources.mlflow_db import connect_url, missing_driver
from runql.sources.mlflow_logged_models import TABLES as LOGGED_READ
from runql.sources.mlflow_logged_models import read_logged_models
from runql.sources.mlflow_registry import TABLES as REGISTRY_READ
from runql.sources.mlflow_registry import read_registry
from runql.stores.base import Page, RunStore

__all__ = ["MAX_OVERFLOW", "POOL_SIZE", "POOL_TIMEOUT", "SqlStore", "connect"]

# The connection pool's defaults, SQLAlchemy's own: 5 connections kept open, 10 more opened when all 5
# are busy (and closed when returned), and 30 seconds that a call waits for one when all 15 are busy.
POOL_SIZE = 5
MAX_OVERFLOW = 10
POOL_TIMEOUT = 30.0

# Bound parameters per statement when reading a page's runs: far below every database's limit.
_CHUNK = 1000
# The kinds of key (as KeySets names them) and the tables that hold each.
_KEY_TABLES = {"metrics": "latest_metrics", "params": "params", "tags": "tags"}
_KIND_OF = {Entity.METRIC: "metrics", Entity.PARAM: "params", Entity.TAG: "tags"}
_SQLITE_MMAP_BYTES = 1 << 30
# The databases whose schema this process has checked (SqlStore._verified_key): a store opened again on
# one skips the check, a statement and a round trip. Forgotten whole past this many, a bound no real
# process reaches.
_VERIFIED: set[tuple[object, ...]] = set()
_VERIFIED_MOST = 1024


def connect(
    url: str | os.PathLike[str],
    *,
    profile: str | Profile | None = None,
    schema: Schema = MLFLOW_SCHEMA,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    pool_timeout: float | None = None,
) -> SqlStore:
    """A read-only store over the MLflow tracking database at ``url`` (a SQLAlchemy URL such as
    ``sqlite:///mlflow.db`` or ``postgresql://user:password@host/db``, or a SQLite file's path).

    ``profile`` is the default profile of its searches (``mlflow`` when None); ``schema`` maps
    MLflow's tables and columns to a database that names them otherwise. ``pool_size``,
    ``max_overflow`` and ``pool_timeout`` size the pool of connections that threads sharing the store
    draw from (None: :data:`POOL_SIZE`, :data:`MAX_OVERFLOW`, :data:`POOL_TIMEOUT` seconds). Raises
    ``StoreError`` when the database is unreachable, damaged or lacks a table of MLflow's schema,
    ``ArgumentError`` (``bad-pool-size``) for a pool that cannot be, and ``MissingDependencyError``
    when the database's driver is not installed.
    """
    return SqlStore(
        url,
        profile=profile,
        schema=schema,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
    )


class SqlStore(RunStore[CompiledQuery, sa.Connection]):
    """The read calls of a :class:`~runql.stores.base.RunStore`, each answered by a few SQL statements
    in one read-only transaction (see :func:`connect`; ``schema`` None is MLflow's)."""

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        profile: str | Profile | None = None,
        schema: Schema | None = None,
        pool_size: int | None = None,
        max_overflow: int | None = None,
        pool_timeout: float | None = None,
    ) -> None:
        self.pool_size = _count(pool_size, POOL_SIZE, "pool_size", least=1)
        self.max_overflow = _count(max_overflow, MAX_OVERFLOW, "max_overflow", least=0)
        self.pool_timeout = _seconds(pool_timeout, POOL_TIMEOUT, "pool_timeout")
        target, self.where = connect_url(url)
        self._url = target  # may hold a password: only ever shown through redact()
        self.profile: str | Profile = "mlflow" if profile is None else profile
        try:
            parsed = sa.make_url(target)
            if parsed.get_backend_name() == "sqlite" and _unchanging(Path(self.where)):
                parsed = parsed.update_query_dict({"immutable": "1"})
            self.engine = sa.create_engine(
                parsed,
                poolclass=sa.pool.QueuePool,
                pool_size=self.pool_size,
                max_overflow=self.max_overflow,
                pool_timeout=self.pool_timeout,
            )
        except ImportError as error:  # the database's driver (psycopg, pymysql, ...) is not installed
            raise missing_driver(self.where, error) from None
        except sa.exc.ArgumentError as error:
            raise StoreError(
                redact(f"not a database URL: {error}", target), where=self.where, code="not-a-store"
            ) from None
        self.dialect = self.engine.dialect.name
        # The model tables as reflected, by the names asked for: read once, when all of them exist.
        self._reflections: dict[tuple[str, ...], rows.Reflected] = {}
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        mapping = schema or MLFLOW_SCHEMA
        self.tables: Tables = mapping.build()
        verified = self._verified_key(parsed, mapping)
        if verified not in _VERIFIED:
            self._check_schema()
            if len(_VERIFIED) >= _VERIFIED_MOST:
                _VERIFIED.clear()
            _VERIFIED.add(verified)

    def __repr__(self) -> str:
        return f"SqlStore({self.where!r})"

    def _verified_key(self, url: sa.URL, schema: Schema) -> tuple[object, ...]:
        """What a verified schema is remembered by: the URL without its credentials (another user of the
        same database sees the same tables), the schema's mapping, and for a SQLite file its identity
        and last change, so a file replaced or altered since is checked again."""
        address = url.set(username=None, password=None).render_as_string(hide_password=False)
        mapping = (tuple(sorted(schema.tables.items())), tuple(sorted(schema.columns.items())))
        if self.dialect != "sqlite":
            return (address, mapping)
        try:
            found = os.stat(self.where)
        except OSError:  # then the check says what is wrong
            return (address, mapping, None)
        return (address, mapping, found.st_dev, found.st_ino, found.st_mtime_ns, found.st_size)

    def close(self) -> None:
        self.engine.dispose()

    # -- connections

    def _registry(self) -> Registry:
        with self._reading() as connection:
            return read_registry(sa, connection, self.where, None, self._reflected(connection, REGISTRY_READ))

    def _reflected(self, connection: sa.Connection, names: Sequence[str]) -> rows.Reflected:
        """The tables of ``names`` the database holds, reflected once for the store's life (a database
        that lacks some is asked again, as MLflow may yet create them)."""
        key = tuple(names)
        held = self._reflections.get(key)
        if held is None:
            held = rows.reflect(sa, connection, names)
            if len(held) == len(names):
                self._reflections[key] = held
        return held

    def _model_page(
        self, compiled: CompiledQuery, size: int, page_token: str | bytes | None, prompts: bool
    ) -> PagedList:
        found = self._registry_keys(compiled, size, page_token, prompts)
        if found is None:
            return PagedList([], None)
        keys, token = found
        with self._reading() as connection:
            tables = self._reflected(connection, REGISTRY_READ)
            models = read_registry(sa, connection, self.where, [k[0] for k in keys], tables).models
        read = {m.name: m for m in models}
        return PagedList([read[name] for (name,) in keys], token)

    def _version_page(self, compiled: CompiledQuery, size: int, page_token: str | bytes | None) -> PagedList:
        found = self._registry_keys(compiled, size, page_token, prompts=False)
        if found is None:
            return PagedList([], None)
        keys, token = found
        with self._reading() as connection:
            tables = self._reflected(connection, REGISTRY_READ)
            versions = read_registry(sa, connection, self.where, [k[0] for k in keys], tables).versions
        read = {(v.name, v.version): v for v in versions}
        return PagedList([read[(name, str(version))] for name, version in keys], token)

    def _registry_keys(
        self, compiled: CompiledQuery, size: int, page_token: str | bytes | None, prompts: bool
    ) -> tuple[list[tuple[Any, ...]], str | None] | None:
        """The keys (name; name and version) of one page of a registry search, found in the database,
        and the next page's token; None for a database without a registry."""
        offset = parse_page_token(page_token)
        with self._reading() as connection:
            tables = self._reflected(connection, REGISTRY_READ)
            if not set(tables).issuperset(REGISTRY_TABLES):
                return None
            statement = registry_select(
                compiled,
                tables,
                self.dialect,
                prompts=prompts,
                limit=size + 1,
                offset=offset,
                distinct_values=lambda values: connection.execute(values).scalars().all(),
            )
            keys = self._fetch(connection, statement)
        return keys[:size], next_page_token(offset, size, offset + len(keys))

    def _logged_models(self, experiment_ids: Sequence[str]) -> list[LoggedModel]:
        wanted = set(experiment_ids)
        with self._reading() as connection:
            tables = self._reflected(connection, LOGGED_READ)
            found = read_logged_models(sa, connection, self.where, None, tables)
        return [m for m in found if m.experiment_id in wanted]

    def _logged_page(self, search: LoggedModelSearch) -> PagedList:
        # One statement finds the page's model ids in the database; only those models are read.
        with self._reading() as connection:
            tables = self._reflected(connection, LOGGED_READ)
            if "logged_models" not in tables:
                return PagedList([], None)
            statement = logged_models_select(
                search.query,
                self.dialect,
                experiment_ids=_experiment_numbers(search.experiment_ids),
                datasets=search.datasets,
                entries=search.entries,
                limit=search.size + 1,
                offset=search.offset,
                distinct_values=lambda values: connection.execute(values).scalars().all(),
            )
            found = [row[0] for row in self._fetch(connection, statement)]
            page = read_logged_models(sa, connection, self.where, found[: search.size], tables)
        read = {m.model_id: m for m in page}
        return PagedList(
            [read[i] for i in found[: search.size]], search.next_token(search.offset + len(found))
        )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        with self._reading() as connection:
            tables = self._reflected(connection, LOGGED_READ)
            found = read_logged_models(sa, connection, self.where, [model_id], tables)
        if not found or found[0].lifecycle_stage == "deleted":
            raise NotFoundError(f"Logged model with ID '{model_id}' not found.")
        return found[0]

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        """One read-only transaction: every statement of a call sees the same state of the database."""
        options: dict[str, Any] = {}
        if self.dialect == "postgresql":
            options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        try:
            with self.engine.connect().execution_options(**options) as connection, connection.begin():
                yield connection
        except sa.exc.TimeoutError:  # every connection of the pool stayed busy for pool_timeout
            raise StoreError(
                f"no connection of the store's pool (at most {self.pool_size + self.max_overflow}) was free "
                f"within {self.pool_timeout:g} s: more calls read at once than the pool holds; pass "
                "runql.connect a larger pool_size (or max_overflow), or a longer pool_timeout",
                where=self.where,
                code="store-busy",
            ) from None
        except (sa.exc.DBAPIError, UnicodeDecodeError) as error:
            raise (refused_pattern(error) or self._failure(error)) from None

    def _failure(self, error: sa.exc.DBAPIError | UnicodeDecodeError) -> StoreError:
        """What a failed statement says about the database."""
        found = error.orig if isinstance(error, sa.exc.DBAPIError) and error.orig is not None else error
        detail = redact(_one_line(found), self._url)
        if _undecodable(error):
            return StoreError(f"text that is not UTF-8: {detail}", where=self.where, code="corrupt-store")
        if self.dialect == "sqlite":
            if detail == "user-defined function raised exception":
                # runql's LIKE and RLIKE functions fail only on a value that is not text: SQLite hands
                # them bytes as they are, and text that is not UTF-8 cannot become a Python string.
                return StoreError(
                    "LIKE or RLIKE read a value that is not text (bytes, or text that is not UTF-8)",
                    where=self.where,
                    code="corrupt-store",
                )
            # Python's sqlite3 raises its bare DatabaseError for SQLITE_NOTADB and SQLITE_CORRUPT only.
            if type(found) is self.engine.dialect.loaded_dbapi.DatabaseError:
                message = f"not a SQLite database, or a damaged one: {detail}"
                return StoreError(message, where=self.where, code="corrupt-store")
        if isinstance(error, sa.exc.ProgrammingError):
            return StoreError(detail, where=self.where, code="missing-table")
        return StoreError(detail, where=self.where, code="unreachable-store")

    def _fetch(self, connection: sa.Connection, statement: sa.Executable) -> list[tuple[Any, ...]]:
        """The rows of ``statement`` as the driver's own tuples, fetched from its cursor: a Row object
        per row cost as much as the driver's fetch. No column of the schema needs SQLAlchemy's result
        processing (every value is checked by :mod:`runql.sources.rows` instead). An error of the
        driver while fetching is raised as SQLAlchemy raises one while executing."""
        result = connection.execute(statement)
        try:
            return cast("list[tuple[Any, ...]]", result.cursor.fetchall())
        except self.engine.dialect.loaded_dbapi.Error as error:
            raise sa.exc.DBAPIError.instance(
                None, None, error, self.engine.dialect.loaded_dbapi.Error, dialect=self.engine.dialect
            ) from error
        finally:
            result.close()

    def _rows(
        self, connection: sa.Connection, statement: _Select, row_id: sa.Column[Any], noun: str = "run"
    ) -> Sequence[tuple[Any, ...]]:
        """The rows of ``statement``. SQLite keeps any bytes in a text column, and its driver refuses text
        that is not UTF-8 as it reads it: the statement is then read again with its columns as bytes, to
        name the table, the column and the row (by ``row_id``, the column holding what the row belongs to:
        a ``noun``) that hold it."""
        try:
            return self._fetch(connection, statement)
        except sa.exc.OperationalError as error:
            if self.dialect != "sqlite" or not _undecodable(error):
                raise
            selected = list(statement.selected_columns)
            raw = statement.with_only_columns(*(sa.cast(c, sa.LargeBinary) for c in (row_id, *selected)))
            found = rows.undecodable(connection.execute(raw).all())
            if found is None:
                raise
            shown_id, index, problem = found
            column = _table_column(selected[index])
            raise StoreError(
                f"{column.name} holds text that is not UTF-8 ({problem})",
                where=rows.row_place(self.where, column.table.description, shown_id, noun),
                code="corrupt-store",
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
        statement = sa.select(tags_table.c.experiment_id, tags_table.c.key, tags_table.c.value)
        tag_rows = self._rows(connection, statement, tags_table.c.experiment_id, "experiment")
        for experiment_id, key, value in tag_rows:
            try:
                held = tags[rows.experiment_id(experiment_id)]
                text = rows.optional_text(value, "value")
                if text is not None:  # a NULL value, which MLflow's schema allows, is no tag
                    held[rows.text(key, "key")] = text
            except ValueError as error:
                raise rows.bad_row(self.where, tags_table.name, experiment_id, error, "experiment") from None
        statement = sa.select(
            experiments.c.experiment_id,
            experiments.c.name,
            experiments.c.artifact_location,
            experiments.c.lifecycle_stage,
            experiments.c.creation_time,
            experiments.c.last_update_time,
        ).order_by(experiments.c.experiment_id)
        found = []
        for row in self._rows(connection, statement, experiments.c.experiment_id, "experiment"):
            try:
                found.append(_experiment(tags, *row))
            except ValueError as error:
                raise rows.bad_row(self.where, experiments.name, row[0], error, "experiment") from None
        return found

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
        statement = runs_select(
            compiled,
            self.tables,
            self.dialect,
            experiment_ids=_experiment_numbers(experiment_ids),
            lifecycle_stages=sorted(view.stages),
            limit=limit,
            offset=offset,
            distinct_values=lambda values: connection.execute(values).scalars().all(),
        )
        return [row[0] for row in self._fetch(connection, statement)]

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
        numeric, stages = _experiment_numbers(experiment_ids), list(lifecycle_stages)
        with self._reading() as connection:
            found = {kind: self._keys_of(connection, kind, numeric, stages) for kind in _KEY_TABLES}
        return KeySets(**found)

    def _present_keys(
        self, experiment_ids: Iterable[str], lifecycle_stages: Iterable[str], named: Sequence[Key]
    ) -> KeySets:
        """One statement of index seeks, one per key ``named``: whether some searched run has it. Only a
        kind with a key absent has its every key listed, for the close keys its warning names."""
        numeric, stages = _experiment_numbers(experiment_ids), list(lifecycle_stages)
        named_keys = list(dict.fromkeys((_KIND_OF[key.entity], key.name) for key in named))
        # A key no database can hold is absent without asking (and could not be sent).
        wanted = [(kind, name) for kind, name in named_keys if storable(name, self.dialect)]
        absent = {kind for kind, name in named_keys if (kind, name) not in wanted}
        found: dict[str, frozenset[str]] = {kind: frozenset() for kind in _KEY_TABLES}
        if not named_keys:
            return KeySets(**found)
        with self._reading() as connection:
            if wanted:
                probes = [
                    self._has_key(kind, name, numeric, stages).label(f"k{i}")
                    for i, (kind, name) in enumerate(wanted)
                ]
                has = connection.execute(sa.select(*probes)).one()
                absent |= {kind for (kind, _), there in zip(wanted, has, strict=True) if not there}
            for kind in _KEY_TABLES:
                if kind in absent:
                    found[kind] = self._keys_of(connection, kind, numeric, stages)
                else:
                    found[kind] = frozenset(name for of, name in wanted if of == kind)
        return KeySets(**found)

    def _has_key(
        self, kind: str, name: str | sa.ColumnElement[Any], numeric: list[int], stages: list[str]
    ) -> sa.ColumnElement[bool]:
        """Whether some run of the experiments ``numeric`` in ``stages`` has the ``kind`` key ``name``: a
        seek on the key table's primary key, which leads with ``key``, then the runs' primary key for
        each entry until one is in the searched experiments. A scalar subquery with LIMIT 1 rather than
        EXISTS: PostgreSQL turns an EXISTS correlated with the walk of :meth:`_keys_of` into a hash
        join over the whole table, and evaluates this one per key."""
        runs, keyed = self.tables["runs"], self.tables[_KEY_TABLES[kind]]
        first = (
            sa.select(sa.literal(1))
            .where(
                keyed.c.key == name,
                runs.c.run_uuid == keyed.c.run_uuid,
                runs.c.experiment_id.in_(numeric),
                runs.c.lifecycle_stage.in_(stages),
            )
            .limit(1)
        )
        return first.scalar_subquery().is_not(None)

    def _keys_of(
        self, connection: sa.Connection, kind: str, numeric: list[int], stages: list[str]
    ) -> frozenset[str]:
        """Every ``kind`` key of the runs of the experiments ``numeric`` in ``stages``.

        A loose index scan: the key table's primary key leads with ``key``, so each next distinct key is
        one seek past the last (a recursive CTE), and each is kept when :meth:`_has_key` finds a searched
        run with it. That reads one index entry per distinct key, where ``SELECT DISTINCT`` joined to the
        runs read every row of the table."""
        keyed = self.tables[_KEY_TABLES[kind]]
        walk = sa.select(sa.func.min(keyed.c.key).label("key")).cte("walk", recursive=True)
        following = sa.select(sa.func.min(keyed.c.key)).where(keyed.c.key > walk.c.key).scalar_subquery()
        walk = walk.union_all(sa.select(following).where(walk.c.key.is_not(None)))
        statement = sa.select(walk.c.key).where(
            walk.c.key.is_not(None), self._has_key(kind, walk.c.key, numeric, stages)
        )
        try:
            return frozenset(rows.text(key, "key") for (key,) in connection.execute(statement))
        except ValueError as error:
            raise StoreError(str(error), where=f"{self.where}, table {keyed.name}") from None

    def run_ids_starting(self, prefix: str, limit: int = 6) -> list[str]:
        if not prefix:
            return []
        runs = self.tables["runs"]
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = (
            sa.select(runs.c.run_uuid).where(runs.c.run_uuid.like(escaped + "%", escape="\\")).limit(limit)
        )
        with self._reading() as connection:
            found = self._rows(connection, statement, runs.c.run_uuid)
        # LIKE ignores case on SQLite: the exact prefix is checked here.
        return [row[0] for row in found if row[0].startswith(prefix)]

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        metrics = self.tables["metrics"]
        with self._reading() as connection:
            if not self._read_runs(connection, [run_id], data=False):
                raise NotFoundError(f"Run '{run_id}' not found")
            statement = (
                sa.select(metrics.c.value, metrics.c.timestamp, metrics.c.step, _as_stored(metrics.c.is_nan))
                # `key || ''` keeps SQLite, which has no statistics on MLflow's tables, from walking the
                # primary key's entries for that key across every run instead of this run's index.
                .where(metrics.c.run_uuid == run_id, metrics.c.key.concat("") == key)
                .order_by(metrics.c.timestamp, metrics.c.step, metrics.c.value)
            )
            points = self._rows(connection, statement, metrics.c.run_uuid)
        history = []
        for value, timestamp, step, is_nan in points:
            # One test for the rows MLflow writes; any other row is checked field by field.
            if type(value) is float and type(timestamp) is int and type(step) is int and is_nan == 0:
                history.append(Metric(key, value, timestamp, step))
                continue
            try:
                history.append(rows.metric_point(key, value, timestamp, step, is_nan))
            except ValueError as error:
                raise rows.bad_row(self.where, metrics.name, run_id, error) from None
        return history

    # -- reading the runs of a page

    def _read_runs(self, connection: sa.Connection, run_ids: Sequence[str], data: bool = True) -> list[Run]:
        """The runs ``run_ids`` names, in that order, with their params, tags, latest metrics and
        dataset inputs; ids the database lacks are left out."""
        runs: dict[str, Run] = {}
        table = self.tables["runs"]
        for chunk in _chunks(run_ids):
            statement = sa.select(
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
            for row in self._rows(connection, statement, table.c.run_uuid):
                try:
                    info = _run_info(*row)
                except ValueError as error:
                    raise rows.bad_row(self.where, table.name, row[0], error) from None
                runs[info.run_id] = Run(info, RunData(), RunInputs())
        if data and runs:
            self._read_data(connection, runs)
        return [runs[run_id] for run_id in run_ids if run_id in runs]

    def _read_data(self, connection: sa.Connection, runs: dict[str, Run]) -> None:
        """The params, tags, latest metrics and dataset inputs of ``runs``, into them. A row of the wrong
        type is a StoreError naming its table and run, as the reader of the whole database's is."""
        latest = self.tables["latest_metrics"]
        inputs, datasets, input_tags = (
            self.tables["inputs"],
            self.tables["datasets"],
            self.tables["input_tags"],
        )
        found_inputs: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        # Each run's dicts, looked up once per row rather than through the run's attributes.
        held: dict[str, dict[str, dict[str, Any]]] = {
            "metrics": {run_id: run.data.metrics for run_id, run in runs.items()},
            "params": {run_id: run.data.params for run_id, run in runs.items()},
            "tags": {run_id: run.data.tags for run_id, run in runs.items()},
        }
        for chunk in _chunks(list(runs)):
            statement = sa.select(
                latest.c.run_uuid, latest.c.key, latest.c.value, _as_stored(latest.c.is_nan)
            ).where(latest.c.run_uuid.in_(chunk))
            for run_id, key, value, is_nan in self._rows(connection, statement, latest.c.run_uuid):
                # One test for the rows MLflow writes; any other row is checked field by field.
                if type(key) is not str or type(value) is not float or is_nan != 0:
                    try:
                        key = rows.text(key, "key")
                        value = math.nan if rows.flag(is_nan, "is_nan") else rows.number(value, "value")
                    except ValueError as error:
                        raise rows.bad_row(self.where, latest.name, run_id, error) from None
                held["metrics"][run_id][key] = value
            for part in ("params", "tags"):
                into = held[part]
                table = self.tables[part]
                statement = sa.select(table.c.run_uuid, table.c.key, table.c.value).where(
                    table.c.run_uuid.in_(chunk)
                )
                for run_id, key, value in self._rows(connection, statement, table.c.run_uuid):
                    if type(key) is not str or type(value) is not str:
                        try:
                            rows.text(key, "key")
                            # MLflow's schema lets a tag's value be NULL, not a param's: no value is no tag.
                            if part == "tags" and value is None:
                                continue
                            rows.text(value, "value")
                        except ValueError as error:
                            raise rows.bad_row(self.where, table.name, run_id, error) from None
                    into[run_id][key] = value
            statement = (
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
            )
            for run_id, input_id, *dataset in self._rows(connection, statement, inputs.c.destination_id):
                try:
                    found_inputs[run_id].append((rows.text(input_id, "input_uuid"), _dataset(*dataset)))
                except ValueError as error:
                    raise rows.bad_row(self.where, datasets.name, run_id, error) from None
        if not found_inputs:
            return
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        input_ids = [input_id for found in found_inputs.values() for input_id, _ in found]
        for chunk in _chunks(input_ids):
            statement = sa.select(input_tags.c.input_uuid, input_tags.c.name, input_tags.c.value).where(
                input_tags.c.input_uuid.in_(chunk)
            )
            for input_id, name, value in self._rows(connection, statement, input_tags.c.input_uuid, "input"):
                try:
                    tags[input_id][rows.text(name, "name")] = rows.text(value, "value")
                except ValueError as error:
                    raise rows.bad_row(self.where, input_tags.name, input_id, error, "input") from None
        for run_id, found in found_inputs.items():
            runs[run_id].inputs.dataset_inputs = dataset_inputs(
                [{"dataset": fields, "tags": tags.get(input_id, {})} for input_id, fields in found]
            )


def _dataset(
    name: object, digest: object, source_type: object, source: object, schema: object, profile: object
) -> dict[str, str | None]:
    """A row of ``datasets`` as a dataset's fields; ValueError for a value of the wrong type."""
    return {
        "name": rows.text(name, "name"),
        "digest": rows.text(digest, "digest"),
        "source_type": rows.optional_text(source_type, "dataset_source_type"),
        "source": rows.optional_text(source, "dataset_source"),
        "schema": rows.optional_text(schema, "dataset_schema"),
        "profile": rows.optional_text(profile, "dataset_profile"),
    }


def _experiment(
    tags: dict[str, dict[str, str]],
    experiment_id: object,
    name: object,
    artifact_location: object,
    stage: object,
    created: object,
    updated: object,
) -> Experiment:
    """A row of ``experiments`` as an experiment with its ``tags`` (by experiment); ValueError for a value
    of the wrong type."""
    identifier = rows.experiment_id(experiment_id)
    return Experiment(
        experiment_id=identifier,
        name=rows.text(name, "name"),
        artifact_location=rows.optional_text(artifact_location, "artifact_location"),
        lifecycle_stage=rows.one_of(stage, rows.LIFECYCLE_STAGES, LifecycleStage.ACTIVE, "lifecycle_stage"),
        tags=tags.get(identifier, {}),
        creation_time=rows.time_ms(created, "creation_time"),
        last_update_time=rows.time_ms(updated, "last_update_time"),
    )


def _run_info(
    run_id: object,
    experiment_id: object,
    user_id: object,
    status: object,
    start: object,
    end: object,
    stage: object,
    artifact_uri: object,
    name: object,
) -> RunInfo:
    """A row of ``runs`` as a run's info; ValueError for a value of the wrong type."""
    end_time = rows.time_ms(end, "end_time")
    return RunInfo(
        run_id=rows.run_id(run_id),
        experiment_id=rows.experiment_id(experiment_id),
        user_id=rows.optional_text(user_id, "user_id"),
        status=rows.run_status(status, end_time),
        start_time=rows.time_ms(start, "start_time"),
        end_time=end_time,
        lifecycle_stage=rows.one_of(stage, rows.LIFECYCLE_STAGES, LifecycleStage.ACTIVE, "lifecycle_stage"),
        artifact_uri=rows.optional_text(artifact_uri, "artifact_uri"),
        run_name=rows.optional_text(name, "name"),
    )


def _as_stored(flag: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """A boolean column read as the database holds it, for the check: SQLAlchemy's Boolean would make a
    bool of anything SQLite holds in the column (``'yes'`` is True)."""
    return sa.type_coerce(flag, sa.Integer())


def _table_column(selected: Any) -> sa.Column[Any]:
    """The column of a table that a selected expression reads: itself, or the one :func:`_as_stored` wraps."""
    found = selected.clause if isinstance(selected, sa.sql.elements.TypeCoerce) else selected
    return cast("sa.Column[Any]", found)


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


def _one_line(error: BaseException) -> str:
    """The first line of a driver's message, without what SQLAlchemy adds (the statement, its parameters)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _undecodable(error: BaseException) -> bool:
    """Whether reading failed on text that is not UTF-8: SQLite's driver says so in an OperationalError,
    a PostgreSQL driver raises UnicodeDecodeError (a database in SQL_ASCII may hold any bytes)."""
    found = error.orig if isinstance(error, sa.exc.DBAPIError) else error
    return isinstance(found, UnicodeDecodeError) or str(found).startswith("Could not decode to UTF-8")


def _experiment_numbers(experiment_ids: Iterable[str]) -> list[int]:
    """The experiments ``experiment_ids`` name, as the integers MLflow's schema keys them by (an id
    spelled otherwise than MLflow writes it names none: :func:`experiment_number`)."""
    return [number for text in experiment_ids if (number := experiment_number(text)) is not None]


def _count(value: object, default: int, name: str, least: int) -> int:
    """A number of connections given to :func:`connect`: an integer, at least ``least``; None is
    ``default``."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ArgumentError(
            f"{name} must be an integer of at least {least}, not {value!r}",
            code="bad-pool-size",
            where=name,
            hint=f"pass {name}={default} (the default), or more connections for more threads",
        )
    return value


def _seconds(value: object, default: float, name: str) -> float:
    """A time given to :func:`connect`: a positive, finite number of seconds; None is ``default``."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ArgumentError(
            f"{name} must be a positive number of seconds, not {value!r}",
            code="bad-pool-size",
            where=name,
            hint=f"pass {name}={default:g} (the default)",
        )
    return float(value)


def _unchanging(path: Path) -> bool:
    """Whether nothing can change the SQLite file at ``path`` while it is read, so that SQLite may read
    it as immutable: it lies on a file system mounted read-only, and no journal beside it holds a write
    that SQLite would have to read too.

    A read-only connection to a database in WAL mode needs the ``-shm`` and ``-wal`` files beside it to
    coordinate with writers, and SQLite makes them when they are missing (and the folder is writable);
    an immutable one needs neither. Anywhere else MLflow may write while the store reads (the store
    promises consistent answers then), and an immutable connection would read pages half written.
    """
    statvfs = getattr(os, "statvfs", None)  # not on Windows
    if statvfs is None:
        return False
    try:
        read_only = bool(statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
    return read_only and not any(path.with_name(path.name + end).exists() for end in ("-wal", "-journal"))
