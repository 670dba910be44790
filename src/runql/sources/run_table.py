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
from runql.engines.columnar import Column
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
    metrics, params, tags = (_entries(pa, table, part, where) for part in _PARTS)
    inputs = _inputs(table) if "datasets" in names else {}
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


def _entries(pa: Any, table: Any, part: str, where: str) -> Entries:
    """The ``metrics``, ``params`` or ``tags`` of every run: the map column of that name, or the flat
    layout's ``<part>.<key>`` columns."""
    number = part == "metrics"
    value_test = pa.types.is_floating if number else pa.types.is_string
    if part in table.column_names:
        column = table.column(part).combine_chunks()
        if not (pa.types.is_map(column.type) and value_test(column.type.item_type)):
            raise StoreError(f"column {part} must be a map to {'numbers' if number else 'text'}", where=where)
        lengths = np.diff(column.offsets.to_numpy())
        valid = column.items.is_valid()  # an item without a value is no value
        rows = np.repeat(np.arange(len(column)), lengths)[valid.to_numpy(zero_copy_only=False)]
        keys, values = column.keys.filter(valid), column.items.filter(valid)
    else:
        prefix = f"{part}."
        named = [name for name in table.column_names if name.startswith(prefix)]
        for name in named:
            _typed(table, name, value_test, "numbers" if number else "text", where)
        present = [table.column(name).is_valid().to_numpy(zero_copy_only=False) for name in named]
        rows = np.concatenate([np.flatnonzero(p) for p in present]) if named else np.zeros(0, dtype=np.intp)
        keys = pa.array(
            np.repeat(np.array([n[len(prefix) :] for n in named], dtype=object), [p.sum() for p in present]),
            type=pa.string(),
        )
        values = pa.concat_arrays(
            [table.column(n).combine_chunks().drop_null() for n in named] or [pa.array([])]
        )
    encoded_keys = keys.dictionary_encode()
    key_codes = encoded_keys.indices.to_numpy(zero_copy_only=False).astype(np.intp)
    if number:
        return Entries(
            rows, key_codes, encoded_keys.dictionary.to_pylist(), values.to_numpy(zero_copy_only=False)
        )
    encoded_values = values.cast(pa.string()).dictionary_encode()
    value_codes = encoded_values.indices.to_numpy(zero_copy_only=False).astype(np.intp)
    return Entries(
        rows,
        key_codes,
        encoded_keys.dictionary.to_pylist(),
        value_codes,
        encoded_values.dictionary.to_pylist(),
    )


def _inputs(table: Any) -> dict[int, RunInputs]:
    """The dataset inputs of each run that has some (name, digest and context)."""
    found = {}
    for row, items in enumerate(table.column("datasets").to_pylist()):
        if items:
            found[row] = RunInputs(
                [
                    DatasetInput(
                        Dataset(item["name"], item["digest"]),
                        [InputTag(DATASET_CONTEXT_TAG, item["context"])] if item.get("context") else [],
                    )
                    for item in items
                ]
            )
    return found
