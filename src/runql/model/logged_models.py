"""Logged models, shaped like ``mlflow.entities.LoggedModel``: MLflow 3's models, each with its own params,
tags and metrics, a metric logged on a dataset (its name and digest) as well as at a step and a time.

A search reads a metric two ways, as MLflow's SQL store does: a filter matches when any of the model's
points of that metric does (within the ``datasets`` the search names), and an order reads the latest point
(by timestamp, then step, then run id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runql.errors import ArgumentError

__all__ = [
    "LOGGED_MODEL_STATUSES",
    "DatasetFilter",
    "LoggedModel",
    "LoggedModelMetric",
    "dataset_filters",
    "logged_model_from_entity",
]

LOGGED_MODEL_STATUSES = ("UNSPECIFIED", "PENDING", "READY", "FAILED")
"""A logged model's statuses, by the integer MLflow's tables store for each (``LoggedModelStatus``)."""


@dataclass(frozen=True, slots=True)
class LoggedModelMetric:
    """One point of a logged model's metric, as ``mlflow.entities.Metric`` with its model and dataset."""

    key: str
    value: float | None
    timestamp: int = 0
    step: int = 0
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None
    model_id: str | None = None


@dataclass(frozen=True, slots=True)
class DatasetFilter:
    """One entry of a search's ``datasets``: a metric on the dataset ``name`` (and ``digest``, when one is
    given: ``digest=None`` given is a metric logged without a digest)."""

    name: str
    digest: str | None = None
    has_digest: bool = False

    def holds(self, metric: LoggedModelMetric) -> bool:
        """Whether ``metric`` was logged on this dataset."""
        return metric.dataset_name == self.name and (
            not self.has_digest or metric.dataset_digest == self.digest
        )


def dataset_filters(datasets: Sequence[Mapping[str, Any]] | None) -> tuple[DatasetFilter, ...]:
    """MLflow's ``datasets`` argument (``[{"dataset_name": ..., "dataset_digest": ...}]``) read and checked
    as MLflow checks it: every entry names a dataset."""
    found = []
    for index, entry in enumerate(datasets or ()):
        if not isinstance(entry, Mapping) or not entry.get("dataset_name"):
            raise ArgumentError(
                "`dataset_name` in the `datasets` clause must be specified.",
                code="bad-datasets",
                where=f"datasets[{index}]",
                hint='pass datasets=[{"dataset_name": "eval"}], with "dataset_digest" when one is wanted',
            )
        found.append(
            DatasetFilter(str(entry["dataset_name"]), entry.get("dataset_digest"), "dataset_digest" in entry)
        )
    return tuple(found)


@dataclass
class LoggedModel:
    """A logged model; positional order as ``mlflow.entities.LoggedModel``. ``status`` is the status's
    name (``READY``); ``metrics`` every logged point."""

    experiment_id: str
    model_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None = None
    source_run_id: str | None = None
    status: str = "READY"
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[LoggedModelMetric] = field(default_factory=list)
    lifecycle_stage: str = "active"

    def points(self, key: str) -> list[LoggedModelMetric]:
        """Every point of the metric ``key``, in logged order."""
        # The points by metric, made when a search first reads one and made again when ``metrics`` is
        # another list or has grown: a search reads a model's metrics once per clause and order key. An
        # attribute beside the fields, so that equality, repr and asdict() know nothing of it.
        held: tuple[int, int, dict[str, list[LoggedModelMetric]]] | None = getattr(self, "_by_key", None)
        if held is None or held[0] != id(self.metrics) or held[1] != len(self.metrics):
            grouped: dict[str, list[LoggedModelMetric]] = {}
            for point in self.metrics:
                grouped.setdefault(point.key, []).append(point)
            held = (id(self.metrics), len(self.metrics), grouped)
            self._by_key = held
        return held[2].get(key, [])

    @property
    def status_code(self) -> int:
        """The integer MLflow's tables store for the status, which its SQL store orders by."""
        return LOGGED_MODEL_STATUSES.index(self.status) if self.status in LOGGED_MODEL_STATUSES else -1

    def metric_values(self, key: str, datasets: Sequence[DatasetFilter] = ()) -> tuple[float, ...]:
        """Every value logged for ``key`` (on one of ``datasets``, when any are given); a filter on the
        metric matches when one of them does."""
        return tuple(
            m.value
            for m in self.points(key)
            if m.value is not None and (not datasets or any(d.holds(m) for d in datasets))
        )

    def latest_metric(
        self, key: str, dataset_name: str | None = None, dataset_digest: str | None = None
    ) -> float | None:
        """The value of ``key``'s latest point (by timestamp, then step; the least run id on a tie), on
        the dataset named when one is, as MLflow's SQL store orders by it; None without a point."""
        latest: LoggedModelMetric | None = None
        for m in self.points(key):
            if dataset_name and m.dataset_name != dataset_name:
                continue
            if dataset_digest and m.dataset_digest != dataset_digest:
                continue
            if latest is None or _later(m, latest):
                latest = m
        return None if latest is None else latest.value


def _later(a: LoggedModelMetric, b: LoggedModelMetric) -> bool:
    if (a.timestamp, a.step) != (b.timestamp, b.step):
        return (a.timestamp, a.step) > (b.timestamp, b.step)
    return (a.run_id or "") < (b.run_id or "")


def _status_name(status: Any) -> str:
    if isinstance(status, int) and not isinstance(status, bool):
        return LOGGED_MODEL_STATUSES[status] if 0 <= status < len(LOGGED_MODEL_STATUSES) else str(status)
    return str(getattr(status, "value", status))


def _unset(text: str | None) -> str | None:
    # MLflow's REST API sends an optional field it does not hold as an empty string.
    return text or None


def logged_model_from_entity(entity: Any) -> LoggedModel:
    """A logged model from an object shaped like ``mlflow.entities.LoggedModel`` (as MLflow's store or
    its REST client makes it: an empty model type, source run or status message is none)."""
    model_id = entity.model_id
    return LoggedModel(
        experiment_id=str(entity.experiment_id),
        model_id=model_id,
        name=entity.name,
        artifact_location=entity.artifact_location,
        creation_timestamp=entity.creation_timestamp,
        last_updated_timestamp=entity.last_updated_timestamp,
        model_type=_unset(entity.model_type),
        source_run_id=_unset(entity.source_run_id),
        status=_status_name(entity.status),
        status_message=_unset(entity.status_message),
        tags=dict(entity.tags or {}),
        params=dict(entity.params or {}),
        metrics=[
            LoggedModelMetric(
                m.key,
                m.value,
                m.timestamp,
                m.step,
                getattr(m, "run_id", None),
                getattr(m, "dataset_name", None),
                getattr(m, "dataset_digest", None),
                model_id,
            )
            for m in entity.metrics or ()
        ],
    )
