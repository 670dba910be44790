"""Plain records to entities and back: a run or experiment given as a mapping (a JSON line, a row a
reader built) or as an ``mlflow.entities`` object becomes a :mod:`runql.model.entities` object, checked
field by field (a bad field is a ``ValueError`` naming it, which each reader reports as ``corrupt-store``
with where it read it); :func:`run_to_record` writes one back as JSON-ready data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from runql.common.redact import shown_value
from runql.model.entities import (
    DATASET_CONTEXT_TAG,
    RUN_NAME_TAG,
    Dataset,
    DatasetInput,
    Experiment,
    History,
    InputTag,
    LifecycleStage,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    history_of,
    latest_metric,
)

_LIFECYCLE = (LifecycleStage.ACTIVE, LifecycleStage.DELETED)
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
        raise ValueError(f"a metric value must be a number, not {shown_value(value)}")
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
        raise ValueError(f"{what} must be milliseconds since the epoch (an int), not {shown_value(value)}")
    if not -limit <= value < limit:
        raise ValueError(f"{what} must be between -{limit} and {limit}, not {shown_value(value)}")
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


def _optional_text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{what} must be a string, not {shown_value(value)}")


def _one_of(value: Any, allowed: Sequence[str], default: str, what: str) -> str:
    """``value`` if it is one of ``allowed`` (``default`` when None or empty)."""
    if value is None or value == "":
        return default
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {shown_value(value)}")
    return value


def _identifier(value: Any, what: str) -> str:
    """An id given as a string or an integer, as a string."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{what} must be a string, not {shown_value(value)}")
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
                    raise ValueError(f"a point of metric {key!r} has no 'value': {shown_value(item)}")
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
        raise ValueError(f"{what}s must be a mapping of names to values, not {shown_value(raw)}") from None
    out = {}
    for key, value in items:
        if not isinstance(key, str):
            raise ValueError(f"{what} keys must be strings, not {shown_value(key)}")
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, (Mapping, list, tuple, set, frozenset)):
            # A number becomes its text, as MLflow logs it; a container is a mistake, not a value.
            raise ValueError(f"{what} {key!r} must be a string, not {shown_value(value)}")
        else:
            out[key] = str(value)
    return out


def _dataset_input(raw: Any) -> DatasetInput:
    if isinstance(raw, DatasetInput):
        return raw
    if isinstance(raw, Mapping):
        source = raw.get("dataset", raw)
        if not isinstance(source, Mapping):
            raise ValueError(f"an input's dataset must be a mapping, not {shown_value(source)}")
        name = source.get("name")
        if isinstance(name, bool) or not isinstance(name, (str, int, float)):
            raise ValueError(f"a dataset needs a 'name' string, not {shown_value(name)}")
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
        raise ValueError(f"an input must be a mapping with a 'dataset', not {shown_value(raw)}")
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
        raise ValueError(f"a run record needs a non-empty string 'run_id', got {shown_value(run_id)}")
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
        raise ValueError(f"metrics must be a mapping of names to values, not {shown_value(raw_metrics)}")
    default_ts = start_time or 0
    for key, raw in raw_metrics.items():
        if not isinstance(key, str):
            raise ValueError(f"metric keys must be strings, not {shown_value(key)}")
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
        raise ValueError(f"inputs must be a list of dataset inputs, not {shown_value(raw_inputs)}")
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
        raise ValueError(f"an experiment record needs an 'experiment_id', got {shown_value(experiment_id)}")
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
            raise ValueError(f"{owner}: {what} keys must be strings, not {shown_value(key)}; not saved")
    return dict(mapping)


def _json_number(value: float) -> float | str:
    # Standard JSON has no NaN or infinity; spell them as strings that metric_value reads back.
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
