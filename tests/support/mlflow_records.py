"""Run records (the dicts ``Workspace.from_records`` reads) as ``mlflow.entities.Run``, for the oracle.

The latest metric is chosen here with MLflow's own rule, independently of runql's: the highest
(step, timestamp, value), the first logged on a tie.
"""

from __future__ import annotations

from typing import Any

from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
)

# How JSON corpora spell the floats JSON lacks.
_NUMBERS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def mlflow_run(record: dict[str, Any]) -> Run:
    metrics = []
    for key, raw in record["metrics"].items():
        points = raw if isinstance(raw, list) else [{"value": raw, "step": 0, "timestamp": 0}]
        logged = [
            Metric(key, float(_NUMBERS.get(p["value"], p["value"])), p["timestamp"], p["step"])
            for p in points
        ]
        metrics.append(max(logged, key=lambda m: (m.step, m.timestamp, m.value)))
    info = RunInfo(
        run_id=record["run_id"],
        experiment_id=record.get("experiment_id", "0"),
        user_id=record["user_id"],
        status=record["status"],
        start_time=record["start_time"],
        end_time=record["end_time"],
        lifecycle_stage=record.get("lifecycle_stage", "active"),
        artifact_uri=None,
        run_name=record["run_name"],
    )
    data = RunData(
        metrics=metrics,
        params=[Param(k, v) for k, v in record["params"].items()],
        tags=[RunTag(k, v) for k, v in record["tags"].items()],
    )
    inputs = RunInputs(
        dataset_inputs=[
            DatasetInput(
                Dataset(i["dataset"]["name"], i["dataset"]["digest"], "local", "src"),
                [InputTag(k, v) for k, v in i["tags"].items()],
            )
            for i in record.get("inputs", [])
        ]
    )
    return Run(info, data, inputs)
