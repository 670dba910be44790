"""MLflow's run tables read as columns, straight into a column store: the fast path of ``from_mlflow_db``.

Each table is fetched whole, as Arrow arrays through ADBC (``pip install 'runql[adbc]'``, SQLite and
PostgreSQL) or else as the driver's tuples cut into numpy columns. Keys, values and run ids are then
encoded (by Arrow or pandas, in C) and checked once per distinct value, so no Python object is made per
param, tag or metric, and no Run object at all: the workspace makes runs from the columns when asked
(:class:`runql.engines.column_first.ColumnFirstRuns`).

The tables MLflow writes take this path. A table holding anything else (a NULL key, text in a number
column, a row for a run that ``runs`` lacks, text that is not UTF-8) makes it give way: the row-by-row
reader of :mod:`runql.sources.mlflow_db` then reads the database and names the row at fault.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from runql.engines.column_first import ColumnFirstRuns, Entries, text_column, time_column
from runql.engines.columnar import Column, NumberColumn, StringColumn
from runql.errors import RunqlError
from runql.model.entities import HistorySource, LifecycleStage, RunInputs, RunStatus
from runql.model.records import TIME_LIMIT
from runql.sources import rows as check
from runql.sources.base import dataset_inputs

if TYPE_CHECKING:
    from runql.sources.mlflow_db import _Reader

__all__ = ["encoded", "read_run_columns"]

Objects = npt.NDArray[np.object_]
Codes = npt.NDArray[np.intp]
# A fetched column: a numpy object array (the driver's values) or a pyarrow Array (ADBC's).
Fetched = Any
Fetch = Callable[[str, Sequence[str], Sequence[str]], list[Fetched]]

# Rows per Arrow batch read from SQLite.
_ARROW_BATCH = 65_536
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


class _GiveWay(RunqlError):
    """The tables hold something the row-by-row reader must read, to name it (never leaves this module)."""


def read_run_columns(reader: _Reader, histories: HistorySource, target: str) -> ColumnFirstRuns | None:
    """The runs of ``reader``'s database (at SQLAlchemy URL ``target``) as a column store whose metric
    histories ``histories`` reads; None when a table holds anything but what MLflow writes (the
    row-by-row reader then names it)."""
    database_errors = (reader.dbapi.Error, reader.sa.exc.SQLAlchemyError)
    unsuited = (_GiveWay, ValueError, TypeError, OverflowError, *database_errors)
    with _arrow_fetch(target) as arrow:
        for fetch in [f for f in (arrow, partial(_driver_fetch, reader)) if f is not None]:
            try:
                return _read(reader, fetch, histories)
            except unsuited:
                reader.connection.rollback()  # on PostgreSQL, a failed statement ends the transaction
            except _adbc_errors():  # a value the driver did not expect in a column: read the tuples instead
                reader.connection.rollback()
                if fetch is not arrow:
                    raise
    return None


def _read(reader: _Reader, fetch: Fetch, histories: HistorySource) -> ColumnFirstRuns:
    info = _run_info(fetch("runs", _RUN_COLUMNS, ("experiment_id", "run_uuid")))
    run_ids = info["run_id"]
    assert isinstance(run_ids, StringColumn)
    ids = pd.Index(run_ids.values, dtype=object)
    params = _strings(fetch("params", ("run_uuid", "key", "value"), ()), ids, nullable=False)
    tags = _strings(fetch("tags", ("run_uuid", "key", "value"), ()), ids, nullable=True)
    metrics = _latest(fetch("latest_metrics", ("run_uuid", "key", "value", "is_nan"), ()), ids)
    found = reader.inputs(frozenset(run_ids.values))
    inputs = {int(ids.get_loc(i)): RunInputs(dataset_inputs(items)) for i, items in found.items()}
    return ColumnFirstRuns(info, metrics, params, tags, inputs, histories)


# -- fetching ---------------------------------------------------------------------------------------


def _driver_fetch(reader: _Reader, name: str, columns: Sequence[str], order: Sequence[str]) -> list[Objects]:
    """The columns of table ``name`` as object arrays, from the driver's cursor a chunk at a time (the
    driver's tuples of one chunk are let go before the next is fetched)."""
    parts: list[Objects] = [np.empty((0, len(columns)), dtype=object)]
    with reader.rows(name, columns, order) as chunks:
        for chunk in chunks:
            part = np.empty((len(chunk), len(columns)), dtype=object)
            part[:] = chunk
            parts.append(part)
    table = np.concatenate(parts)
    return [table[:, i] for i in range(len(columns))]


@contextlib.contextmanager
def _arrow_fetch(target: str) -> Iterator[Fetch | None]:
    """A fetch of Arrow arrays through an ADBC connection to ``target``; None without ADBC's driver for
    the database, or when it cannot connect (the driver's tuples are read then)."""
    connection = _adbc_connection(target)
    sqlite = target.startswith("sqlite:")
    if connection is None:
        yield None
        return

    def fetch(name: str, columns: Sequence[str], order: Sequence[str]) -> list[Fetched]:
        listed = ", ".join(f'"{c}"' for c in columns)
        ordered = f" ORDER BY {', '.join(order)}" if order else ""
        with contextlib.closing(connection.cursor()) as cursor:
            if sqlite:  # the driver's batches of 1,024 rows cost a fifth of the read
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_ARROW_BATCH)})
            # Names only, from runql's own lists: no value is written into the statement.
            cursor.execute(f'SELECT {listed} FROM "{name}"{ordered}')
            table = cursor.fetch_arrow_table()
        found: list[Fetched] = table.columns
        return found

    try:
        yield fetch
    finally:
        connection.close()
        import pyarrow as pa

        pa.default_memory_pool().release_unused()  # the tables' buffers, freed by now, back to the system


def _adbc_errors() -> tuple[type[Exception], ...]:
    """What ADBC raises on a read: its Error, and OSError (SQLite's driver, on a value of another type
    than the column's first ones)."""
    try:
        from adbc_driver_manager import Error
    except ImportError:
        return (OSError,)
    return (OSError, Error)


def _adbc_connection(target: str) -> Any:
    """An ADBC connection to SQLAlchemy URL ``target``, or None."""
    scheme, _, rest = target.partition(":")
    try:
        if scheme == "sqlite":
            import adbc_driver_sqlite.dbapi as sqlite

            # connect_url made a read-only URI, sqlite:///file:<quoted path>?mode=ro&uri=true
            return sqlite.connect(rest.removeprefix("///").split("&", 1)[0])
        if scheme.split("+")[0] == "postgresql":
            import adbc_driver_postgresql.dbapi as postgresql

            return postgresql.connect(f"postgresql:{rest}")
    except Exception:
        return None
    return None


# -- columns ----------------------------------------------------------------------------------------


def encoded(column: Fetched) -> tuple[Codes, list[Any]]:
    """Each value's code (-1 for NULL) and the distinct values, in order of first appearance."""
    if isinstance(column, np.ndarray):
        codes, distinct = pd.factorize(column)
        return codes.astype(np.intp), distinct.tolist()
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()  # one dictionary (unifying the chunks' dictionaries costs more)
    found = column.dictionary_encode()
    return found.indices.fill_null(-1).to_numpy().astype(np.intp), found.dictionary.to_pylist()


def _texts(column: Fetched, nullable: bool = False) -> tuple[Codes, list[str]]:
    """A column of text, encoded; give way for any other value (and for NULL unless ``nullable``)."""
    codes, distinct = encoded(column)
    # A value of another type appears among the distinct values (pandas may merge 1 with 1.0, never
    # with text), and NULL as code -1.
    if any(type(value) is not str for value in distinct) or (not nullable and (codes < 0).any()):
        raise _GiveWay
    return codes, distinct


def _numbers(column: Fetched, types: tuple[type, ...], dtype: Any) -> npt.NDArray[Any]:
    """A column of numbers of ``types`` as ``dtype``; give way for any other value, or NULL."""
    if isinstance(column, np.ndarray):
        if not set(map(type, column)) <= set(types):
            raise _GiveWay
        return column.astype(dtype)
    import pyarrow.types as kinds

    allowed = {float: kinds.is_floating, int: kinds.is_integer, bool: kinds.is_boolean}
    if column.null_count or not (len(column) == 0 or any(allowed[t](column.type) for t in types)):
        raise _GiveWay
    found: npt.NDArray[Any] = column.to_numpy(zero_copy_only=False).astype(dtype)
    return found


def _picked(column: Fetched, mask: npt.NDArray[np.bool_]) -> Fetched:
    """The values of ``column`` where ``mask`` holds."""
    if isinstance(column, np.ndarray):
        return column[mask]
    import pyarrow as pa

    return column.filter(pa.array(mask))


def _run_info(columns: list[Fetched]) -> dict[str, Column]:
    """The columns of table ``runs``, checked as the row reader checks each row."""
    run_id, experiment_id, name, user_id, status, start, end, artifact_uri, stage = columns
    info: dict[str, Column] = {"start_time": _times(start), "end_time": _times(end)}
    ids = text_column(*encoded(run_id), check.run_id)
    if len(ids.values) != len(ids.codes):  # a run id twice
        raise _GiveWay
    info["run_id"] = ids
    info["experiment_id"] = text_column(*encoded(experiment_id), check.experiment_id)
    for field, column in (("run_name", name), ("user_id", user_id), ("artifact_uri", artifact_uri)):
        info[field] = text_column(*encoded(column), partial(check.optional_text, column=field))
    stages = partial(check.one_of, allowed=check.LIFECYCLE_STAGES, default=LifecycleStage.ACTIVE)
    info["lifecycle_stage"] = text_column(*encoded(stage), partial(stages, column="lifecycle_stage"))
    # NULL is FINISHED for a run that ended and RUNNING for one that did not.
    statuses = text_column(*encoded(status), lambda v: check.one_of(v, RunStatus.ALL, "", "status") or None)
    ended = info["end_time"].present()
    for default, where in ((RunStatus.FINISHED, ended), (RunStatus.RUNNING, ~ended)):
        statuses.codes[(statuses.codes < 0) & where] = statuses.code(default)
    info["status"] = statuses
    return info


def _times(column: Fetched) -> NumberColumn:
    """A column of times in milliseconds, NULL allowed; give way for any other value."""
    if isinstance(column, np.ndarray):
        if not set(map(type, column)) <= {int, type(None)}:
            raise _GiveWay
        present = np.fromiter((value is not None for value in column), dtype=bool, count=len(column))
        values = np.where(present, column, 0).astype(np.int64)
    else:
        import pyarrow.types as kinds

        if len(column) and not kinds.is_integer(column.type):
            raise _GiveWay
        present = column.is_valid().to_numpy(zero_copy_only=False)
        values = column.fill_null(0).to_numpy().astype(np.int64)
    if not ((values >= -TIME_LIMIT) & (values < TIME_LIMIT)).all():
        raise _GiveWay
    return time_column(values, present)


def _rows(ids: pd.Index, run_uuid: Fetched) -> Codes:
    """The row of each entry's run; give way when a run is not in ``runs``."""
    if not isinstance(run_uuid, np.ndarray):
        import pyarrow as pa
        import pyarrow.compute as pc

        # Runs are rows in the order of ids: one hash lookup per entry, in Arrow.
        found = pc.index_in(run_uuid, value_set=pa.array(ids.to_numpy(), type=pa.string()))
        if found.null_count:
            raise _GiveWay
        return np.asarray(found.to_numpy(), dtype=np.intp)
    codes, distinct = _texts(run_uuid)
    rows_of_distinct = ids.get_indexer(pd.Index(distinct, dtype=object))
    if (rows_of_distinct < 0).any():
        raise _GiveWay
    rows: Codes = rows_of_distinct.astype(np.intp)[codes]
    return rows


def _strings(columns: list[Fetched], ids: pd.Index, nullable: bool) -> Entries:
    """Table params or tags; a tag whose value is NULL is no tag, as a search reads it."""
    run_uuid, key, value = columns
    rows = _rows(ids, run_uuid)
    key_codes, keys = _texts(key)
    value_codes, texts = _texts(value, nullable)
    valued = value_codes >= 0
    if not valued.all():
        rows, key_codes, value_codes = rows[valued], key_codes[valued], value_codes[valued]
    return Entries(rows, key_codes, keys, value_codes, texts)


def _latest(columns: list[Fetched], ids: pd.Index) -> Entries:
    """Table ``latest_metrics``: NaN is the ``is_nan`` flag (the value then means nothing)."""
    run_uuid, key, value, is_nan = columns
    flags = _numbers(is_nan, (int, bool), np.int64)
    if not np.isin(flags, (0, 1)).all():
        raise _GiveWay
    valued = flags == 0  # a NaN's value may be anything, NULL included
    values = np.full(len(flags), math.nan)
    values[valued] = _numbers(_picked(value, valued), (float, int), np.float64)
    key_codes, keys = _texts(key)
    return Entries(_rows(ids, run_uuid), key_codes, keys, values)
