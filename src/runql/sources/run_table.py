"""A Parquet run table (what ``runql export`` writes, either layout) read as columns, straight into a
column store: each column of the file is one column of runs, with no object made per value.

The table holds runs alone: their experiments are named by id, and each metric holds its latest value
(its history is that one point). ``pip install 'runql[parquet]'`` for pyarrow.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from runql.common.optional import require
from runql.engines.column_first import ColumnFirstRuns, Entries, text_column, time_column
from runql.engines.columnar import Column, NumberColumn, StringColumn
from runql.errors import StoreError
from runql.model.entities import (
    DATASET_CONTEXT_TAG,
    Dataset,
    DatasetInput,
    InputTag,
    LifecycleStage,
    RunInputs,
    RunStatus,
)
from runql.sources import rows as check
from runql.sources.base import StoreRecords, local_path
from runql.sources.mlflow_tables import encoded

__all__ = ["read_run_table"]

_TEXT_INFO = ("run_id", "experiment_id", "status", "artifact_uri", "lifecycle_stage", "run_name", "user_id")
_TIMES = ("start_time", "end_time")
_PARTS = ("metrics", "params", "tags")


def read_run_table(path: str | os.PathLike[str]) -> StoreRecords:
    """The runs of the Parquet run table at ``path``, as a column store. A file that is no run table (a
    column missing, or of another type) is a :class:`StoreError` naming the column."""
    pa = require("pyarrow", "parquet", "reading a run table")
    require("pyarrow.compute", "parquet", "reading a run table")
    parquet = require("pyarrow.parquet", "parquet", "reading a run table")
    where = str(local_path(path))
    try:
        table = parquet.read_table(where)
    except (OSError, pa.ArrowException) as error:
        raise StoreError(
            f"not a Parquet file runql can read: {error}", where=where, code="not-a-store"
        ) from None
    names = set(table.column_names)
    missing = [name for name in (*_TEXT_INFO, *_TIMES) if name not in names]
    if missing:
        raise StoreError(
            f"not a run table: it lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            where=where,
            code="not-a-store",
        )
    info: dict[str, Column] = {}
    for name in _TEXT_INFO:
        column = _typed(table, name, pa.types.is_string, "text", where)
        try:
            info[name] = text_column(*encoded(column), _CHECKS.get(name, _as_is))
        except ValueError as error:
            raise StoreError(str(error), where=where) from None
    for name in _TIMES:
        times = _typed(table, name, pa.types.is_timestamp, "a timestamp", where)
        milliseconds = times.cast(pa.timestamp("ms")).cast(pa.int64())
        present = milliseconds.is_valid().to_numpy(zero_copy_only=False)
        info[name] = time_column(milliseconds.fill_null(0).to_numpy(), present)
    run_ids = info["run_id"]
    if run_ids.present().sum() != len(run_ids.values) or len(run_ids.values) != table.num_rows:
        raise StoreError("column run_id must name each run once", where=where)
    metrics, params, tags = (_data(pa, table, part, where) for part in _PARTS)
    inputs = _inputs(pa, table) if "datasets" in names else {}
    columns = ColumnFirstRuns(info, metrics, params, tags, inputs, histories=None)
    return StoreRecords([], [], where=where, columns=columns)


def _as_is(value: str | None) -> str | None:
    return value


# Run attributes a run must have, and what they may hold (a table holds what runql exported).
_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "experiment_id": partial(check.text, column="experiment_id"),
    "status": partial(check.one_of, allowed=RunStatus.ALL, default=RunStatus.FINISHED, column="status"),
    "lifecycle_stage": partial(
        check.one_of, allowed=check.LIFECYCLE_STAGES, default=LifecycleStage.ACTIVE, column="lifecycle_stage"
    ),
}


def _typed(table: Any, name: str, test: Any, what: str, where: str) -> Any:
    column = table.column(name)
    if not test(column.type):
        raise StoreError(f"column {name} must hold {what}, not {column.type}", where=where)
    return column


def _data(pa: Any, table: Any, part: str, where: str) -> Entries | dict[str, Column]:
    """The ``metrics``, ``params`` or ``tags`` of every run: the map column of that name (as entries),
    or the flat layout's ``<part>.<key>`` columns, each one column of runs already."""
    number = part == "metrics"
    value_test = pa.types.is_floating if number else pa.types.is_string
    what = "numbers" if number else "text"
    if part not in table.column_names:
        prefix = f"{part}."
        named = [name for name in table.column_names if name.startswith(prefix)]
        return {
            name[len(prefix) :]: _flat(_typed(table, name, value_test, what, where), number) for name in named
        }
    column = table.column(part).combine_chunks()
    if not (pa.types.is_map(column.type) and value_test(column.type.item_type)):
        raise StoreError(f"column {part} must be a map to {what}", where=where)
    lengths = np.diff(column.offsets.to_numpy())
    valid = column.items.is_valid()  # an item without a value is no value
    rows = np.repeat(np.arange(len(column)), lengths)[valid.to_numpy(zero_copy_only=False)]
    key_codes, keys = encoded(column.keys.filter(valid))
    values = column.items.filter(valid)
    if number:
        return Entries(rows, key_codes, keys, values.to_numpy(zero_copy_only=False))
    value_codes, texts = encoded(values)
    return Entries(rows, key_codes, keys, value_codes, texts)


def _flat(column: Any, number: bool) -> Column:
    """A flat layout's column of one key: null where a run lacks the key."""
    present = column.is_valid().to_numpy(zero_copy_only=False)
    if number:
        values = column.fill_null(0.0).to_numpy().astype(np.float64)
        return NumberColumn(values, present)
    codes, texts = encoded(column)
    return StringColumn(codes.astype(np.int32), texts)


def _inputs(pa: Any, table: Any) -> dict[int, RunInputs]:
    """The dataset inputs of each run that has some (name, digest and context)."""
    column = table.column("datasets").combine_chunks()
    rows = np.flatnonzero(pa.compute.list_value_length(column).fill_null(0).to_numpy() > 0)
    listed = column.take(pa.array(rows))
    items = listed.flatten()
    names, digests, contexts = (items.field(name).to_pylist() for name in ("name", "digest", "context"))
    bounds = np.diff(listed.offsets.to_numpy()).cumsum().tolist()
    # The same dataset input recurs across runs: made once.
    made: dict[tuple[str, str, str | None], DatasetInput] = {}
    found = {}
    start = 0
    for row, end in zip(rows.tolist(), bounds, strict=True):
        inputs = []
        for given in zip(names[start:end], digests[start:end], contexts[start:end], strict=True):
            one = made.get(given)
            if one is None:
                name, digest, context = given
                tags = [InputTag(DATASET_CONTEXT_TAG, context)] if context else []
                one = made[given] = DatasetInput(Dataset(name, digest), tags)
            inputs.append(one)
        found[row] = RunInputs(inputs)
        start = end
    return found
