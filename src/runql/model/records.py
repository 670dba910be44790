"""The entities a workspace holds, shaped like ``mlflow.entities`` so code written for MLflow reads them.

``Run`` has ``info`` (:class:`RunInfo`), ``data`` (:class:`RunData`: the latest value of each metric,
params and tags) and ``inputs`` (:class:`RunInputs`: dataset inputs). Every metric point is a
:class:`Metric`; a run keeps its full history per key next to the latest values, or, loaded from a
store that keeps them (a tracking database), reads a history from there when asked for
(:class:`HistorySource`). The classes are slotted dataclasses: a workspace builds hundreds of
thousands of them.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import repeat
from typing import Any, Protocol, overload

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


_LIFECYCLE = (LifecycleStage.ACTIVE, LifecycleStage.DELETED)

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
        f"unknown view type {_shown(value)}: the views are 'active_only' (or 'active'), 'deleted_only' "
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

_INFO_FIELDS = (
    "run_id",
    "run_name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "artifact_uri",
    "lifecycle_stage",
)
_NON_FINITE = {
    "NaN": math.nan,
    "nan": math.nan,
    "Infinity": math.inf,
    "inf": math.inf,
    "-Infinity": -math.inf,
    "-inf": -math.inf,
}


def metric_value(value: Any) -> float:
    """A metric value as a float; JSON's spellings of NaN and infinity are accepted."""
    if type(value) is float:
        return value
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"a metric value must be a number, not {_shown(value)}")
    return float(value)


# Run and experiment times are kept as float64 columns and shown as pandas timestamps: past 2**53
# milliseconds (285,000 years) neither holds them exactly, so a record beyond is refused at load
# rather than breaking every search later.
TIME_LIMIT = 2**53
# Metric steps and timestamps are MLflow's BIGINT columns.
_INT64 = 2**63


def _optional_int(value: Any, what: str, limit: int = TIME_LIMIT) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be milliseconds since the epoch (an int), not {_shown(value)}")
    if not -limit <= value < limit:
        raise ValueError(f"{what} must be between -{limit} and {limit}, not {_shown(value)}")
    return int(value)


def check_int(value: Any, what: str, *, metric: bool = False) -> int:
    """``value`` as an int, checked as a record's field is: a run's time within 2**53 milliseconds, a
    metric's step or timestamp (``metric``) within MLflow's BIGINT."""
    checked = _optional_int(value, what, _INT64 if metric else TIME_LIMIT)
    if checked is None:
        raise ValueError(f"{what} must be an integer, not None")
    return checked


def check_text(value: Any, what: str) -> str | None:
    """``value`` if it is a string or None."""
    return _optional_text(value, what)


def _shown(value: Any) -> str:
    """A value for an error message: its repr, cut short (a hostile record may hold megabytes)."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _optional_text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{what} must be a string, not {_shown(value)}")


def _one_of(value: Any, allowed: Sequence[str], default: str, what: str) -> str:
    """``value`` if it is one of ``allowed`` (``default`` when None or empty)."""
    if value is None or value == "":
        return default
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {_shown(value)}")
    return value


def _identifier(value: Any, what: str) -> str:
    """An id given as a string or an integer, as a string."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{what} must be a string, not {_shown(value)}")
    return str(value)


def _history(key: str, raw: Any, default_timestamp: int) -> History | list[Metric]:
    if isinstance(raw, Metric):
        return [raw]
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        values: list[float] = []
        timestamps: list[int] = []
        steps: list[int] = []
        for step, item in enumerate(raw):
            if isinstance(item, Mapping):
                if "value" not in item:
                    raise ValueError(f"a point of metric {key!r} has no 'value': {_shown(item)}")
                timestamp = _optional_int(item.get("timestamp"), "a metric timestamp", _INT64)
                values.append(metric_value(item["value"]))
                timestamps.append(default_timestamp if timestamp is None else timestamp)
                steps.append(_optional_int(item.get("step"), "a metric step", _INT64) or 0)
            elif hasattr(item, "value") and hasattr(item, "step"):
                values.append(metric_value(item.value))
                timestamps.append(int(item.timestamp))
                steps.append(int(item.step))
            else:
                values.append(metric_value(item))
                timestamps.append(default_timestamp)
                steps.append(step)
        if not values:
            raise ValueError(f"metric {key!r} has an empty history")
        return history_of(key, values, timestamps, steps)
    return [Metric(key, metric_value(raw), default_timestamp, 0)]


def _strings(raw: Any, what: str) -> dict[str, str]:
    if raw is None:
        return {}
    # A mapping, or a list of Param/RunTag-shaped objects as mlflow.entities.RunData holds internally.
    try:
        items = (
            list(raw.items())
            if type(raw) is dict or isinstance(raw, Mapping)
            else [(item.key, item.value) for item in raw]
        )
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"{what}s must be a mapping of names to values, not {_shown(raw)}") from None
    out = {}
    for key, value in items:
        if not isinstance(key, str):
            raise ValueError(f"{what} keys must be strings, not {_shown(key)}")
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, (Mapping, list, tuple, set, frozenset)):
            # A number becomes its text, as MLflow logs it; a container is a mistake, not a value.
            raise ValueError(f"{what} {key!r} must be a string, not {_shown(value)}")
        else:
            out[key] = str(value)
    return out


def _dataset_input(raw: Any) -> DatasetInput:
    if isinstance(raw, DatasetInput):
        return raw
    if isinstance(raw, Mapping):
        source = raw.get("dataset", raw)
        if not isinstance(source, Mapping):
            raise ValueError(f"an input's dataset must be a mapping, not {_shown(source)}")
        name = source.get("name")
        if isinstance(name, bool) or not isinstance(name, (str, int, float)):
            raise ValueError(f"a dataset needs a 'name' string, not {_shown(name)}")
        digest = source.get("digest")
        dataset = Dataset(
            name=str(name),
            digest="" if digest is None else _identifier(digest, "a dataset digest"),
            source_type=_optional_text(source.get("source_type"), "a dataset source_type"),
            source=_optional_text(source.get("source"), "a dataset source"),
            schema=_optional_text(source.get("schema"), "a dataset schema"),
            profile=_optional_text(source.get("profile"), "a dataset profile"),
        )
        tags = _strings(raw.get("tags"), "input tag")
        if "context" in raw:
            tags.setdefault(DATASET_CONTEXT_TAG, _identifier(raw["context"], "an input context"))
        return DatasetInput(dataset, [InputTag(k, v) for k, v in tags.items()])
    if not hasattr(raw, "dataset"):
        raise ValueError(f"an input must be a mapping with a 'dataset', not {_shown(raw)}")
    ds = raw.dataset
    return DatasetInput(
        Dataset(
            ds.name,
            ds.digest,
            getattr(ds, "source_type", None),
            getattr(ds, "source", None),
            getattr(ds, "schema", None),
            getattr(ds, "profile", None),
        ),
        [InputTag(t.key, t.value) for t in (raw.tags or [])],
    )


def run_from_record(record: Mapping[str, Any] | Any, artifact_root: str | None = None) -> Run:
    """A :class:`Run` from a flat dict (``run_id``, ..., ``metrics``, ``params``, ``tags``, ``inputs``)
    or from any object shaped like ``mlflow.entities.Run``.

    ``metrics`` maps a key to a value, or to a history: a list of ``{"value", "step", "timestamp"}``
    dicts (or of plain numbers, one per step). The latest value follows MLflow's rule.
    ``artifact_root`` is the experiment's artifact location, used when the record has no
    ``artifact_uri``.
    """
    if isinstance(record, Run):
        return record
    if not isinstance(record, Mapping):
        return _run_from_entity(record)
    unknown = set(record) - {*_INFO_FIELDS, "metrics", "params", "tags", "inputs", "datasets", "kind"}
    if unknown:
        raise ValueError(
            f"unknown run record keys {sorted(unknown)}; expected some of "
            f"{[*_INFO_FIELDS, 'metrics', 'params', 'tags', 'inputs']}"
        )
    # Every field is type-checked here, at load: a record that loaded with a wrong type would break
    # every search that reads it later.
    run_id = record.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ValueError(f"a run record needs a non-empty string 'run_id', got {_shown(run_id)}")
    start_time = _optional_int(record.get("start_time"), "start_time")
    end_time = _optional_int(record.get("end_time"), "end_time")
    tags = _strings(record.get("tags"), "tag")
    run_name = _optional_text(record.get("run_name", tags.get(RUN_NAME_TAG)), "run_name")
    experiment_id = _identifier(record.get("experiment_id", "0"), "experiment_id")
    artifact_uri = _optional_text(record.get("artifact_uri"), "artifact_uri")
    if artifact_uri is None and artifact_root:
        artifact_uri = f"{artifact_root.rstrip('/')}/{run_id}/artifacts"
    info = RunInfo(
        run_id=run_id,
        experiment_id=experiment_id,
        run_name=run_name,
        user_id=_optional_text(record.get("user_id"), "user_id"),
        status=_one_of(
            record.get("status"),
            RunStatus.ALL,
            RunStatus.FINISHED if end_time is not None else RunStatus.RUNNING,
            "status",
        ),
        start_time=start_time,
        end_time=end_time,
        artifact_uri=artifact_uri,
        lifecycle_stage=_one_of(
            record.get("lifecycle_stage"), _LIFECYCLE, LifecycleStage.ACTIVE, "lifecycle_stage"
        ),
    )
    data = RunData(params=_strings(record.get("params"), "param"), tags=tags)
    raw_metrics = record.get("metrics") or {}
    # type() first: isinstance against an ABC costs more than the rest of a small record.
    if type(raw_metrics) is not dict and not isinstance(raw_metrics, Mapping):
        raise ValueError(f"metrics must be a mapping of names to values, not {_shown(raw_metrics)}")
    default_ts = start_time or 0
    for key, raw in raw_metrics.items():
        if not isinstance(key, str):
            raise ValueError(f"metric keys must be strings, not {_shown(key)}")
        if type(raw) is float or (type(raw) is int) or (type(raw) is str and raw in _NON_FINITE):
            data.metrics[key] = metric_value(raw)  # a plain value: no history to keep
            continue
        history = _history(key, raw, default_ts)
        data.histories[key] = history
        data.metrics[key] = latest_metric(history).value
    raw_inputs = record.get("inputs", record.get("datasets")) or []
    if type(raw_inputs) is not list and (
        isinstance(raw_inputs, (str, bytes, Mapping)) or not isinstance(raw_inputs, Sequence)
    ):
        raise ValueError(f"inputs must be a list of dataset inputs, not {_shown(raw_inputs)}")
    inputs = RunInputs([_dataset_input(item) for item in raw_inputs])
    return Run(info, data, inputs)


def _run_from_entity(entity: Any) -> Run:
    source = entity.info
    info = RunInfo(
        run_id=source.run_id,
        experiment_id=str(source.experiment_id),
        run_name=getattr(source, "run_name", None),
        user_id=getattr(source, "user_id", None),
        status=str(source.status),
        start_time=source.start_time,
        end_time=source.end_time,
        artifact_uri=getattr(source, "artifact_uri", None),
        lifecycle_stage=getattr(source, "lifecycle_stage", LifecycleStage.ACTIVE),
    )
    data = RunData(params=dict(entity.data.params), tags=dict(entity.data.tags))
    # mlflow.entities.RunData keeps its latest Metric objects (with step and timestamp) here.
    objects = getattr(entity.data, "_metric_objs", None) or []
    by_key = {m.key: m for m in objects}
    for key, value in entity.data.metrics.items():
        data.metrics[key] = float(value)
        obj = by_key.get(key)
        if obj is not None:
            data.histories[key] = [Metric(key, float(value), int(obj.timestamp), int(obj.step))]
    raw_inputs = getattr(getattr(entity, "inputs", None), "dataset_inputs", None) or []
    return Run(info, data, RunInputs([_dataset_input(item) for item in raw_inputs]))


def experiment_from_record(record: Mapping[str, Any] | Any) -> Experiment:
    """An :class:`Experiment` from a dict with MLflow's field names, or from an Experiment-shaped object."""
    if isinstance(record, Experiment):
        return record
    if isinstance(record, Mapping):
        get = record.get
    else:
        get = lambda name, default=None: getattr(record, name, default)  # noqa: E731
    experiment_id = get("experiment_id")
    if experiment_id is None or str(experiment_id) == "":
        raise ValueError(f"an experiment record needs an 'experiment_id', got {_shown(experiment_id)}")
    experiment_id = _identifier(experiment_id, "experiment_id")
    creation_time = _optional_int(get("creation_time"), "creation_time")
    name = get("name")
    return Experiment(
        experiment_id=experiment_id,
        name=_identifier(name, "an experiment name") if name not in (None, "") else experiment_id,
        artifact_location=_optional_text(get("artifact_location"), "artifact_location"),
        lifecycle_stage=_one_of(get("lifecycle_stage"), _LIFECYCLE, LifecycleStage.ACTIVE, "lifecycle_stage"),
        tags=_strings(get("tags"), "experiment tag"),
        creation_time=creation_time,
        last_update_time=_optional_int(get("last_update_time"), "last_update_time") or creation_time,
    )


def run_to_record(run: Run, histories: Mapping[str, Sequence[Metric]] | None = None) -> dict[str, Any]:
    """The flat dict :func:`run_from_record` reads back to an equal run (histories included).

    ``histories`` replaces ``run.data.histories``: the whole histories of a run whose store keeps them.
    """
    info = run.info
    record: dict[str, Any] = {name: getattr(info, name) for name in _INFO_FIELDS}
    histories = run.data.histories if histories is None else histories
    record["metrics"] = {
        key: [
            {"value": _json_number(m.value), "step": m.step, "timestamp": m.timestamp} for m in histories[key]
        ]
        if key in histories
        else _json_number(value)
        for key, value in run.data.metrics.items()
    }
    record["params"] = _keyed_by_strings(run.data.params, "param", info.run_id)
    record["tags"] = _keyed_by_strings(run.data.tags, "tag", info.run_id)
    _keyed_by_strings(run.data.metrics, "metric", info.run_id)
    if run.inputs.dataset_inputs:
        record["inputs"] = [
            {
                "dataset": {
                    "name": d.dataset.name,
                    "digest": d.dataset.digest,
                    "source_type": d.dataset.source_type,
                    "source": d.dataset.source,
                    "schema": d.dataset.schema,
                    "profile": d.dataset.profile,
                },
                "tags": {t.key: t.value for t in d.tags},
            }
            for d in run.inputs.dataset_inputs
        ]
    return record


def experiment_to_record(experiment: Experiment) -> dict[str, Any]:
    """The flat dict :func:`experiment_from_record` reads back to an equal experiment; a tag key that is
    not a string is a ValueError."""
    return {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
        "tags": _keyed_by_strings(experiment.tags, "experiment tag", experiment.experiment_id),
    }


def _keyed_by_strings(mapping: Mapping[Any, Any], what: str, owner: str) -> dict[str, Any]:
    """A copy of ``mapping``, whose keys must be strings: JSON would write a key 5 as "5" and None as
    "null", and the file would read back as another run."""
    for key in mapping:
        if not isinstance(key, str):
            raise ValueError(f"{owner}: {what} keys must be strings, not {_shown(key)}; not saved")
    return dict(mapping)


def _json_number(value: float) -> float | str:
    # Standard JSON has no NaN or infinity; spell them as strings that metric_value reads back.
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
