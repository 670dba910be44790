"""Deterministic run records shaped like a real tracking store, for the benchmarks.

Two workloads: :func:`run_records`, about 20 params, 10 metrics and 8 tags per run, with a realistic share
of missing keys, NaN metrics, unfinished runs and repeated string values; and :func:`wide_run_records`,
50 params, 30 metrics and 20 tags per run with keys quoted in backticks, nested runs, long values and
skewed distributions.
"""

from __future__ import annotations

import random
from typing import Any

METRICS = [
    "auc",
    "accuracy",
    "log_loss",
    "f1",
    "precision",
    "recall",
    "rmse",
    "val_loss",
    "train_loss",
    "f1-score",
]
PARAMS = [
    "model",
    "num_boost_round",
    "learning_rate",
    "max_depth",
    "subsample",
    "colsample_bytree",
    "seed",
    "optimizer",
    "batch_size",
    "epochs",
    "dropout",
    "weight_decay",
    "momentum",
    "scheduler",
    "warmup_steps",
    "n_estimators",
    "min_child_weight",
    "gamma",
    "alpha",
    "lambda",
]
TAGS = ["framework", "team", "mlflow.runName", "mlflow.user", "mlflow.source.type", "stage", "dataset", "gpu"]
STATUSES = ["FINISHED"] * 14 + ["FAILED", "RUNNING", "KILLED", "SCHEDULED"]
MODELS = ["xgb", "lgbm", "catboost", "rf", "logreg", "mlp", "resnet50", "bert-base"]
FRAMEWORKS = ["torch", "tensorflow", "sklearn", "xgboost", "lightgbm", "jax"]
TEAMS = ["vision", "nlp", "ranking", "fraud", "forecasting"]
USERS = ["John Smith", "ana", "li.wei", "sam", "priya", "omar"]
EXPERIMENTS = ["1234-5678-90AB-CDEFG", "5678-1234-90AB-CDEFG", "CDEFG-1234-5678-90AB", "0"]


def run_records(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        start = 1_650_000_000_000 + rng.randrange(0, 40_000_000_000)
        status = rng.choice(STATUSES)
        end = None if status in ("RUNNING", "SCHEDULED") else start + rng.randrange(1_000, 20_000_000)
        metrics = {}
        for key in METRICS:
            if rng.random() < 0.9:
                metrics[key] = float("nan") if rng.random() < 0.005 else round(rng.random(), 4)
        params = {}
        for key in PARAMS:
            if rng.random() < 0.85:
                params[key] = _param(rng, key)
        tags = {
            "framework": rng.choice(FRAMEWORKS),
            "team": rng.choice(TEAMS),
            "mlflow.runName": f"run-{i}",
            "mlflow.user": rng.choice(USERS),
            "mlflow.source.type": rng.choice(["NOTEBOOK", "JOB", "LOCAL"]),
            "stage": rng.choice(["dev", "staging", "prod"]),
            "dataset": f"ds-{rng.randrange(50)}",
            "gpu": rng.choice(["a100", "v100", "none"]),
        }
        for key in list(tags):
            if key != "mlflow.runName" and rng.random() < 0.1:
                del tags[key]
        records.append(
            {
                "run_id": f"{rng.getrandbits(128):032x}",
                "run_name": f"run-{i}",
                "experiment_id": rng.choice(EXPERIMENTS),
                "user_id": rng.choice(USERS),
                "status": status,
                "start_time": start,
                "end_time": end,
                "artifact_uri": f"file:///tmp/mlruns/{i}/artifacts",
                "lifecycle_stage": "active",
                "metrics": metrics,
                "params": params,
                "tags": tags,
            }
        )
    return records


def _param(rng: random.Random, key: str) -> str:
    if key == "model":
        return rng.choice(MODELS)
    if key in ("num_boost_round", "n_estimators", "epochs", "batch_size", "max_depth", "warmup_steps"):
        return str(rng.choice([10, 50, 100, 200, 500, 1000]))
    if key in ("optimizer", "scheduler"):
        return rng.choice(["adam", "sgd", "adamw", "cosine", "step", "none"])
    return str(round(rng.choice([0.001, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9]), 3))


# The representative queries of the benchmark: name, filter_string.
QUERIES = [
    ("metric comparison", "metrics.auc > 0.8"),
    ("param equality", "params.model = 'xgb'"),
    ("tag LIKE", "tags.framework LIKE 'tor%'"),
    ("ILIKE", "tags.team ILIKE '%NLP%'"),
    ("status", "attributes.status = 'FAILED'"),
    ("run_id IN list", "attributes.run_id IN ('{0}', '{1}', '{2}')"),
    (
        "four-clause AND",
        "metrics.auc > 0.5 AND params.model = 'xgb' AND tags.framework = 'torch' "
        "AND attributes.status = 'FINISHED'",
    ),
    ("backtick-quoted key", "metrics.`f1-score` >= 0.9"),
]


# The second workload: wider runs, awkward key names, nested runs, long and skewed values. Its shape is
# unlike the first's on purpose, so that no benchmark is tuned to one.
WIDE_METRICS = (
    [f"val.loss_{i}" for i in range(10)]
    + [f"train acc {i}" for i in range(10)]
    + [f"step`{i}`.rate" for i in range(10)]
)
WIDE_PARAMS = ["feature set", "optimizer.name", "model`s head"] + [f"layer {i}.units" for i in range(47)]
WIDE_TAGS = ["mlflow.runName", "mlflow.parentRunId", "mlflow.user", "git.commit", "data path"] + [
    f"label`{i}` note" for i in range(15)
]
# Zipf-like weights: the first value of each list is chosen far more often than the last.
FEATURE_SETS = ["text+numeric", "numeric", "text", "image", "text+image", "audio"]
OPTIMIZERS = ["adamw", "adam", "sgd", "lion", "adafactor"]


def _skewed(rng: random.Random, values: list[str]) -> str:
    return rng.choices(values, weights=[1 / (i + 1) ** 1.5 for i in range(len(values))])[0]


def wide_run_records(count: int, seed: int = 11) -> list[dict[str, Any]]:
    """``count`` runs of the second workload: 50 params, 30 metrics and 20 tags per run (a few missing);
    keys with spaces, dots and backticks; one run in four a child of an earlier run
    (``mlflow.parentRunId``); long string values; skewed value distributions."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for i in range(count):
        run_id = f"{rng.getrandbits(128):032x}"
        start = 1_650_000_000_000 + rng.randrange(0, 40_000_000_000)
        status = rng.choice(STATUSES)
        end = None if status in ("RUNNING", "SCHEDULED") else start + rng.randrange(1_000, 20_000_000)
        # Skewed metrics: most values small, a long tail (a beta distribution), a few NaN.
        metrics = {
            key: float("nan") if rng.random() < 0.003 else round(rng.betavariate(1.2, 6.0), 5)
            for key in WIDE_METRICS
            if rng.random() < 0.95
        }
        metrics["auc"] = round(rng.betavariate(5.0, 2.0), 4)
        params = {
            "feature set": _skewed(rng, FEATURE_SETS),
            "optimizer.name": _skewed(rng, OPTIMIZERS),
            # A long value: a serialized configuration, as runs log them.
            "model`s head": "{" + ", ".join(f'"w{j}": {rng.randrange(4096)}' for j in range(40)) + "}",
        }
        for key in WIDE_PARAMS[3:]:
            if rng.random() < 0.97:
                params[key] = str(rng.choice([16, 32, 64, 128, 256, 512, 1024]))
        tags = {
            "mlflow.runName": f"wide-{i}",
            "mlflow.user": _skewed(rng, USERS),
            "git.commit": f"{rng.getrandbits(160):040x}",
            "data path": f"s3://bucket/{_skewed(rng, FEATURE_SETS)}/{rng.randrange(1000):04d}.parquet",
        }
        if records and rng.random() < 0.25:
            tags["mlflow.parentRunId"] = rng.choice(records[-50:])["run_id"]
        for key in WIDE_TAGS[5:]:
            if rng.random() < 0.95:
                tags[key] = "note " * rng.randrange(1, 40)
        records.append(
            {
                "run_id": run_id,
                "run_name": f"wide-{i}",
                "experiment_id": _skewed(rng, EXPERIMENTS),
                "user_id": tags["mlflow.user"],
                "status": status,
                "start_time": start,
                "end_time": end,
                "artifact_uri": f"file:///tmp/mlruns/wide/{i}/artifacts",
                "lifecycle_stage": "active",
                "metrics": metrics,
                "params": params,
                "tags": tags,
            }
        )
    return records


# The second workload's questions: name, filter_string.
WIDE_QUERIES = [
    (
        "top-level, feature set LIKE",
        "tags.`mlflow.parentRunId` IS NULL AND params.`feature set` LIKE '%text%'",
    ),
    ("nested runs", "tags.`mlflow.parentRunId` IS NOT NULL"),
    ("dotted param equality", "params.`optimizer.name` = 'lion'"),
    ("metric with spaces", "metrics.`train acc 3` > 0.5"),
    ("absent key", "metrics.`train_acc_3` > 0.5"),
    ("no filter", ""),
]
