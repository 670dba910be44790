"""The conformance runs (tests/conformance/evaluation.json) logged by MLflow into a store, with metric
histories, nested ``/`` keys, a parent run, dataset inputs, deleted runs and a deleted experiment."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
from mlflow.entities import Dataset, DatasetInput, InputTag

from runql.model.records import metric_value

CONFORMANCE = json.loads((Path(__file__).parents[1] / "conformance" / "evaluation.json").read_text())
EXTRA_TAGS = {"r01": {"nested/deep/key": "yes"}}
EXTRA_PARAMS = {"r01": {"opt/lr": "0.1"}}


def write_store(uri: str) -> dict[str, dict[str, str]]:
    """Log the conformance experiments and runs with MLflow; return the ids MLflow gave them."""
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiments = {
        e["experiment_id"]: client.create_experiment(e["name"], tags=e["tags"])
        for e in CONFORMANCE["experiments"]
    }
    runs: dict[str, str] = {}
    for record in CONFORMANCE["runs"]:
        tags = {**record["tags"], **EXTRA_TAGS.get(record["run_id"], {}), "mlflow.user": record["user_id"]}
        if record["run_id"] == "r02":
            tags["mlflow.parentRunId"] = runs["r01"]
        run = client.create_run(
            experiments[record["experiment_id"]],
            start_time=record["start_time"],
            tags=tags,
            # MLflow refuses a run_name that differs from the mlflow.runName tag: the tag names the run.
            run_name=None if "mlflow.runName" in tags else record.get("run_name"),
        )
        run_id = run.info.run_id
        runs[record["run_id"]] = run_id
        for key, raw in record["metrics"].items():
            points = (
                raw
                if isinstance(raw, list)
                else [{"value": raw, "step": 0, "timestamp": record["start_time"]}]
            )
            for point in points:
                client.log_metric(
                    run_id, key, metric_value(point["value"]), point["timestamp"], point["step"]
                )
        for key, value in {**record["params"], **EXTRA_PARAMS.get(record["run_id"], {})}.items():
            client.log_param(run_id, key, value)
        inputs = [
            DatasetInput(
                Dataset(i["dataset"]["name"], i["dataset"]["digest"], "local", '{"uri": "data.csv"}'),
                [InputTag(k, v) for k, v in i["tags"].items()],
            )
            for i in record.get("inputs", [])
        ]
        if inputs:
            client.log_inputs(run_id, datasets=inputs)
        if record["status"] == "SCHEDULED":
            client.update_run(run_id, status="SCHEDULED")
        elif record["status"] != "RUNNING":
            client.set_terminated(run_id, record["status"], record["end_time"])
    for record in CONFORMANCE["runs"]:
        if record.get("lifecycle_stage") == "deleted":
            client.delete_run(runs[record["run_id"]])
    for experiment in CONFORMANCE["experiments"]:
        if experiment.get("lifecycle_stage") == "deleted":
            client.delete_experiment(experiments[experiment["experiment_id"]])
    return {"experiments": experiments, "runs": runs}
