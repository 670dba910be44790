"""The entities a workspace holds, shaped like ``mlflow.entities`` so code written for MLflow reads them.

``Run`` has ``info`` (:class:`RunInfo`), ``data`` (:class:`RunData`: the latest value of each metric,
params and tags) and ``inputs`` (:class:`RunInputs`: dataset inputs). Every metric point is a
:class:`Metric`; a run keeps its full history per key next to the latest values, or, loaded from a
store that keeps them (a tracking database), reads a history from there when asked for
(:class:`HistorySource`). The classes are slotted dataclasses: a workspace builds hundreds of
thousands of them.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import repeat
from typing import Any, Protocol, overload

from runql.common.redact import shown_value
from runql.errors import ArgumentError

__all__ = [
    "DATASET_CONTEXT_TAG",
    "RUN_NAME_TAG",
    "Dataset",
    "DatasetInput",
    "Experiment",
    "FileInfo",
    "History",
    "HistorySource",
    "InputTag",
    "LifecycleStage",
    "Metric",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunStatus",
    "StoredHistories",
    "ViewType",
    "latest_metric",
]

RUN_NAME_TAG = "mlflow.runName"
DATASET_CONTEXT_TAG = "mlflow.data.context"


class ViewType(IntEnum):
    """Which lifecycle stages a search sees; MLflow's values, so plain ints work too."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @classmethod
    def from_string(cls, text: str, where: str = "run_view_type") -> ViewType:
        """The view MLflow names ``active_only``, ``deleted_only`` or ``all``, or the command's ``active``
        or ``deleted``, in any case, spaces around ignored; another name is an
        :class:`~runql.errors.ArgumentError` (``bad-view-type``) about the argument ``where``."""
        found = _VIEW_NAMES.get(text.strip().lower())
        if found is None:
            raise _view_type_error(text, where)
        return found

    @classmethod
    def coerce(cls, value: int | str | ViewType, where: str = "run_view_type") -> ViewType:
        """The view an argument names: a ViewType, MLflow's int (1, 2, 3) or a name (:meth:`from_string`);
        anything else is an :class:`~runql.errors.ArgumentError` about the argument ``where``."""
        if isinstance(value, str):
            return cls.from_string(value, where)
        if isinstance(value, int) and not isinstance(value, bool) and value in _VIEW_NUMBERS:
            return cls(value)
        raise _view_type_error(value, where)

    @property
    def stages(self) -> frozenset[str]:
        """The lifecycle stages this view shows."""
        return _STAGES[self]


class LifecycleStage:
    """MLflow's lifecycle stages of runs and experiments, stored lower case: a deleted one can be restored."""

    ACTIVE = "active"
    DELETED = "deleted"


# The names a view goes by, lower case: MLflow's, and the command's (runql runs --view active).
_VIEW_NAMES = {
    "active_only": ViewType.ACTIVE_ONLY,
    "active": ViewType.ACTIVE_ONLY,
    "deleted_only": ViewType.DELETED_ONLY,
    "deleted": ViewType.DELETED_ONLY,
    "all": ViewType.ALL,
}
_VIEW_NUMBERS = frozenset(int(view) for view in ViewType)


def _view_type_error(value: Any, where: str) -> ArgumentError:
    return ArgumentError(
        f"unknown view type {shown_value(value)}: the views are 'active_only' (or 'active'), 'deleted_only' "
        "(or 'deleted') and 'all', in any case, or ViewType.ACTIVE_ONLY (1), DELETED_ONLY (2) and ALL (3)",
        code="bad-view-type",
        where=where,
    )


_STAGES = {
    ViewType.ACTIVE_ONLY: frozenset({LifecycleStage.ACTIVE}),
    ViewType.DELETED_ONLY: frozenset({LifecycleStage.DELETED}),
    ViewType.ALL: frozenset({LifecycleStage.ACTIVE, LifecycleStage.DELETED}),
}


class RunStatus:
    """MLflow's run statuses, stored upper case."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)


@dataclass(slots=True)
class Metric:
    """One logged point; positional order as ``mlflow.entities.Metric(key, value, timestamp, step)``."""

    key: str
    value: float
    timestamp: int = 0
    step: int = 0


def latest_metric(history: Sequence[Metric]) -> Metric:
    """MLflow's latest point: highest step, then timestamp, then value; the first logged wins a tie."""
    if isinstance(history, History):
        return history.latest()
    if len(history) == 1:
        return history[0]
    return max(history, key=lambda m: (m.step, m.timestamp, m.value))


class History(Sequence[Metric]):
    """The points of one metric of one run in logged order, kept as three arrays (value, timestamp,
    step) rather than an object per point: ten million points cost three arrays per run, the column
    store reads them at C speed, and the garbage collector has nothing in them to walk. Reading a
    point makes its :class:`Metric`. Timestamps and steps are MLflow's BIGINT: a point beyond raises
    OverflowError, and its history is kept as a list of Metric instead (:func:`history_of`)."""

    __slots__ = ("key", "steps", "timestamps", "values")

    def __init__(
        self, key: str, values: Iterable[float], timestamps: Iterable[int], steps: Iterable[int]
    ) -> None:
        self.key = key
        self.values = array("d", values)
        self.timestamps = array("q", timestamps)
        self.steps = array("q", steps)
        if not len(self.values) == len(self.timestamps) == len(self.steps):
            raise ValueError("a history's values, timestamps and steps differ in number")

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> Metric: ...
    @overload
    def __getitem__(self, index: slice) -> list[Metric]: ...
    def __getitem__(self, index: int | slice) -> Metric | list[Metric]:
        if isinstance(index, slice):
            return list(self)[index]
        return Metric(self.key, self.values[index], self.timestamps[index], self.steps[index])

    def __iter__(self) -> Iterator[Metric]:
        return map(Metric, repeat(self.key), self.values, self.timestamps, self.steps)

    def __eq__(self, other: object) -> bool:
        # The same points, a NaN value equal to a NaN value (the points, not IEEE's comparison).
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(map(_same_point, self, other))

    __hash__ = None  # type: ignore[assignment]  # mutable, as a list

    def __repr__(self) -> str:
        return f"History({self.key!r}, {len(self)} points)"

    def append(self, point: Metric) -> None:
        """Add ``point`` as the last logged; a timestamp or step beyond BIGINT is an OverflowError that
        leaves the history as it was."""
        # Checked first, so a point that does not fit leaves the arrays as they were.
        added = array("q", (point.timestamp, point.step))
        self.values.append(point.value)
        self.timestamps.append(added[0])
        self.steps.append(added[1])

    def latest(self) -> Metric:
        """:func:`latest_metric`, over the arrays: a tuple per point compared in C, the first maximal kept."""
        step, timestamp, value = max(zip(self.steps, self.timestamps, self.values, strict=True))
        return Metric(self.key, value, timestamp, step)


def _same_point(a: Metric, b: Metric) -> bool:
    same_value = a.value == b.value or (a.value != a.value and b.value != b.value)
    return same_value and (a.key, a.timestamp, a.step) == (b.key, b.timestamp, b.step)


def history_of(
    key: str, values: list[float], timestamps: list[int], steps: list[int]
) -> History | list[Metric]:
    """The points as a :class:`History`, or as Metric objects when a timestamp or step is beyond BIGINT."""
    try:
        return History(key, values, timestamps, steps)
    except OverflowError:
        return [Metric(key, v, t, s) for v, t, s in zip(values, timestamps, steps, strict=True)]


@dataclass(slots=True)
class Experiment:
    """Positional order as ``mlflow.entities.Experiment`` (whose ``tags`` is a list; here a dict)."""

    experiment_id: str
    name: str
    artifact_location: str | None = None
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


@dataclass(slots=True)
class RunInfo:
    """Positional order as ``mlflow.entities.RunInfo``."""

    run_id: str
    experiment_id: str
    user_id: str | None = None
    status: str = RunStatus.FINISHED
    start_time: int | None = None
    end_time: int | None = None
    lifecycle_stage: str = LifecycleStage.ACTIVE
    artifact_uri: str | None = None
    run_name: str | None = None

    @property
    def run_uuid(self) -> str:
        """MLflow's older name for ``run_id``."""
        return self.run_id


class HistorySource(Protocol):
    """A store that keeps the metric histories of runs loaded without them, and reads them when asked."""

    def history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key`` of run ``run_id``, in the store's order (empty if none)."""
        ...

    def histories(
        self, run_ids: Sequence[str], keys: Collection[str] | None = None
    ) -> dict[str, dict[str, list[Metric]]]:
        """Every point of the metrics ``keys`` (None: of every metric) of the runs ``run_ids``, by run
        id and key (runs without points left out)."""
        ...


@dataclass(frozen=True, slots=True)
class StoredHistories:
    """Where the histories of one run are kept: run ``run_id`` of ``source``."""

    source: HistorySource
    run_id: str


@dataclass(slots=True)
class RunData:
    """``metrics`` holds the latest value per key.

    ``histories`` holds the logged points of a key, in logged order. A metric given as a plain value
    (``{"auc": 0.9}`` in a record) gets no list: its history is that one point, step 0, at the run's
    start, made when asked (:meth:`history`), which keeps a large workspace small. A run loaded from
    a store that keeps its histories (``stored``) holds none of them: :meth:`history` reads a key's
    points from the store each time, and ``histories`` holds only the keys logged to since.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    histories: dict[str, History | list[Metric]] = field(default_factory=dict, repr=False)
    stored: StoredHistories | None = field(default=None, repr=False, compare=False)
    # The latest point of each key logged through log(), so logging stays constant time per point.
    _latest: dict[str, Metric] = field(default_factory=dict, init=False, repr=False, compare=False)

    def history(self, key: str, default_timestamp: int = 0) -> list[Metric]:
        """Every point of ``key`` in logged order; ``default_timestamp`` dates a plain value."""
        found = self.histories.get(key)
        if found is not None:
            return list(found)
        if self.stored is not None:
            # Not kept here, so not cached either: reading every history would hold them all again.
            points = self.stored.source.history(self.stored.run_id, key)
            if points:
                return points
        if key in self.metrics:
            return [Metric(key, self.metrics[key], default_timestamp, 0)]
        return []

    def log(self, point: Metric, default_timestamp: int = 0) -> None:
        """Append ``point`` to its history and keep ``metrics`` the latest value; a history kept in the
        run's store is read first, and held from then on."""
        history = self.histories.get(point.key)
        if history is None:
            history = self.histories[point.key] = self.history(point.key, default_timestamp)
        latest = self._latest.get(point.key) or (latest_metric(history) if history else point)
        # latest_metric keeps the first of equal points, so a new point wins only when it is greater.
        if (point.step, point.timestamp, point.value) > (latest.step, latest.timestamp, latest.value):
            latest = point
        try:
            history.append(point)
        except OverflowError:  # a step or timestamp beyond BIGINT: this history is kept as objects
            self.histories[point.key] = [*history, point]
        self._latest[point.key] = latest
        self.metrics[point.key] = latest.value


@dataclass(slots=True)
class Dataset:
    """A dataset a run used; positional order as ``mlflow.entities.Dataset``."""

    name: str
    digest: str
    source_type: str | None = None
    source: str | None = None
    schema: str | None = None
    profile: str | None = None


@dataclass(slots=True)
class InputTag:
    """A tag on one dataset input of a run (``mlflow.data.context``: ``training``...), as
    ``mlflow.entities.InputTag``."""

    key: str
    value: str


@dataclass(slots=True)
class DatasetInput:
    """A dataset as one run's input, with the input's tags; as ``mlflow.entities.DatasetInput``."""

    dataset: Dataset
    tags: list[InputTag] = field(default_factory=list)

    @property
    def context(self) -> str | None:
        """The ``mlflow.data.context`` input tag (``training``, ``validation``, ...), if any."""
        for tag in self.tags:
            if tag.key == DATASET_CONTEXT_TAG:
                return tag.value
        return None


@dataclass(slots=True)
class RunInputs:
    """The inputs of a run: its dataset inputs, as ``mlflow.entities.RunInputs``."""

    dataset_inputs: list[DatasetInput] = field(default_factory=list)


@dataclass(slots=True)
class Run:
    """A run as ``mlflow.entities.Run``: ``info`` (ids, status, times), ``data`` (metrics, params,
    tags) and ``inputs`` (datasets)."""

    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: RunInputs = field(default_factory=RunInputs)


@dataclass(slots=True)
class FileInfo:
    """An artifact: ``path`` relative to the run's artifact root; ``file_size`` is None for folders."""

    path: str
    is_dir: bool
    file_size: int | None = None


# -- building from plain records ------------------------------------------------------------
