"""The bundled sample workspace: generated, deterministic, small.

Five experiments (one deleted, ids like ``'1234-5678-90AB-CDEFG'`` as in Azure ML's documentation)
and about three hundred runs: xgboost and lightgbm boosting runs with ``auc``, ``accuracy`` and
``log_loss`` histories, a hyperopt search whose trials are nested under a parent run through
``mlflow.parentRunId``, torch image classifiers, sklearn baselines, every run status, a few deleted
runs, dataset inputs, and two failed boosting runs whose loss diverged to NaN. Every value comes from one
seeded ``random.Random``, so the sample is the same everywhere.

The run ``'1234-5678-90AB-CDEFG'`` and the hyperopt parent have artifacts (a feature importance
plot and a ``classifier`` model folder). They are written only when an ``artifact_root`` folder is
given; otherwise artifact locations use the remote ``mlflow-artifacts:`` scheme.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import struct
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runql.model.logged_models import LoggedModel, LoggedModelMetric
from runql.model.registry import PROMPT_TAG, ModelVersion, RegisteredModel, Registry

__all__ = ["SEED", "SampleData", "sample_records"]

SEED = 20220620
MAIN_EXPERIMENT = "1234-5678-90AB-CDEFG"
MAIN_RUN = "1234-5678-90AB-CDEFG"
SECOND_RUN = "5678-1234-90AB-CDEFG"
HYPEROPT_PARENT = "7e3a9c1d5b2f4e6a8c0d1f3b5a7c9e2d"
USERS = ("John Smith", "Jane Doe", "Wei Zhang", "Priya Patel", "Carlos Ruiz")
_ADJECTIVES = (
    "able",
    "bold",
    "calm",
    "deft",
    "eager",
    "fair",
    "glad",
    "keen",
    "lucid",
    "merry",
    "noble",
    "proud",
    "quick",
    "sly",
    "tidy",
    "vivid",
    "wise",
    "zesty",
)
_ANIMALS = (
    "ant",
    "bat",
    "cod",
    "doe",
    "eel",
    "fox",
    "gnu",
    "hen",
    "ibis",
    "jay",
    "koi",
    "lynx",
    "mole",
    "newt",
    "owl",
    "puma",
    "ram",
    "seal",
    "toad",
    "wolf",
    "yak",
)


def _ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=timezone.utc).timestamp() * 1000)


# (experiment_id, name, created, tags, deleted)
_EXPERIMENTS: tuple[tuple[str, str, int, dict[str, str], bool], ...] = (
    ("0", "Default", _ms(2022, 5, 2, 9), {}, False),
    (
        MAIN_EXPERIMENT,
        "my_experiment",
        _ms(2022, 6, 1, 8, 15),
        {"framework": "xgboost", "team": "churn"},
        False,
    ),
    ("CDEFG-1234-5678-90AB", "image-classifier", _ms(2022, 6, 25, 14), {"framework": "torch"}, False),
    (
        "5678-1234-90AB-CDEFG",
        "tabular-baselines",
        _ms(2022, 7, 10, 11, 30),
        {"framework": "sklearn", "team": "churn"},
        False,
    ),
    ("90AB-CDEFG-1234-5678", "archived-prototype", _ms(2022, 5, 15, 16), {"framework": "torch"}, True),
)


@dataclass(frozen=True)
class SampleData:
    """The sample as records (plain dicts, as ``Workspace.from_records`` reads), with the experiment a
    workspace built from it has active and the run its ``last_active_run`` returns (the hyperopt parent)."""

    experiments: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    active_experiment_id: str
    last_active_run_id: str
    registry: Registry
    logged_models: list[LoggedModel]


class _Maker:
    def __init__(self, artifact_root: Path | None) -> None:
        self.rng = random.Random(SEED)
        self.root = artifact_root
        self.runs: list[dict[str, Any]] = []

    def location(self, experiment_id: str) -> str:
        if self.root is None:
            return f"mlflow-artifacts:/{experiment_id}"
        return (self.root / experiment_id).as_uri()

    def run_id(self, label: str) -> str:
        return hashlib.sha256(f"runql-sample/{label}".encode()).hexdigest()[:32]

    def name(self) -> str:
        return f"{self.rng.choice(_ADJECTIVES)}-{self.rng.choice(_ANIMALS)}-{self.rng.randrange(100, 1000)}"

    def status(self) -> str:
        roll = self.rng.random()
        if roll < 0.80:
            return "FINISHED"
        if roll < 0.89:
            return "FAILED"
        if roll < 0.94:
            return "KILLED"
        return "RUNNING" if roll < 0.98 else "SCHEDULED"

    def curves(
        self, start: int, points: int, every: int, quality: float, diverge: bool = False
    ) -> dict[str, Any]:
        """auc, accuracy and log_loss logged every ``every`` steps, improving toward ``quality``."""
        histories: dict[str, list[dict[str, Any]]] = {"auc": [], "accuracy": [], "log_loss": []}
        for index in range(points):
            step = (index + 1) * every
            progress = 1 - math.exp(-3 * (index + 1) / points)
            noise = self.rng.uniform(-0.01, 0.01)
            auc = 0.5 + (quality - 0.5) * progress + noise
            accuracy = 0.5 + (quality - 0.55) * progress + self.rng.uniform(-0.01, 0.01)
            loss = 0.69 - (0.69 - (1 - quality) * 1.2) * progress + self.rng.uniform(-0.005, 0.005)
            if diverge and index == points - 1:
                loss = math.nan
            timestamp = start + step * 350 + self.rng.randrange(0, 50)
            histories["auc"].append({"value": round(auc, 4), "step": step, "timestamp": timestamp})
            histories["accuracy"].append({"value": round(accuracy, 4), "step": step, "timestamp": timestamp})
            histories["log_loss"].append(
                {"value": loss if math.isnan(loss) else round(loss, 4), "step": step, "timestamp": timestamp}
            )
        return histories

    def add(
        self,
        experiment_id: str,
        run_id: str,
        start: int,
        *,
        params: dict[str, str],
        tags: dict[str, str],
        metrics: dict[str, Any],
        status: str | None = None,
        duration: int | None = None,
        user: str | None = None,
        run_name: str | None = None,
        deleted: bool = False,
        inputs: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        status = status or self.status()
        user = user or self.rng.choice(USERS)
        run_name = run_name or self.name()
        unfinished = status in ("RUNNING", "SCHEDULED")
        if duration is None:
            duration = self.rng.randrange(45_000, 7_200_000)
        record: dict[str, Any] = {
            "run_id": run_id,
            "experiment_id": experiment_id,
            "run_name": run_name,
            "user_id": user,
            "status": status,
            "start_time": start,
            "end_time": None if unfinished else start + duration,
            "artifact_uri": f"{self.location(experiment_id)}/{run_id}/artifacts",
            "lifecycle_stage": "deleted" if deleted else "active",
            "metrics": {} if status == "SCHEDULED" else metrics,
            "params": params,
            "tags": {"mlflow.runName": run_name, "mlflow.user": user, **tags},
        }
        if inputs:
            record["inputs"] = inputs
        self.runs.append(record)
        return record


def _datasets(digest_seed: str, contexts: tuple[str, ...]) -> list[dict[str, Any]]:
    digest = hashlib.sha256(digest_seed.encode()).hexdigest()[:8]
    return [
        {
            "dataset": {"name": f"churn-{context}", "digest": digest, "source_type": "local"},
            "tags": {"mlflow.data.context": context},
        }
        for context in contexts
    ]


def _boosting(maker: _Maker, experiment_id: str, count: int, start: int, library: str) -> None:
    rng = maker.rng
    for index in range(count):
        rounds = rng.choice((50, 100, 100, 200))
        learning_rate = rng.choice(("0.01", "0.05", "0.1", "0.3"))
        depth = rng.choice(("3", "4", "6", "8"))
        quality = rng.uniform(0.72, 0.93) + (0.02 if learning_rate in ("0.05", "0.1") else 0)
        begin = start + index * rng.randrange(1_800_000, 9_000_000)
        status = maker.status()
        tags = {"framework": library, "mlflow.source.type": rng.choice(("JOB", "NOTEBOOK"))}
        if rng.random() < 0.1:
            tags["note"] = rng.choice(("baseline", "with 50% subsample", "tuned_by_hand", "retry"))
        label = f"{experiment_id}/{library}/{index}"
        maker.add(
            experiment_id,
            maker.run_id(label),
            begin,
            params={
                "num_boost_round": str(rounds),
                "learning_rate": learning_rate,
                "max_depth": depth,
                "model": library,
                "objective": "binary:logistic",
            },
            tags=tags,
            metrics=maker.curves(begin, min(rounds // 10, 20), 10, quality, diverge=index == 7),
            status="FAILED" if index == 7 else status,
            deleted=index % 29 == 11,
            inputs=_datasets(label, ("training", "evaluation")) if index % 3 == 0 else None,
        )


def _main_experiment(maker: _Maker) -> str:
    start = _ms(2022, 6, 2, 9)
    maker.add(
        MAIN_EXPERIMENT,
        MAIN_RUN,
        _ms(2022, 6, 1, 10, 4),
        params={
            "num_boost_round": "100",
            "learning_rate": "0.1",
            "max_depth": "6",
            "model": "xgboost",
            "objective": "binary:logistic",
        },
        tags={"framework": "xgboost", "mlflow.source.type": "JOB"},
        metrics=maker.curves(_ms(2022, 6, 1, 10, 4), 10, 10, 0.91),
        status="FINISHED",
        duration=1_980_000,
        user="John Smith",
        run_name="xgboost-classifier",
        inputs=_datasets("main", ("training", "evaluation")),
    )
    maker.add(
        MAIN_EXPERIMENT,
        SECOND_RUN,
        _ms(2022, 6, 19, 16, 40),
        params={
            "num_boost_round": "200",
            "learning_rate": "0.05",
            "max_depth": "4",
            "model": "xgboost",
            "objective": "binary:logistic",
        },
        tags={"framework": "xgboost", "mlflow.source.type": "JOB"},
        metrics=maker.curves(_ms(2022, 6, 19, 16, 40), 20, 10, 0.88),
        status="FAILED",
        duration=240_000,
        user="Jane Doe",
        run_name="xgboost-deeper",
    )
    _boosting(maker, MAIN_EXPERIMENT, 110, start, "xgboost")
    _torch(maker, MAIN_EXPERIMENT, 6, _ms(2022, 9, 12, 9))  # someone tried a neural network on it
    # The hyperopt search: a parent run, its trials nested under it, started last in the experiment.
    parent_start = _ms(2022, 11, 3, 8)
    trials = 24
    maker.add(
        MAIN_EXPERIMENT,
        HYPEROPT_PARENT,
        parent_start,
        params={"max_evals": str(trials), "algo": "tpe.suggest", "model": "xgboost"},
        tags={"framework": "xgboost", "hyperopt": "true", "mlflow.source.type": "JOB"},
        metrics={"best_log_loss": 0.2412, "best_auc": 0.9367},
        status="FINISHED",
        duration=trials * 300_000 + 60_000,
        user="Priya Patel",
        run_name="hyperopt-search",
    )
    rng = maker.rng
    for trial in range(trials):
        begin = parent_start + 30_000 + trial * 300_000
        rounds = rng.choice((50, 100, 150, 200))
        maker.add(
            MAIN_EXPERIMENT,
            maker.run_id(f"hyperopt/{trial}"),
            begin,
            params={
                "num_boost_round": str(rounds),
                "learning_rate": f"{rng.uniform(0.01, 0.3):.3f}",
                "max_depth": str(rng.randrange(3, 11)),
                "model": "xgboost",
                "objective": "binary:logistic",
            },
            tags={"framework": "xgboost", "mlflow.parentRunId": HYPEROPT_PARENT, "mlflow.source.type": "JOB"},
            metrics=maker.curves(begin, rounds // 10, 10, rng.uniform(0.85, 0.94)),
            status="KILLED" if trial == 17 else "FINISHED",
            duration=rng.randrange(120_000, 290_000),
            user="Priya Patel",
            run_name=f"trial-{trial:02d}",
        )
    return HYPEROPT_PARENT


def _torch(maker: _Maker, experiment_id: str, count: int, start: int, deleted: bool = False) -> None:
    rng = maker.rng
    for index in range(count):
        epochs = rng.choice((5, 10, 20))
        begin = start + index * rng.randrange(3_600_000, 14_400_000)
        quality = rng.uniform(0.7, 0.97)
        history = maker.curves(begin, epochs, 1, quality)
        maker.add(
            experiment_id,
            maker.run_id(f"{experiment_id}/torch/{index}"),
            begin,
            params={
                "model": rng.choice(("resnet18", "resnet50", "vit_b_16")),
                "epochs": str(epochs),
                "learning_rate": rng.choice(("0.001", "0.0003", "0.01")),
                "batch_size": rng.choice(("32", "64", "128")),
                "optimizer": rng.choice(("adam", "sgd")),
            },
            tags={
                "framework": "torch",
                "mlflow.source.type": "JOB",
                "gpu": rng.choice(("V100", "A100", "T4")),
            },
            metrics={"accuracy": history["accuracy"], "log_loss": history["log_loss"]},
            duration=rng.randrange(600_000, 14_400_000),
            deleted=deleted or index % 23 == 5,
        )


def _baselines(maker: _Maker, experiment_id: str, count: int, start: int, framework: bool = True) -> None:
    rng = maker.rng
    for index in range(count):
        begin = start + index * rng.randrange(600_000, 5_400_000)
        model = rng.choice(("logistic_regression", "random_forest", "svm"))
        params = (
            {"model": model, "C": rng.choice(("0.1", "1.0", "10"))}
            if model != "random_forest"
            else {
                "model": model,
                "n_estimators": rng.choice(("100", "300")),
                "max_depth": rng.choice(("8", "None")),
            }
        )
        auc = round(rng.uniform(0.65, 0.86), 4)
        metrics: dict[str, Any] = {"auc": auc, "accuracy": round(auc - rng.uniform(0.02, 0.08), 4)}
        if rng.random() < 0.3:
            metrics["training_time"] = round(rng.uniform(0.5, 90), 2)
        tags = {"framework": "sklearn"} if framework else {}
        maker.add(
            experiment_id,
            maker.run_id(f"{experiment_id}/sklearn/{index}"),
            begin,
            params=params,
            tags=tags,
            metrics=metrics,
            duration=rng.randrange(5_000, 600_000),
        )


def _write_artifacts(maker: _Maker, run: dict[str, Any]) -> None:
    assert maker.root is not None
    folder = maker.root / run["experiment_id"] / run["run_id"] / "artifacts"
    model = folder / "classifier"
    model.mkdir(parents=True, exist_ok=True)
    (folder / "feature_importance_weight.png").write_bytes(_png())
    (model / "MLmodel").write_text(
        "artifact_path: classifier\nflavors:\n  xgboost:\n    data: model.xgb\n    model_class: "
        "xgboost.sklearn.XGBClassifier\n    xgb_version: 1.6.1\nrun_id: " + run["run_id"] + "\n",
        encoding="utf-8",
    )
    (model / "model.xgb").write_text(
        json.dumps({"learner": {"objective": "binary:logistic"}}), encoding="utf-8"
    )
    (model / "requirements.txt").write_text("xgboost==1.6.1\n", encoding="utf-8")


def _png() -> bytes:
    """A 2x2 grey PNG: enough to be a real image file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80\x80" for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def sample_records(artifact_root: str | os.PathLike[str] | None = None) -> SampleData:
    """The sample's experiment and run records (plain dicts, as ``Workspace.from_records`` reads)."""
    root = None if artifact_root is None else Path(artifact_root).resolve()
    maker = _Maker(root)
    experiments = [
        {
            "experiment_id": experiment_id,
            "name": name,
            "artifact_location": maker.location(experiment_id),
            "lifecycle_stage": "deleted" if deleted else "active",
            "creation_time": created,
            "last_update_time": created + (86_400_000 * 40 if deleted else 0),
            "tags": tags,
        }
        for experiment_id, name, created, tags, deleted in _EXPERIMENTS
    ]
    _baselines(maker, "0", 8, _ms(2022, 5, 3, 10), framework=False)
    parent = _main_experiment(maker)
    _torch(maker, "CDEFG-1234-5678-90AB", 60, _ms(2022, 6, 26, 9))
    _baselines(maker, "5678-1234-90AB-CDEFG", 40, _ms(2022, 7, 11, 9))
    _boosting(maker, "5678-1234-90AB-CDEFG", 16, _ms(2022, 8, 1, 9), "lightgbm")
    _torch(maker, "90AB-CDEFG-1234-5678", 10, _ms(2022, 5, 16, 9), deleted=True)
    if root is not None:
        for run in maker.runs:
            if run["run_id"] in (MAIN_RUN, HYPEROPT_PARENT):
                _write_artifacts(maker, run)
    return SampleData(
        experiments, maker.runs, MAIN_EXPERIMENT, parent, _registry(maker.runs), _logged_models(maker)
    )


_CHURN = "5678-1234-90AB-CDEFG"
# (model, tags, description, [(experiment whose runs are registered, stage)], aliases by version)
_MODELS: tuple[tuple[str, dict[str, str], str, list[tuple[str, str]], dict[str, str]], ...] = (
    (
        "churn-classifier",
        {"team": "churn", "framework": "sklearn"},
        "predicts which customers leave",
        [
            ("5678-1234-90AB-CDEFG", "Archived"),
            ("5678-1234-90AB-CDEFG", "Staging"),
            ("5678-1234-90AB-CDEFG", "Production"),
        ],
        {"champion": "3", "challenger": "2"},
    ),
    (
        "fraud-detector",
        {"team": "risk", "framework": "xgboost"},
        "scores card transactions",
        [(MAIN_EXPERIMENT, "None"), (MAIN_EXPERIMENT, "Production")],
        {"champion": "2"},
    ),
    ("image-tagger", {"team": "vision", "framework": "pytorch"}, "", [("CDEFG-1234-5678-90AB", "None")], {}),
    ("summarize-ticket", {PROMPT_TAG: "true", "team": "support"}, "a prompt", [("", "None")], {}),
)


def _registry(runs: list[dict[str, Any]]) -> Registry:
    """Registered models of some of the sample's runs, and a prompt: each version registers the next run
    of its experiment; times a day apart from the first run's start."""
    by_experiment: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_experiment.setdefault(run["experiment_id"], []).append(run)
    start = min(run["start_time"] for run in runs)
    models, versions = [], []
    for index, (name, tags, description, registered, aliases) in enumerate(_MODELS):
        created = start + 86_400_000 * (index + 1)
        mine = []
        for number, (experiment_id, stage) in enumerate(registered, start=1):
            prompt = PROMPT_TAG in tags
            run_id, source = None, f"prompts:/{name}/{number}"
            if not prompt:
                run = by_experiment[experiment_id][number]
                run_id, source = run["run_id"], f"{run['artifact_uri']}/model"
            mine.append(
                ModelVersion(
                    name,
                    str(number),
                    created + 3_600_000 * number,
                    created + 3_600_000 * number,
                    user_id="sam",
                    current_stage=stage,
                    source=source,
                    run_id=run_id,
                    tags={PROMPT_TAG: "true"} if prompt else {"validated": "true" if number > 1 else "false"},
                    aliases=sorted(a for a, v in aliases.items() if v == str(number)),
                )
            )
        latest = {v.current_stage: v for v in mine}  # the newest of each stage, as MLflow keeps it
        models.append(
            RegisteredModel(
                name,
                created,
                mine[-1].last_updated_timestamp,
                description or None,
                list(latest.values()),
                tags,
                aliases,
            )
        )
        versions.extend(mine)
    return Registry(models, versions)


# (experiment, model type, learning rates): a logged model per rate, from the experiment's runs in turn.
_LOGGED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (MAIN_EXPERIMENT, "xgboost", ("0.3", "0.1", "0.03", "0.01")),
    (_CHURN, "sklearn", ("0.1", "0.01")),
)


def _logged_models(maker: _Maker) -> list[LoggedModel]:
    """MLflow 3 logged models of some of the sample's runs, each with accuracy logged at three steps on
    the datasets train and eval (eval in two versions, by digest); one model failed."""
    rng = random.Random(SEED + 1)
    models = []
    for experiment_id, model_type, rates in _LOGGED:
        runs = [r for r in maker.runs if r["experiment_id"] == experiment_id]
        for index, rate in enumerate(rates):
            run = runs[index + 1]
            model_id = f"m-{rng.getrandbits(128):032x}"
            created = run["start_time"] + 600_000
            metrics = []
            datasets = (("train", "1f2e3d4c"), ("eval", "5a6b7c8d"), ("eval", "9e0f1a2b"))
            for order, (dataset, digest) in enumerate(datasets):
                # A lower learning rate learns better; a model does worse on eval than on train.
                accuracy = 0.93 - 0.3 * float(rate) - (0.05 if dataset == "eval" else 0.0)
                for step in range(3):
                    accuracy = min(0.999, accuracy + rng.uniform(0.0, 0.02))
                    time = created + 60_000 * step + 1_000 * order  # a point per time, as MLflow keys them
                    point = LoggedModelMetric("accuracy", round(accuracy, 4), time, step, run["run_id"])
                    metrics.append(
                        replace(point, dataset_name=dataset, dataset_digest=digest, model_id=model_id)
                    )
            models.append(
                LoggedModel(
                    experiment_id,
                    model_id,
                    f"{model_type}-lr{rate}",
                    f"{run['artifact_uri']}/models/{model_id}",
                    created,
                    created + 300_000,
                    model_type=model_type,
                    source_run_id=run["run_id"],
                    status="FAILED" if (experiment_id, index) == (_CHURN, 1) else "READY",
                    tags={"team": "risk" if experiment_id == MAIN_EXPERIMENT else "churn"},
                    params={"lr": rate},
                    metrics=metrics,
                )
            )
    return models
