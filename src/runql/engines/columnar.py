"""The fast path: runs held column by column, filters as vectorized masks, sorting by lexsort.

Every attribute, metric, param and tag key is one column over all runs. Numbers are float64 arrays
with a presence mask; strings are dictionary-encoded (an int32 code per run, -1 when missing), so a
comparison or a LIKE runs once per distinct value, not once per run. The reference evaluator is the
specification; this module must return the same runs in the same order.
"""

from __future__ import annotations

import math
import operator
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, pairwise
from operator import attrgetter
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from runql.engines.aggregates import mean
from runql.engines.reference import dataset_clause_matches, dataset_values, run_attribute
from runql.engines.semantics import TIER_MISSING, TIER_NAN, TIER_VALUE, as_float, exact_float, pattern_matcher
from runql.errors import EvaluationError
from runql.language.ast import (
    Aggregate,
    And,
    Compare,
    Entity,
    Expr,
    In,
    IsNull,
    Key,
    Not,
    Op,
    Or,
    SortKey,
    assert_never,
)
from runql.language.attributes import RUN_NUMERIC_ATTRIBUTES, RUN_STRING_ATTRIBUTES
from runql.model.entities import History, HistorySource, Metric
from runql.model.frames import INFO_COLUMNS, frame_from_columns

if TYPE_CHECKING:
    from runql.profiles.compiled import CompiledQuery

Mask = npt.NDArray[np.bool_]
Indices = npt.NDArray[np.intp]

_STRING_ATTRIBUTES = tuple(sorted(RUN_STRING_ATTRIBUTES))
_NUMERIC_ATTRIBUTES = tuple(sorted(RUN_NUMERIC_ATTRIBUTES))
# A page this small against the selection sorts only its candidates; a larger one gains little over
# sorting every selected run, and ties at the cut can make its candidates nearly all of them.
_TOP_FRACTION = 4
# Up to this many wanted values, StringColumn.among compares codes instead of reading a table.
_FEW_CODES = 8
# The most experiment and view scopes ColumnarRuns.among keeps (each a mask of every run).
_KEPT_SCOPES = 16
# The first stretch of the natural order read for a first page without order_by.
_FIRST_STEP = 16_384

_COMPARE: dict[Op, Callable[[Any, Any], Any]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


@dataclass
class StringColumn:
    """Dictionary-encoded strings: ``codes[i]`` indexes ``values``; -1 means the run has no value."""

    codes: npt.NDArray[np.int32]
    values: list[str] = field(default_factory=list)
    _lookup: dict[str, int] | None = None
    _value_ranks: npt.NDArray[np.int64] | None = None
    _value_objects: npt.NDArray[np.object_] | None = None
    _first_keys: dict[bool, npt.NDArray[Any]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, size: int, rows: Sequence[int] | Indices, items: Sequence[str | None] | npt.NDArray[np.object_]
    ) -> StringColumn:
        """A column over ``size`` runs holding ``items[i]`` at row ``rows[i]``; every other row, and a
        None item, is missing."""
        codes = np.full(size, -1, dtype=np.int32)
        if not len(items):
            return cls(codes)
        found, distinct = pd.factorize(np.array(items, dtype=object))  # None becomes -1
        codes[np.asarray(rows, dtype=np.intp)] = found
        return cls(codes, [str(v) for v in distinct])

    @property
    def lookup(self) -> dict[str, int]:
        """The code of each value, made when first asked for: most columns are never compared by
        value, and a column of run ids or artifact paths would hold a dict entry per run."""
        if self._lookup is None:
            self._lookup = {v: i for i, v in enumerate(self.values)}
        return self._lookup

    def code(self, value: str) -> int:
        """The code of ``value``, added to the column's distinct values when it is new."""
        code = self.lookup.get(value)
        if code is None:
            code = self.lookup[value] = len(self.values)
            self.values.append(value)
            self._value_ranks = self._value_objects = None
        return code

    def set(self, row: int, value: Any) -> None:
        """Hold ``value`` at ``row``; None makes the row missing."""
        self.codes[row] = -1 if value is None else self.code(value)
        self._first_keys.clear()

    def where(self, test: Callable[[str], bool]) -> Mask:
        """Rows whose value passes ``test``, evaluated once per distinct value."""
        per_value = np.fromiter(map(test, self.values), dtype=bool, count=len(self.values))
        return self._holding(np.flatnonzero(per_value))

    def among(self, wanted: Collection[Any]) -> Mask:
        """Rows whose value is one of ``wanted``: compares codes, so it costs nothing per distinct value."""
        return self._holding([self.lookup[v] for v in wanted if isinstance(v, str) and v in self.lookup])

    def _holding(self, codes: Sequence[int] | Indices) -> Mask:
        """Rows whose code is one of ``codes``."""
        if len(codes) <= _FEW_CODES:
            # A pass of comparisons per code reads the codes in order, where a table lookup per row
            # costs more: a gather, read at random once the table outgrows the cache (a run_id IN list).
            found = np.zeros(len(self.codes), dtype=bool)
            for code in codes:
                found |= self.codes == code
            return found
        table = np.zeros(len(self.values) + 1, dtype=bool)  # the last entry answers code -1
        table[np.asarray(codes, dtype=np.intp)] = True
        return np.take(table, self.codes)

    def present(self) -> Mask:
        """The rows that have a value."""
        return self.codes >= 0

    def present_at(self, rows: Indices) -> Mask:
        """Whether each of ``rows`` has a value."""
        return self.codes[rows] >= 0

    def decoded(self, rows: Indices) -> npt.NDArray[np.object_]:
        """The values of ``rows`` as Python strings, None where missing."""
        if self._value_objects is None:
            self._value_objects = np.array([*self.values, None], dtype=object)
        return self._value_objects[self.codes[rows]]

    def sort_rank(self) -> npt.NDArray[np.int64]:
        """Each row's rank in code-point order of its value; missing rows get rank 0 (their tier decides)."""
        if self._value_ranks is None:  # sorting strings is the slow part: once per set of values
            count = len(self.values)
            ranks = np.zeros(count + 1, dtype=np.int64)
            ranks[np.argsort(np.array(self.values, dtype=object), kind="stable")] = np.arange(count)
            self._value_ranks = ranks
        return self._value_ranks[self.codes]

    def first_key(self, descending: bool) -> npt.NDArray[np.int64]:
        """Every row's key as the most significant sort key (:func:`_candidates`): its rank, negated
        for ``descending``, and past every rank where it has no value (cached until a row changes)."""
        found = self._first_keys.get(descending)
        if found is None:
            ranks = self.sort_rank()
            found = np.where(self.codes >= 0, -ranks if descending else ranks, np.iinfo(np.int64).max)
            self._first_keys[descending] = found
        return found


@dataclass
class NumberColumn:
    """Numbers as float64 with a presence mask: ``values[i]`` counts only where ``present_mask[i]``
    (a NaN is a value, not a missing one)."""

    values: npt.NDArray[np.float64]
    present_mask: Mask
    exact: npt.NDArray[np.object_] | None = None
    """The values as given, kept only in a column of run times (``exact_times``) when one of them is an
    integer no float holds (beyond 2**53 milliseconds), so run times compare exactly, as MLflow's do."""
    exact_times: bool = False
    _first_keys: dict[bool, npt.NDArray[Any]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        size: int,
        rows: Sequence[int] | Indices,
        items: Sequence[float | int] | npt.NDArray[Any],
        exact_times: bool = False,
    ) -> NumberColumn:
        """A column over ``size`` runs holding ``items[i]`` at row ``rows[i]``, every other row missing;
        an integer past a float's range is infinity. ``exact_times`` marks a column of run times."""
        values = np.zeros(size, dtype=np.float64)
        present = np.zeros(size, dtype=bool)
        where = np.asarray(rows, dtype=np.intp)
        try:
            values[where] = items
        except OverflowError:  # an integer past a float's range: infinity, as MLflow reads it
            values[where] = [as_float(item) for item in items]
        present[where] = True
        column = cls(values, present, None, exact_times)
        if exact_times and not _exact_floats(items):
            column.exact = np.zeros(size, dtype=object)
            column.exact[where] = list(items)
        return column

    def set(self, row: int, value: Any) -> None:
        """Hold ``value`` at ``row`` (None makes the row missing), exactly in a column of run times."""
        self.present_mask[row] = value is not None
        self.values[row] = 0.0 if value is None else as_float(value)
        self._first_keys.clear()
        if self.exact_times and self.exact is None and value is not None and not exact_float(value):
            self.exact = self.values.astype(object)
        if self.exact is not None:
            self.exact[row] = 0 if value is None else value

    def held(self) -> npt.NDArray[np.object_]:
        """The values as Python numbers, exact: compared with an integer, they compare as MLflow's do."""
        return self.exact if self.exact is not None else self.values.astype(object)

    def present(self) -> Mask:
        """The rows that have a value."""
        return self.present_mask

    def present_at(self, rows: Indices) -> Mask:
        """Whether each of ``rows`` has a value."""
        return self.present_mask[rows]

    def decoded(self, rows: Indices) -> npt.NDArray[np.float64]:
        """The values of ``rows``, NaN where missing."""
        return np.where(self.present_mask[rows], self.values[rows], np.nan)

    def first_key(self, descending: bool) -> npt.NDArray[np.float64]:
        """Every row's key as the most significant sort key (:func:`_candidates`): its value, negated
        for ``descending``, and infinity where it has none or NaN, which sort after every value (an
        infinite value ties with them there, which only adds candidates); cached until a row changes."""
        found = self._first_keys.get(descending)
        if found is None:
            valued = self.present_mask & ~np.isnan(self.values)
            found = np.where(valued, -self.values if descending else self.values, np.inf)
            self._first_keys[descending] = found
        return found


Column = StringColumn | NumberColumn


def _exact_floats(items: Sequence[float | int] | npt.NDArray[Any]) -> bool:
    """Whether a float holds each of ``items`` exactly (every integer up to 2**53 in size)."""
    if isinstance(items, np.ndarray) and items.dtype.kind in "iuf":
        return items.dtype.kind == "f" or bool((np.abs(items) <= 2**53).all())
    return all(exact_float(item) for item in items)


def _exactly(key: Key, column: NumberColumn, values: Sequence[Any]) -> bool:
    """Whether a run attribute must be compared as Python numbers: MLflow compares run times as given,
    and float64 would round a time or a literal beyond 2**53 (metrics compare as floats, as MLflow's)."""
    return key.entity is Entity.ATTRIBUTE and (
        column.exact is not None or not all(exact_float(v) for v in values)
    )


class _Truth:
    """SQL's three-valued logic as two masks; rows in neither are unknown. The false mask is made only
    when asked for (under NOT, or for an enclosing AND or OR's own false mask): a filter without NOT
    needs none, and each costs passes over every run."""

    def __init__(self, true: Mask, false: Callable[[], Mask]) -> None:
        self.true = true
        self._make_false: Callable[[], Mask] | None = false
        self._false: Mask | None = None

    @property
    def false(self) -> Mask:
        """The rows for which the condition is false."""
        if self._false is None:
            assert self._make_false is not None
            self._false, self._make_false = self._make_false(), None
        return self._false


class ColumnarRuns:
    """A column store over a fixed sequence of runs; ``refresh(i)`` re-reads run ``i`` after a change.

    Built from Run objects, which it keeps; :class:`runql.engines.column_first.ColumnFirstRuns` is built from
    columns instead, and makes the runs from them when asked.
    """

    def __init__(self, runs: Sequence[Any]) -> None:
        held = list(runs)
        size = len(held)
        attributes: dict[str, Column] = {}
        for name in _STRING_ATTRIBUTES:
            items = [getattr(run.info, name) for run in held]
            attributes[name] = StringColumn.build(size, range(size), items)
        for name in _NUMERIC_ATTRIBUTES:
            rows, items = [], []
            for row, run in enumerate(held):
                value = run_attribute(run, name)
                if value is not None:
                    rows.append(row)
                    items.append(value)
            attributes[name] = NumberColumn.build(size, rows, items, exact_times=True)
        self._attach(
            held,
            attributes,
            _data_columns(held, "metrics", number=True),
            _data_columns(held, "params", number=False),
            _data_columns(held, "tags", number=False),
            {row for row, run in enumerate(held) if _dataset_inputs(run)},
        )

    def _attach(
        self,
        runs: Sequence[Any],
        attributes: dict[str, Column],
        metrics: dict[str, Column],
        params: dict[str, Column],
        tags: dict[str, Column],
        dataset_rows: set[int],
    ) -> None:
        self.runs = runs
        self.attributes = attributes
        self.metrics = metrics
        self.params = params
        self.tags = tags
        # The rows whose runs have dataset inputs: the only ones a dataset clause can select.
        self.dataset_rows = dataset_rows
        self._natural_order: Indices | None = None
        self._natural_place: Indices | None = None
        self._scopes: dict[tuple[str, frozenset[str]], Mask] = {}
        # Functions of a metric's history, one column per (function, key, step), computed when a query
        # first asks for it from the points of that key, which are read once (from a store in bulk).
        self._points: dict[str, HistoryPoints] = {}
        self._aggregates: dict[Key, NumberColumn] = {}

    def runs_at(self, rows: Indices) -> list[Any]:
        """The runs of ``rows``, in that order."""
        return [self.runs[row] for row in rows.tolist()]

    def row_of(self, run_id: str) -> int | None:
        """The row of run ``run_id``, None when no run has it (run ids are unique, so a run id's code
        is its row)."""
        column = self.attributes["run_id"]
        assert isinstance(column, StringColumn)
        return column.lookup.get(run_id)

    def run_ids(self) -> list[str]:
        """Every run's id, in row order."""
        column = self.attributes["run_id"]
        assert isinstance(column, StringColumn)
        return column.values

    def last_started(self, within: Mask) -> int | None:
        """The row of the run ``within`` that started last (the first such row on a tie); None when no run
        there has a start time."""
        start = self.attributes["start_time"]
        assert isinstance(start, NumberColumn)
        rows = np.flatnonzero(within & start.present())
        if not len(rows):
            return None
        times = start.held()[rows] if start.exact is not None else start.values[rows]
        return int(rows[int(np.argmax(times))])

    def _history_runs(self, name: str) -> Iterable[tuple[int, Any]]:
        """(row, run) for every run that may have points of metric ``name``."""
        return enumerate(self.runs)

    def refresh(self, row: int, data: bool = True) -> None:
        """Re-read the run at ``row`` into the columns after an edit; ``data=False`` re-reads only its
        attributes (a status, an end time or a lifecycle stage changed)."""
        run = self.runs[row]
        self._scopes.clear()
        if (run.info.run_id, run.info.start_time) != self._natural_key(row):
            self._natural_order = self._natural_place = None
        for name in _STRING_ATTRIBUTES:
            column = self.attributes[name]
            assert isinstance(column, StringColumn)
            column.set(row, getattr(run.info, name))
        for name in _NUMERIC_ATTRIBUTES:
            number = self.attributes[name]
            assert isinstance(number, NumberColumn)
            value = run_attribute(run, name)
            number.set(row, value)
        if data:
            self._refresh_data(row)
            self._points.clear()  # a logged point changes the history columns: computed again when asked
            self._aggregates.clear()
        if _dataset_inputs(run):
            self.dataset_rows.add(row)

    def _refresh_data(self, row: int) -> None:
        run, size = self.runs[row], len(self.runs)
        for part, columns, empty in (
            ("metrics", self.metrics, lambda: NumberColumn.build(size, [], [])),
            ("params", self.params, lambda: StringColumn.build(size, [], [])),
            ("tags", self.tags, lambda: StringColumn.build(size, [], [])),
        ):
            current = getattr(run.data, part)
            for key in current.keys() - columns.keys():
                columns[key] = empty()
            for key, column in columns.items():
                column.set(row, current.get(key))

    def _natural_key(self, row: int) -> tuple[str | None, float | None]:
        """The (run_id, start_time) the columns hold for ``row``: what the natural order rests on."""
        run_id, start = self.attributes["run_id"], self.attributes["start_time"]
        assert isinstance(run_id, StringColumn) and isinstance(start, NumberColumn)
        code = int(run_id.codes[row])
        return (
            run_id.values[code] if code >= 0 else None,
            float(start.values[row]) if start.present_mask[row] else None,
        )

    # -- filtering -------------------------------------------------------------------------

    def column(self, key: Key) -> Column | None:
        """The column of ``key``'s values; None when no run has the key, and for a dataset key. An
        attribute runs do not have is an ``unknown-attribute`` :class:`EvaluationError`."""
        if key.aggregate is not None:
            return self.history_column(key)
        if key.entity is Entity.METRIC:
            return self.metrics.get(key.name)
        if key.entity is Entity.PARAM:
            return self.params.get(key.name)
        if key.entity is Entity.TAG:
            return self.tags.get(key.name)
        if key.entity is Entity.ATTRIBUTE:
            found = self.attributes.get(key.name)
            if found is None:
                raise EvaluationError(f"runs have no attribute {key.name!r}", code="unknown-attribute")
            return found
        return None

    def history_column(self, key: Key) -> NumberColumn:
        """The column of an aggregate over a metric's history (``min(metrics.loss)``), built once."""
        found = self._aggregates.get(key)
        if found is None:
            size = len(self.runs)
            latest = self.metrics.get(key.name)
            if not isinstance(latest, NumberColumn):
                latest = NumberColumn.build(size, [], [])
            points = self._history_points(key.name)
            values, present = history_column(points, key, (latest.values, latest.present_mask))
            found = self._aggregates[key] = NumberColumn(values, present)
        return found

    def _history_points(self, name: str) -> HistoryPoints:
        """Every point of metric ``name`` over all runs; a store's histories are read in one pass."""
        found = self._points.get(name)
        if found is not None:
            return found
        histories: list[tuple[int, Sequence[Metric]]] = []
        stored: dict[int, tuple[HistorySource, list[tuple[int, str]]]] = {}
        owners: dict[int, Any] = {}
        for row, run in self._history_runs(name):
            data = run.data
            kept = getattr(data, "histories", {}).get(name)
            if kept is not None:
                histories.append((row, kept))
            elif getattr(data, "stored", None) is not None:
                source = data.stored.source
                stored.setdefault(id(source), (source, []))[1].append((row, data.stored.run_id))
                owners[row] = run
            elif name in data.metrics:
                if not hasattr(data, "history"):
                    raise EvaluationError(
                        "these runs carry no metric histories, so a function of one cannot be computed",
                        code="unsupported-aggregate",
                    )
                histories.append((row, data.history(name)))
        for source, rows in stored.values():
            points = source.histories([run_id for _, run_id in rows], (name,))
            for row, run_id in rows:
                history = points.get(run_id, {}).get(name)
                if history:
                    histories.append((row, history))
                elif name in owners[row].data.metrics:  # a plain value: its one point
                    histories.append((row, owners[row].data.history(name)))
        found = self._points[name] = HistoryPoints(len(self.runs), histories)
        return found

    def mask(self, expr: Expr | None) -> Mask:
        """The rows ``expr`` selects (unknown counts as not selected)."""
        if expr is None:
            return np.ones(len(self.runs), dtype=bool)
        return self._truth(expr).true

    def _nothing(self) -> _Truth:
        empty = np.zeros(len(self.runs), dtype=bool)
        return _Truth(empty, lambda: empty)

    def _truth(self, expr: Expr) -> _Truth:
        match expr:
            case And(terms):
                parts = [self._truth(t) for t in terms]
                return _Truth(
                    np.logical_and.reduce([p.true for p in parts]),
                    lambda: np.logical_or.reduce([p.false for p in parts]),
                )
            case Or(terms):
                parts = [self._truth(t) for t in terms]
                return _Truth(
                    np.logical_or.reduce([p.true for p in parts]),
                    lambda: np.logical_and.reduce([p.false for p in parts]),
                )
            case Not(term):
                inner = self._truth(term)
                return _Truth(inner.false, lambda: inner.true)
            case IsNull(key, negated):
                present = self._present(key)
                return _Truth(present, lambda: ~present) if negated else _Truth(~present, lambda: present)
            case Compare(key, op, literal) if key.entity is Entity.DATASET:
                return self._datasets(lambda run: dataset_clause_matches(run, key.name, op, literal.value))
            case In(key, literals, negated) if key.entity is Entity.DATASET:
                wanted = {lit.value for lit in literals}
                return self._datasets(
                    lambda run: dataset_clause_matches(run, key.name, None, wanted, negated)
                )
            case Compare(key, op, literal):
                return self._compare(key, op, literal.value)
            case In(key, literals, negated):
                return self._in(key, tuple(lit.value for lit in literals), negated)
            case _:
                assert_never(expr)

    def _present(self, key: Key) -> Mask:
        if key.entity is Entity.DATASET:
            return self._datasets(lambda run: bool(dataset_values(run, key.name))).true
        column = self.column(key)
        return np.zeros(len(self.runs), dtype=bool) if column is None else column.present()

    def _compare(self, key: Key, op: Op, value: Any) -> _Truth:
        column = self.column(key)
        if column is None:
            return self._nothing()
        present = column.present()
        if isinstance(column, NumberColumn):
            if isinstance(value, str):
                raise EvaluationError(f"{key.name} holds numbers, not {value!r}", code="bad-value-type")
            if _exactly(key, column, (value,)):
                compare = _COMPARE[op]
                held = column.held()
                result = np.fromiter((bool(compare(x, value)) for x in held), dtype=bool, count=len(held))
            else:
                with np.errstate(invalid="ignore"):
                    result = _COMPARE[op](column.values, as_float(value))
        elif op.is_pattern:
            match = pattern_matcher(op, str(value))
            result = column.where(match)
        else:
            if not isinstance(value, str):
                raise EvaluationError(f"{key.name} holds strings, not {value!r}", code="bad-value-type")
            if op in (Op.EQ, Op.NE):
                result = column.among((value,))
                if op is Op.NE:
                    result = ~result
            else:
                compare = _COMPARE[op]
                result = column.where(lambda s: compare(s, value))
        return _Truth(present & result, lambda: present & ~result)

    def _in(self, key: Key, values: tuple[Any, ...], negated: bool) -> _Truth:
        column = self.column(key)
        if column is None:
            return self._nothing()
        present = column.present()
        if isinstance(column, NumberColumn):
            if _exactly(key, column, values):
                wanted = frozenset(values)
                held = column.held()
                result = np.fromiter((x in wanted for x in held), dtype=bool, count=len(held))
            else:
                result = np.isin(column.values, np.array([as_float(v) for v in values]))
        else:
            result = column.among(values)
        if negated:
            result = ~result
        return _Truth(present & result, lambda: present & ~result)

    def _datasets(self, test: Callable[[Any], bool]) -> _Truth:
        # A dataset clause is never unknown: a run without dataset inputs fails it (and NOT passes).
        result = np.zeros(len(self.runs), dtype=bool)
        if self.dataset_rows:
            rows = np.array(sorted(self.dataset_rows), dtype=np.intp)
            result[rows] = [test(run) for run in self.runs_at(rows)]
        return _Truth(result, lambda: ~result)

    # -- ordering --------------------------------------------------------------------------

    def _natural(self) -> Indices:
        """Every row in MLflow's natural order: start_time DESC, then run_id ASC (cached)."""
        if self._natural_order is None:
            run_id = self.attributes["run_id"]
            start = self.attributes["start_time"]
            assert isinstance(run_id, StringColumn) and isinstance(start, NumberColumn)
            every = np.arange(len(self.runs))
            self._natural_order = np.lexsort(
                [run_id.sort_rank(), *_sort_arrays(start, descending=True, rows=every)]
            )
        return self._natural_order

    def search(
        self,
        expr: Expr | None,
        order_by: Sequence[SortKey] = (),
        within: Mask | None = None,
        first: int | None = None,
    ) -> Indices:
        """Row numbers of the runs ``expr`` selects (restricted to ``within``) in MLflow's order: the
        order_by keys, then start_time DESC, run_id ASC. Missing values and NaN sort last in both
        directions (values, then NaN, then missing). With ``first``, only the first ``first`` rows are
        in that order; the others follow in no promised order (a page needs only its own end sorted)."""
        selected = self.mask(expr)
        if within is not None:
            selected = selected & within  # never in place: a mask may be a column's own array
        columns: list[tuple[Column, bool]] = []
        for sort_key in order_by:
            column = self.column(sort_key.key)
            if column is None:
                if sort_key.key.entity is Entity.DATASET:
                    raise EvaluationError("runs cannot be ordered by datasets", code="unsupported-order-by")
                continue
            columns.append((column, sort_key.descending))
        if not columns:
            return self._naturally(selected, first)
        rows = np.flatnonzero(selected)
        places = self._natural_places()
        if first is not None and first > 0 and first * _TOP_FRACTION < len(rows):
            candidates = _candidates(*columns[0], rows, first)
            head = candidates[_lexsorted(columns, rows[candidates], places[rows[candidates]])]
            rest = np.ones(len(rows), dtype=bool)
            rest[head] = False
            return np.concatenate([rows[head], rows[rest]])
        return rows[_lexsorted(columns, rows, places[rows])]

    def _naturally(self, selected: Mask, first: int | None) -> Indices:
        """The ``selected`` rows in the natural order, or only their first ``first`` (then the others in
        row order): the natural order is read from its start in growing steps until they are found."""
        natural = self._natural()
        if first is None or first <= 0:
            return natural[selected[natural]]
        found: list[Indices] = []
        count, start, step = 0, 0, max(_TOP_FRACTION * first, _FIRST_STEP)
        while count < first and start < len(natural):
            part = natural[start : start + step]
            found.append(part[selected[part]])
            count += len(found[-1])
            start, step = start + step, step * 2
        head = np.concatenate(found) if found else natural[:0]
        if start >= len(natural):
            return head
        rest = selected.copy()
        rest[head] = False
        return np.concatenate([head, np.flatnonzero(rest)])

    def _natural_places(self) -> Indices:
        """Each row's place in the natural order (cached with it)."""
        if self._natural_place is None:
            natural = self._natural()
            self._natural_place = np.empty(len(natural), dtype=np.intp)
            self._natural_place[natural] = np.arange(len(natural))
        return self._natural_place

    def select(
        self, compiled: CompiledQuery, within: Mask | None = None, first: int | None = None
    ) -> Selection:
        """The runs ``compiled`` selects among ``within``, in its order (only the first ``first`` when
        given, as :meth:`search` says), read only when a page of them is taken."""
        return Selection(self, self.search(compiled.query.filter, compiled.query.order_by, within, first))

    def frame(self, rows: Indices) -> pd.DataFrame:
        """The DataFrame of ``rows`` as ``mlflow.search_runs`` lays it out, read from the columns."""
        columns: dict[str, Any] = {name: self.attributes[name].decoded(rows) for name in INFO_COLUMNS}
        for prefix, group in (("metrics.", self.metrics), ("params.", self.params), ("tags.", self.tags)):
            # A key's column comes where the key is first seen; keys first seen in one run, by name.
            first_seen = []
            for key, column in group.items():
                present = column.present_at(rows)
                if present.any():
                    first_seen.append((int(present.argmax()), key, column))
            for _, key, column in sorted(first_seen, key=lambda item: item[:2]):
                columns[prefix + key] = column.decoded(rows)
        return frame_from_columns(columns, len(rows))

    def holds(self, key: Key, rows: Indices) -> bool:
        """Whether some run of ``rows`` has the metric, param or tag ``key``."""
        column = {Entity.METRIC: self.metrics, Entity.PARAM: self.params, Entity.TAG: self.tags}[
            key.entity
        ].get(key.name)
        return column is not None and bool(column.present_at(rows).any())

    def present_keys(self, within: Mask, named: Sequence[Key]) -> dict[str, frozenset[str]]:
        """Of each kind, the keys of ``named`` some run ``within`` has, one column read per key; every
        key of a kind some run has only where one of ``named`` is absent (the close keys a warning
        names)."""
        rows = np.flatnonzero(within)
        found: dict[str, frozenset[str]] = {}
        for kind, entity, columns in (
            ("metrics", Entity.METRIC, self.metrics),
            ("params", Entity.PARAM, self.params),
            ("tags", Entity.TAG, self.tags),
        ):
            names = {key.name for key in named if key.entity is entity}
            held = {name for name in names if name in columns and columns[name].present_at(rows).any()}
            if held == names:
                found[kind] = frozenset(held)
            else:
                found[kind] = frozenset(k for k, column in columns.items() if column.present_at(rows).any())
        return found

    def key_names(self, within: Mask) -> dict[str, frozenset[str]]:
        """The metric, param and tag keys some run ``within`` has, by kind."""
        rows = np.flatnonzero(within)
        return {
            kind: frozenset(k for k, column in columns.items() if column.present_at(rows).any())
            for kind, columns in (("metrics", self.metrics), ("params", self.params), ("tags", self.tags))
        }

    def among(self, attribute: str, allowed: Collection[str]) -> Mask:
        """Rows whose string ``attribute`` (``experiment_id``, ``lifecycle_stage``, ...) is in ``allowed``:
        the same few scopes (experiments, view types) come with every search, so each is kept until a
        run changes; read-only, since the caller shares it."""
        scope = (attribute, frozenset(allowed))
        found = self._scopes.get(scope)
        if found is None:
            column = self.attributes[attribute]
            assert isinstance(column, StringColumn)
            found = column.among(allowed)
            found.flags.writeable = False
            if len(self._scopes) >= _KEPT_SCOPES:
                self._scopes.clear()
            self._scopes[scope] = found
        return found


class Selection(Sequence[Any]):
    """Runs in search order; slicing materialises only the runs of the slice."""

    def __init__(self, store: ColumnarRuns, rows: Indices) -> None:
        self._store = store
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def holds(self, key: Key) -> bool:
        """Whether some selected run has the metric, param or tag ``key``."""
        return self._store.holds(key, self._rows)

    def frame(self, limit: int | None = None) -> pd.DataFrame:
        """The first ``limit`` runs (all when None) as ``mlflow.search_runs``'s DataFrame."""
        return self._store.frame(self._rows[:limit])

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._store.runs_at(self._rows[index])
        return self._store.runs_at(self._rows[[index]])[0]


def _lexsorted(columns: Sequence[tuple[Column, bool]], rows: Indices, tiebreak: Indices) -> Indices:
    """Positions in ``rows`` in the order of ``columns`` (column, descending), the first key most
    significant, and of ``tiebreak`` (each row's place in the natural order) among rows that tie on
    every key."""
    keys: list[npt.NDArray[Any]] = [tiebreak]
    for column, descending in reversed(columns):
        keys.extend(_sort_arrays(column, descending, rows))
    return np.lexsort(keys)


def _candidates(column: Column, descending: bool, rows: Indices, first: int) -> Indices:
    """Positions in ``rows`` (ascending) of every row that can be among the ``first`` of the order whose
    most significant key is ``column``: those at or before the ``first``-th row on that key alone,
    ties at the cut included, so sorting them by every key gives the same first rows as sorting all."""
    keys = column.first_key(descending)[rows]
    cut = keys[np.argpartition(keys, first - 1)[first - 1]]
    return np.flatnonzero(keys <= cut)


def _sort_arrays(column: Column, descending: bool, rows: Indices) -> list[npt.NDArray[Any]]:
    """[value key, tier] for lexsort: the tiers of :mod:`runql.engines.semantics` (values, NaN, missing)."""
    present = column.present_at(rows)
    if isinstance(column, NumberColumn):
        values = column.values[rows]
        nan = present & np.isnan(values)
        value_key = np.where(present & ~nan, -values if descending else values, 0.0)
    else:
        nan = np.zeros(len(rows), dtype=bool)
        ranks = column.sort_rank()[rows]
        value_key = np.where(present, -ranks if descending else ranks, 0)
    tier = np.where(present, np.where(nan, TIER_NAN, TIER_VALUE), TIER_MISSING)
    return [value_key, tier]


def _data_columns(runs: Sequence[Any], part: str, number: bool) -> dict[str, Column]:
    """A column per key of ``part`` (metrics, params or tags) of ``runs``."""
    size = len(runs)
    rows: dict[str, list[int]] = defaultdict(list)
    items: dict[str, list[Any]] = defaultdict(list)
    for row, run in enumerate(runs):
        for key, value in getattr(run.data, part).items():
            rows[key].append(row)
            items[key].append(value)
    if number:
        return {k: NumberColumn.build(size, rows[k], items[k]) for k in rows}
    return {k: StringColumn.build(size, rows[k], items[k]) for k in rows}


def _dataset_inputs(run: Any) -> Sequence[Any]:
    inputs = getattr(run, "inputs", None)
    return getattr(inputs, "dataset_inputs", None) or ()


# -- functions of a metric's history (the rules are runql.engines.aggregates')


class HistoryPoints:
    """Every point of one metric over all runs, as flat arrays: the row (run) of each point and its
    value, and, read when a function first needs them (first, at_step), its step and timestamp.

    The fields are read from a :class:`History`'s arrays as they are, and from other points in C loops
    (``map`` over an attribute getter into ``np.fromiter``): neither creates objects for the collector."""

    def __init__(self, size: int, histories: Sequence[tuple[int, Sequence[Metric]]]) -> None:
        self.size = size
        lengths = np.fromiter((len(points) for _, points in histories), dtype=np.intp, count=len(histories))
        row_of_run = np.fromiter((row for row, _ in histories), dtype=np.intp, count=len(histories))
        self.rows: npt.NDArray[np.intp] = np.repeat(row_of_run, lengths)  # each run's points contiguous
        self._histories: Sequence[tuple[int, Sequence[Metric]]] | None = histories
        self.values: npt.NDArray[np.float64] = self._field("value", np.float64)
        self._steps: npt.NDArray[np.int64] | None = None
        self._timestamps: npt.NDArray[np.int64] | None = None

    def _field(self, name: str, dtype: Any) -> Any:
        assert self._histories is not None
        # A History holds its points as arrays: joined in one C call, without a Metric per point.
        held = {"value": "values", "step": "steps", "timestamp": "timestamps"}[name]
        if all(type(points) is History for _, points in self._histories):
            joined = b"".join(getattr(points, held) for _, points in self._histories)
            return np.frombuffer(joined, dtype=dtype)
        points = chain.from_iterable(points for _, points in self._histories)
        return np.fromiter(map(attrgetter(name), points), dtype=dtype, count=len(self.rows))

    def _read_times(self) -> None:
        if self._steps is None or self._timestamps is None:
            self._steps = self._field("step", np.int64)
            self._timestamps = self._field("timestamp", np.int64)
            self._histories = None  # every field is read: the points are no longer needed

    @property
    def steps(self) -> npt.NDArray[np.int64]:
        """The step of each point, in the order of ``rows`` and ``values``."""
        self._read_times()
        assert self._steps is not None
        return self._steps

    @property
    def timestamps(self) -> npt.NDArray[np.int64]:
        """The timestamp of each point (milliseconds), in the order of ``rows`` and ``values``."""
        self._read_times()
        assert self._timestamps is not None
        return self._timestamps


def history_column(
    points: HistoryPoints, key: Key, latest: tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """The aggregate ``key`` for every row: (values, present). ``latest`` is the column of the plain
    metric (its latest values), which ``last`` is."""
    aggregate = key.aggregate
    assert aggregate is not None
    if aggregate is Aggregate.LAST:
        return latest[0].copy(), latest[1].copy()
    rows, values = points.rows, points.values
    if aggregate is Aggregate.AT_STEP:
        kept = points.steps == key.step
        rows, values = rows[kept], values[kept]
    out = np.zeros(points.size, dtype=np.float64)
    present = np.zeros(points.size, dtype=bool)
    if len(rows) == 0:
        return out, present
    nan = np.isnan(values)
    starts = _group_starts(rows)  # each run's points are contiguous
    if aggregate in (Aggregate.FIRST, Aggregate.AT_STEP):
        number = np.where(nan, 0.0, values)
        if aggregate is Aggregate.FIRST:  # smallest step, then timestamp; a number before NaN; smallest value
            ranks = [(points.steps, False), (points.timestamps, False), (nan, False), (number, False)]
        else:  # greatest timestamp; a number before NaN; greatest value
            ranks = [(points.timestamps[kept], True), (~nan, True), (number, True)]
        chosen = _best_of_each_run(starts, ranks)
        out[rows[chosen]] = values[chosen]
        present[rows[chosen]] = True
        return out, present
    present[rows] = True
    if aggregate is Aggregate.COUNT:
        out[:] = np.bincount(rows, minlength=points.size)
        return out, present
    if aggregate in (Aggregate.MIN, Aggregate.MAX):
        # fmin and fmax skip NaN, and give NaN for a run of NaN points only.
        reduce = np.fmin if aggregate is Aggregate.MIN else np.fmax
        out[rows[starts]] = reduce.reduceat(values, starts)
        return out, present
    # The mean is the correctly rounded sum of each run's numbers (aggregates.mean): one Python pass.
    listed = values.tolist()
    bounds = [*starts.tolist(), len(listed)]
    out[rows[starts]] = [
        mean(kept) if (kept := [v for v in listed[a:b] if v == v]) else math.nan for a, b in pairwise(bounds)
    ]
    return out, present


def _best_of_each_run(
    starts: npt.NDArray[np.intp], ranks: Sequence[tuple[npt.NDArray[Any], bool]]
) -> npt.NDArray[np.intp]:
    """The index of each run's best point: the points are ranked by each array in turn (greatest first
    when its flag is set, else smallest), and of points tied on every array the first logged, as
    Python's min() and max() keep. Linear: one reduction per run and array, no sort."""
    size = len(ranks[0][0])
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, size)))
    candidate = np.ones(size, dtype=bool)
    for array, greatest in ranks:
        keys = array.view(np.int8) if array.dtype == bool else array
        masked = np.where(candidate, keys, _beaten_by_all(keys.dtype, greatest))
        best = (np.maximum if greatest else np.minimum).reduceat(masked, starts)
        candidate &= keys == best[group]
    kept = np.flatnonzero(candidate)
    return kept[_group_starts(group[kept])]


def _beaten_by_all(dtype: np.dtype[Any], greatest: bool) -> Any:
    """A value that no key of ``dtype`` loses to: the lowest when the greatest wins, else the highest."""
    if dtype.kind == "f":
        return -np.inf if greatest else np.inf
    bounds = np.iinfo(dtype)
    return bounds.min if greatest else bounds.max


def _group_starts(sorted_rows: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The index of the first element of each run of equal values in ``sorted_rows``."""
    return np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
