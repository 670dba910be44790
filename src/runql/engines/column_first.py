"""Runs held as columns first: a column store built straight from a reader's tables, which makes Run
objects from its columns only when a caller asks for runs.

A reader that can hand over MLflow's tables as columns (:mod:`runql.sources.mlflow_tables`, a Parquet
run table) never makes a Python object per param, tag or metric: each table arrives as arrays of run
rows, key codes and values (:class:`Entries`), cut into one column per key. A run is made from the
columns when it is asked for (a page of a search, ``get_run``); a run asked for by row is then held, so
that an edit to it (``log_metric``) is read back into the columns by :meth:`ColumnarRuns.refresh`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast, overload

import numpy as np
import numpy.typing as npt

from runql.common.collector import collector_paused
from runql.engines.columnar import Column, ColumnarRuns, Indices, NumberColumn, StringColumn
from runql.language.attributes import RUN_NUMERIC_ATTRIBUTES, RUN_STRING_ATTRIBUTES
from runql.model.entities import HistorySource, Run, RunData, RunInfo, RunInputs, StoredHistories

__all__ = ["ColumnFirstRuns", "Entries", "text_column", "time_column"]


@dataclass(frozen=True)
class Entries:
    """One key table (params, tags or latest metrics) as columns: entry ``i`` gives the run at row
    ``rows[i]`` the key ``keys[key_codes[i]]`` with the value ``values[i]`` (metrics: float64), or, for
    strings, ``texts[values[i]]``."""

    rows: Indices
    key_codes: npt.NDArray[np.intp]
    keys: Sequence[str]
    values: npt.NDArray[Any]
    texts: Sequence[str] | None = None

    def pivot(self, size: int) -> dict[str, Column]:
        """A column over ``size`` runs per key."""
        codes = self.key_codes
        if len(self.keys) <= np.iinfo(np.int16).max:
            codes = codes.astype(np.int16)  # a stable sort of 16-bit integers is a radix sort, in linear time
        grouped = len(codes) < 2 or bool((codes[1:] >= codes[:-1]).all())
        order = np.arange(len(codes)) if grouped else np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes, np.arange(len(self.keys) + 1), sorter=order)
        build = self._numbers if self.texts is None else self._strings
        return {
            key: build(size, order[bounds[i] : bounds[i + 1]])
            for i, key in enumerate(self.keys)
            if bounds[i] < bounds[i + 1]
        }

    def _numbers(self, size: int, entries: Indices) -> Column:
        return NumberColumn.build(size, self.rows[entries], self.values[entries])

    def _strings(self, size: int, entries: Indices) -> Column:
        assert self.texts is not None
        used, local = np.unique(self.values[entries], return_inverse=True)
        codes = np.full(size, -1, dtype=np.int32)
        codes[self.rows[entries]] = local
        texts = self.texts
        return StringColumn(codes, [texts[i] for i in used.tolist()])


def text_column(
    codes: Indices, distinct: Sequence[Any], checked: Callable[[Any], str | None]
) -> StringColumn:
    """A run attribute of text from each run's code into ``distinct`` (-1: NULL): ``checked`` is called
    once per distinct value (and once for NULL, when a run has it) and says the run's value (None: no
    value); it raises for a value the attribute cannot hold."""
    mapped = [checked(value) for value in distinct]
    as_given = all(found is value for found, value in zip(mapped, distinct, strict=True))
    if as_given and (not len(codes) or codes.min() >= 0 or checked(None) is None):
        # Each distinct value is its own run value (the common case): the codes stand as they are.
        return StringColumn(codes.astype(np.int32), cast(list[str], mapped))  # no NULL among them
    index: dict[str, int] = {}
    table = np.empty(len(distinct) + 1, dtype=np.int32)  # the last entry answers code -1
    for place, found in enumerate(mapped):
        table[place] = -1 if found is None else index.setdefault(found, len(index))
    if len(codes) and codes.min() < 0:
        found = checked(None)
        table[-1] = -1 if found is None else index.setdefault(found, len(index))
    return StringColumn(table[codes], list(index))


def time_column(values: npt.NDArray[np.int64], present: npt.NDArray[np.bool_]) -> NumberColumn:
    """A run time (milliseconds, within 2**53 so that a float holds it exactly) where ``present``."""
    return NumberColumn(
        np.where(present, values, 0).astype(np.float64), present.copy(), None, exact_times=True
    )


class ColumnFirstRuns(ColumnarRuns):
    """A column store built from columns: ``info`` holds a column per field of ``RunInfo`` (times as
    :func:`time_column`, text as :func:`text_column`); ``metrics``, ``params`` and ``tags`` are each a key
    table as :class:`Entries`, or a column per key already; ``inputs`` the dataset inputs of the rows that
    have some; ``histories`` the store the metric histories are read from (None: a metric's history is
    its latest value alone)."""

    def __init__(
        self,
        info: Mapping[str, Column],
        metrics: Entries | dict[str, Column],
        params: Entries | dict[str, Column],
        tags: Entries | dict[str, Column],
        inputs: Mapping[int, RunInputs],
        histories: HistorySource | None,
    ) -> None:
        attributes = dict(info)
        start, end = attributes["start_time"], attributes["end_time"]
        assert isinstance(start, NumberColumn) and isinstance(end, NumberColumn)
        size = len(start.values)
        ended = np.flatnonzero(start.present_mask & end.present_mask)
        durations = end.values[ended].astype(np.int64) - start.values[ended].astype(np.int64)
        attributes["duration"] = NumberColumn.build(size, ended, durations, exact_times=True)
        assert attributes.keys() == {*RUN_STRING_ATTRIBUTES, *RUN_NUMERIC_ATTRIBUTES}
        self.size = size
        self._inputs = dict(inputs)
        self._histories = histories
        self._held: dict[int, Run] = {}
        metric_columns, param_columns, tag_columns = (
            part.pivot(size) if isinstance(part, Entries) else part for part in (metrics, params, tags)
        )
        self._attach(
            _MadeRuns(self), attributes, metric_columns, param_columns, tag_columns, set(self._inputs)
        )

    def runs_at(self, rows: Indices) -> list[Any]:
        """The runs of ``rows``: those held, and the others made for the caller (not held)."""
        wanted = [row for row in rows.tolist() if row not in self._held]
        made = dict(zip(wanted, self._make(np.array(wanted, dtype=np.intp)), strict=True))
        return [self._held.get(row) or made[row] for row in rows.tolist()]

    def hold(self, row: int) -> Run:
        """The run at ``row``, made once and held from then on."""
        run = self._held.get(row)
        if run is None:
            run = self._held[row] = self._make(np.array([row], dtype=np.intp))[0]
        return run

    def hold_all(self) -> list[Run]:
        """Every run, in row order, made in one pass over the columns and held from then on."""
        wanted = np.array([row for row in range(self.size) if row not in self._held], dtype=np.intp)
        self._held.update(zip(wanted.tolist(), self._make(wanted), strict=True))
        return [self._held[row] for row in range(self.size)]

    def _make(self, rows: Indices) -> list[Run]:
        """Runs made from the columns at ``rows``."""
        with collector_paused():
            return self._made(rows)

    def _made(self, rows: Indices) -> list[Run]:
        text = [self.attributes[name].decoded(rows).tolist() for name in _INFO_TEXTS]
        start, end = (_times(self.attributes[name], rows) for name in ("start_time", "end_time"))
        metrics, params, tags = (
            _mappings(columns, rows) for columns in (self.metrics, self.params, self.tags)
        )
        source, inputs = self._histories, self._inputs
        runs = []
        for i, (row, (run_id, experiment_id, user_id, status, stage, artifact_uri, run_name)) in enumerate(
            zip(rows.tolist(), zip(*text, strict=True), strict=True)
        ):
            info = RunInfo(
                run_id, experiment_id, user_id, status, start[i], end[i], stage, artifact_uri, run_name
            )
            stored = None if source is None else StoredHistories(source, run_id)
            data = RunData(metrics[i], params[i], tags[i], {}, stored)
            runs.append(Run(info, data, inputs.get(row) or RunInputs()))
        return runs

    def _history_runs(self, name: str) -> Iterable[tuple[int, Any]]:
        """The held runs, and a run holding only metric ``name`` for each other row that has it."""
        yield from self._held.items()
        column = self.metrics.get(name)
        if column is None:
            return
        rows = np.flatnonzero(column.present())
        rows = rows[[row not in self._held for row in rows.tolist()]]
        run_ids = self.attributes["run_id"].decoded(rows).tolist()
        for row, run_id, value in zip(rows.tolist(), run_ids, column.decoded(rows).tolist(), strict=True):
            stored = None if self._histories is None else StoredHistories(self._histories, run_id)
            yield row, Run(RunInfo(run_id, ""), RunData(metrics={name: value}, stored=stored))


# RunInfo's text fields, in its positional order around the two times.
_INFO_TEXTS = ("run_id", "experiment_id", "user_id", "status", "lifecycle_stage", "artifact_uri", "run_name")


def _mappings(columns: Mapping[str, Column], rows: Indices) -> list[dict[str, Any]]:
    """For each of ``rows``, the mapping of the keys ``columns`` holds there to their values: the
    entries are gathered column by column, ordered by row, and each row's slice made a dict."""
    places, keys, values = [], [], []
    for key, column in columns.items():
        found = np.flatnonzero(column.present_at(rows))
        if len(found):
            places.append(found)
            keys.append(np.full(len(found), key, dtype=object))
            values.append(column.decoded(rows[found]))
    if not places:
        return [{} for _ in range(len(rows))]
    place = np.concatenate(places)
    order = np.argsort(place, kind="stable")
    bounds = np.searchsorted(place[order], np.arange(len(rows) + 1)).tolist()
    held_keys = np.concatenate(keys)[order].tolist()
    held_values = np.concatenate(values)[order].tolist()
    if isinstance(next(iter(columns.values())), NumberColumn):
        # NaN as the readers make it, so that equal runs compare equal.
        held_values = [v if v == v else math.nan for v in held_values]
    return [dict(zip(held_keys[a:b], held_values[a:b], strict=True)) for a, b in itertools.pairwise(bounds)]


class _MadeRuns(Sequence[Run]):
    """The runs of a :class:`ColumnFirstRuns` by row: each made when first asked for, then held."""

    def __init__(self, store: ColumnFirstRuns) -> None:
        self._store = store

    def __len__(self) -> int:
        return self._store.size

    @overload
    def __getitem__(self, index: int) -> Run: ...

    @overload
    def __getitem__(self, index: slice) -> list[Run]: ...

    def __getitem__(self, index: int | slice) -> Run | list[Run]:
        if isinstance(index, slice):
            return [self._store.hold(row) for row in range(self._store.size)[index]]
        if not -self._store.size <= index < self._store.size:
            raise IndexError(index)
        return self._store.hold(index % self._store.size)


def _times(column: Column, rows: Indices) -> list[int | None]:
    """The run times at ``rows`` as the integers they were given."""
    assert isinstance(column, NumberColumn)
    held = column.exact[rows] if column.exact is not None else column.values[rows].astype(np.int64)
    present = column.present_at(rows).tolist()
    return [int(v) if p else None for v, p in zip(held.tolist(), present, strict=True)]
