"""MLflow's run tables read as columns, straight into a column store: the fast path of ``from_mlflow_db``.

Each table is fetched whole as Arrow arrays through ADBC (``pip install 'runql[adbc]'``, SQLite and
PostgreSQL). Keys, values and run ids are encoded in Arrow and checked once per distinct value, so no
Python object is made per param, tag or metric, and no Run object at all: the workspace makes runs from
the columns when asked (:class:`runql.engines.column_first.ColumnFirstRuns`).

The tables MLflow writes take this path. A table holding anything else (a NULL key, text in a number
column, a row for a run that ``runs`` lacks, text that is not UTF-8) makes it give way, and so does a
database without ADBC's driver: the row-by-row reader of :mod:`runql.sources.mlflow_db` then reads the
database (and names the row at fault). Without Arrow, that reader is the faster: columns cut from the
driver's tuples in Python cost more than the Run objects it makes (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

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

Codes = npt.NDArray[np.intp]

# Rows per Arrow batch read from SQLite.
_ARROW_BATCH = 65_536


class _GiveWay(RunqlError):
    """The tables hold something the row-by-row reader must read, to name it (never leaves this module)."""


def read_run_columns(reader: _Reader, histories: HistorySource, target: str) -> ColumnFirstRuns | None:
    """The runs of ``reader``'s database (at SQLAlchemy URL ``target``) as a column store whose metric
    histories ``histories`` reads; None without ADBC's driver for the database (``runql[adbc]``), or when a
    table holds anything but what MLflow writes (the row-by-row reader then reads it, and names that)."""
    connection = _adbc_connection(target)
    if connection is None:
        return None
    import pyarrow as pa
    from adbc_driver_manager import Error

    # OSError: SQLite's driver, on a value of another type than the first ones of its column.
    unsuited = (_GiveWay, ValueError, TypeError, OverflowError, OSError, Error, *reader.errors)
    try:
        return _read(reader, partial(_fetch, connection, target.startswith("sqlite:")), histories)
    except unsuited:
        reader.connection.rollback()  # on PostgreSQL, a failed statement ends the transaction
        return None
    finally:
        connection.close()
        pa.default_memory_pool().release_unused()  # the tables' buffers, freed by now, back to the system


def _read(reader: _Reader, fetch: Callable[..., list[Any]], histories: HistorySource) -> ColumnFirstRuns:
    info = _run_info(fetch("runs", check.RUN_COLUMNS, ("experiment_id", "run_uuid")))
    run_ids = info["run_id"]
    assert isinstance(run_ids, StringColumn)
    params = _strings(fetch("params", ("run_uuid", "key", "value")), run_ids, nullable=False)
    tags = _strings(fetch("tags", ("run_uuid", "key", "value")), run_ids, nullable=True)
    metrics = _latest(fetch("latest_metrics", ("run_uuid", "key", "value", "is_nan")), run_ids)
    found = reader.inputs(frozenset(run_ids.values))
    inputs = {run_ids.lookup[i]: RunInputs(dataset_inputs(items)) for i, items in found.items()}
    return ColumnFirstRuns(info, metrics, params, tags, inputs, histories)


def _fetch(
    connection: Any, sqlite: bool, name: str, columns: Sequence[str], order: Sequence[str] = ()
) -> Any:
    """The columns of table ``name``, as Arrow arrays read through ADBC."""
    listed = ", ".join(f'"{c}"' for c in columns)
    ordered = f" ORDER BY {', '.join(order)}" if order else ""
    with contextlib.closing(connection.cursor()) as cursor:
        if sqlite:  # the driver's batches of 1,024 rows cost a fifth of the read
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_ARROW_BATCH)})
        # Names only, from runql's own lists: no value is written into the statement.
        cursor.execute(f'SELECT {listed} FROM "{name}"{ordered}')
        return cursor.fetch_arrow_table().columns


def _adbc_connection(target: str) -> Any:
    """An ADBC connection to SQLAlchemy URL ``target``; None without the driver, or for another
    database, or when it cannot connect."""
    scheme, _, rest = target.partition(":")
    try:
        if scheme == "sqlite":
            import adbc_driver_sqlite.dbapi as sqlite

            # connect_url made a read-only URI, sqlite:///file:<quoted path>?mode=ro&uri=true
            return sqlite.connect(rest.removeprefix("///").split("&", 1)[0])
        if scheme.split("+")[0] == "postgresql":
            import adbc_driver_postgresql.dbapi as postgresql

            return postgresql.connect(f"postgresql:{rest}")
    except Exception:  # no driver (ImportError), or none that connects: the row reader reads the database
        return None
    return None


# -- columns ----------------------------------------------------------------------------------------


def encoded(column: Any) -> tuple[Codes, list[Any]]:
    """Each value's code (-1 for NULL) and the distinct values, of an Arrow array."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()  # one dictionary (unifying the chunks' dictionaries costs more)
    found = column.dictionary_encode()
    return found.indices.fill_null(-1).to_numpy().astype(np.intp), found.dictionary.to_pylist()


def _kind(column: Any, *tests: str) -> None:
    """Give way unless ``column`` is empty (typed by ADBC's guess) or of a type ``pyarrow.types`` says
    ``is_<test>`` of."""
    import pyarrow.types as kinds

    if len(column) and not any(getattr(kinds, f"is_{test}")(column.type) for test in tests):
        raise _GiveWay


def _texts(column: Any, nullable: bool = False) -> tuple[Codes, list[str]]:
    """A column of text, encoded; give way for any other value (and for NULL unless ``nullable``)."""
    _kind(column, "string", "large_string")
    if column.null_count and not nullable:
        raise _GiveWay
    return encoded(column)


def _numbers(column: Any, *tests: str) -> npt.NDArray[Any]:
    """A column of numbers; give way for any other value, or NULL."""
    _kind(column, *tests)
    if column.null_count:
        raise _GiveWay
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _run_info(columns: list[Any]) -> dict[str, Column]:
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


def _times(column: Any) -> NumberColumn:
    """A column of times in milliseconds, NULL allowed; give way for any other value."""
    _kind(column, "integer")
    present = column.is_valid().to_numpy(zero_copy_only=False)
    values = np.asarray(column.fill_null(0).to_numpy(), dtype=np.int64)
    if not ((values >= -TIME_LIMIT) & (values < TIME_LIMIT)).all():
        raise _GiveWay
    return time_column(values, present)


def _rows(run_ids: StringColumn, run_uuid: Any) -> Codes:
    """The row of each entry's run (a run's code is its row); give way when a run is not in ``runs``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    _kind(run_uuid, "string", "large_string")
    found = pc.index_in(run_uuid, value_set=pa.array(run_ids.values, type=pa.string()))
    if found.null_count:
        raise _GiveWay
    return np.asarray(found.to_numpy(), dtype=np.intp)


def _strings(columns: list[Any], run_ids: StringColumn, nullable: bool) -> Entries:
    """Table params or tags; a tag whose value is NULL is no tag, as a search reads it."""
    run_uuid, key, value = columns
    rows = _rows(run_ids, run_uuid)
    key_codes, keys = _texts(key)
    value_codes, texts = _texts(value, nullable)
    valued = value_codes >= 0
    if not valued.all():
        rows, key_codes, value_codes = rows[valued], key_codes[valued], value_codes[valued]
    return Entries(rows, key_codes, keys, value_codes, texts)


def _latest(columns: list[Any], run_ids: StringColumn) -> Entries:
    """Table ``latest_metrics``: NaN is the ``is_nan`` flag (the value then means nothing)."""
    import pyarrow as pa

    run_uuid, key, value, is_nan = columns
    flags = _numbers(is_nan, "integer", "boolean")
    if not np.isin(flags, (0, 1)).all():
        raise _GiveWay
    valued = flags == 0  # a NaN's value may be anything, NULL included
    values = np.full(len(flags), math.nan)
    values[valued] = _numbers(value.filter(pa.array(valued)), "floating", "integer")
    key_codes, keys = _texts(key)
    return Entries(_rows(run_ids, run_uuid), key_codes, keys, values)
