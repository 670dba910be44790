"""Logged-model search (MLflow 3's ``search_logged_models``): runql against MLflow's own SQL store.

    python tests/benchmarks/bench_logged_models.py                     # 5,000 logged models
    python tests/benchmarks/bench_logged_models.py --models 20000 --repeat 3
    python tests/benchmarks/bench_logged_models.py --skewed            # one tag value on 90% of models

It builds a SQLite tracking database of ``--models`` logged models (cached as mlflow_db.py caches its
files), then asks each question of MLflow's ``SqlAlchemyStore.search_logged_models``, of runql's SQL
store (``runql.connect``) and of runql's in-memory workspace (``runql.from_mlflow_db``, whose load is
timed once, apart), checks that both runql answers hold MLflow's model ids in MLflow's order, and
prints the median of ``--repeat`` calls of each. The two stores are timed before the workspace is
loaded: its objects would lengthen every garbage collection of the process. A ratio is runql's time
over MLflow's, measured in the same run (below 1: runql is faster): on this shared machine absolute
times move by tens of percent, the ratios less. Every store is opened once, before the timings: a
call times the search alone.

The schema is MLflow's (its ``SqlAlchemyStore`` creates it), as are the 2 experiments and 20 runs
(logged with its store API, each run with an ``eval`` and a ``train`` dataset input); the logged models
are inserted straight into ``logged_models``, ``logged_model_params``, ``logged_model_tags`` and
``logged_model_metrics`` with SQLAlchemy Core, many rows per statement: logging thousands of models
through MLflow's API takes minutes. Each model has 3 params (lr, depth, optimizer), 2 tags (team,
stage) and 3 metrics (accuracy, loss, f1) of 10 steps on each dataset, logged by one run of its
experiment; 3% are deleted, statuses vary, and pairs of models share a creation time, so MLflow's
tie-break (model_id) decides their order. ``--skewed``: one team holds 90% of the models, every model
has 20 params, and model names and param keys hold spaces and dots.

Last, SQLite's ``EXPLAIN QUERY PLAN`` of each statement runql's SQL store sends for the metric
questions (the page's ids from ``runql.engines.sql_logged_models.logged_models_select``, then the
reads of that page's models).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mlflow_db import cache_dir
from timing import median_seconds

import runql

SEED = 11
# Part of a cached file's name: change it when what a build writes changes, so no stale file is reused.
LAYOUT = 1
ARTIFACT_ROOT = "file:///tmp/mlruns"
CREATED = 1_700_000_000_000
RUNS_PER_EXPERIMENT = 10
PAGE = 100
# name, digest, input context: the two datasets every run takes as inputs and every metric is logged on.
DATASETS = [("eval", "e1a2b3c4", "evaluation"), ("train", "7f8e9d0c", "training")]
TEAMS = ["risk", "growth", "search", "ads"]
STAGES = ["dev", "staging", "production"]
LEARNING_RATES = ["0.1", "0.01", "0.001", "0.0001"]
OPTIMIZERS = ["adam", "sgd", "rmsprop"]
# MLflow's integers for UNSPECIFIED, PENDING, READY, FAILED, and how often each is drawn.
STATUS_WEIGHTS = [5, 15, 70, 10]
DELETED_SHARE = 0.03
STEPS = 10
CHUNK = 20_000

ACCURACY_EVAL = [{"field_name": "metrics.accuracy", "ascending": False, "dataset_name": "eval"}]
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("no filter (first page)", {}),
    ("metrics.accuracy > 0.9", {"filter_string": "metrics.accuracy > 0.9"}),
    (
        "metrics.accuracy > 0.9, datasets=[eval]",
        {"filter_string": "metrics.accuracy > 0.9", "datasets": [{"dataset_name": "eval"}]},
    ),
    (
        "params.lr = '0.01' AND tags.team = 'risk'",
        {"filter_string": "params.lr = '0.01' AND tags.team = 'risk'"},
    ),
    ("name LIKE 'model-1%'", {"filter_string": "name LIKE 'model-1%'"}),
    ("order_by metrics.accuracy DESC on eval", {"order_by": ACCURACY_EVAL}),
]
SKEWED_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("params.`block.3 width` = '64'", {"filter_string": "params.`block.3 width` = '64'"}),
]
# The question paged through to its end, max_results=PAGE a page.
PAGED: tuple[str, dict[str, Any]] = ("all pages of 100, no filter", {})
# The questions whose statements are explained.
EXPLAINED = ["metrics.accuracy > 0.9, datasets=[eval]", "order_by metrics.accuracy DESC on eval"]


# -- the database


def build(n_models: int, skewed: bool, seed: int = SEED) -> str:
    """The URL of a SQLite MLflow database of ``n_models`` logged models, built unless already cached."""
    import mlflow

    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    kind = "-skewed" if skewed else ""
    path = folder / (
        f"logged-models-{n_models}{kind}-seed{seed}-mlflow{mlflow.__version__}-layout{LAYOUT}.db"
    )
    if not path.exists():
        # Built under another name and renamed when complete: an interrupted build is never taken as cached.
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.unlink(missing_ok=True)
        try:
            url = f"sqlite:///{partial}"
            runs = _experiments_and_runs(url)
            _insert_models(url, runs, n_models, skewed, seed)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _experiments_and_runs(url: str) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """MLflow's schema, 2 experiments and their runs, written by MLflow's store: for each experiment id,
    its runs' ids, each with the uuid of each dataset it took as input."""
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(url, ARTIFACT_ROOT)
    try:
        runs: dict[str, list[tuple[str, dict[str, str]]]] = {}
        for name in ("logged-models-a", "logged-models-b"):
            experiment_id = store.create_experiment(name)
            runs[experiment_id] = []
            for index in range(RUNS_PER_EXPERIMENT):
                run = store.create_run(experiment_id, "bench", CREATED + index, [], f"{name}-run-{index}")
                inputs = [
                    DatasetInput(
                        Dataset(name=d, digest=digest, source_type="local", source=f"/data/{d}.parquet"),
                        tags=[InputTag("mlflow.data.context", context)],
                    )
                    for d, digest, context in DATASETS
                ]
                store.log_inputs(run.info.run_id, datasets=inputs)
                runs[experiment_id].append((run.info.run_id, {}))
        with store.engine.connect() as connection:
            found = connection.execute(
                sa.text("SELECT experiment_id, name, dataset_uuid FROM datasets")
            ).fetchall()
        uuids = {(str(e), name): uuid for e, name, uuid in found}
        for experiment_id, listed in runs.items():
            for _, datasets in listed:
                datasets.update({d: uuids[experiment_id, d] for d, _, _ in DATASETS})
        return runs
    finally:
        store.engine.dispose()


def _insert_models(
    url: str, runs: dict[str, list[tuple[str, dict[str, str]]]], n_models: int, skewed: bool, seed: int
) -> None:
    engine = sa.create_engine(url)
    tables = sa.MetaData()
    names = ["logged_models", "logged_model_params", "logged_model_tags", "logged_model_metrics"]
    tables.reflect(engine, only=names)
    try:
        with engine.begin() as connection:
            for start in range(0, n_models, CHUNK):
                rows = _model_rows(runs, range(start, min(start + CHUNK, n_models)), skewed, seed)
                for name in names:  # models first: the others' foreign keys name them
                    connection.execute(tables.tables[name].insert(), rows[name])
    finally:
        engine.dispose()


def _model_rows(
    runs: dict[str, list[tuple[str, dict[str, str]]]], indexes: range, skewed: bool, seed: int
) -> dict[str, list[dict[str, Any]]]:
    """The rows of the models ``indexes``, each drawn from its own seeded generator (so a chunk's rows do
    not depend on the chunks before it)."""
    experiment_ids = sorted(runs)
    found: dict[str, list[dict[str, Any]]] = {
        "logged_models": [],
        "logged_model_params": [],
        "logged_model_tags": [],
        "logged_model_metrics": [],
    }
    for index in indexes:
        rng = random.Random(seed * 1_000_003 + index)
        model_id = f"m-{rng.getrandbits(128):032x}"
        experiment_id = rng.choice(experiment_ids)
        run_id, dataset_uuids = rng.choice(runs[experiment_id])
        created = CREATED + (index // 2) * 1000  # pairs of models share a creation time
        name = f"model-{index} v{index % 7}.{index % 3}" if skewed else f"model-{index}"
        found["logged_models"].append(
            {
                "model_id": model_id,
                "experiment_id": int(experiment_id),
                "name": name,
                "artifact_location": f"{ARTIFACT_ROOT}/{experiment_id}/models/{model_id}/artifacts",
                "creation_timestamp_ms": created,
                "last_updated_timestamp_ms": created + rng.randrange(60_000),
                "status": rng.choices(range(4), weights=STATUS_WEIGHTS)[0],
                "lifecycle_stage": "deleted" if rng.random() < DELETED_SHARE else "active",
                "model_type": rng.choice(["sklearn", "xgboost", "pytorch"]),
                "source_run_id": run_id,
                "status_message": None,
            }
        )
        params = {
            "lr": rng.choice(LEARNING_RATES),
            "depth": str(rng.randint(2, 12)),
            "optimizer": rng.choice(OPTIMIZERS),
        }
        if skewed:
            params.update({f"block.{k} width": str(rng.choice([32, 64, 128, 256])) for k in range(17)})
        found["logged_model_params"].extend(
            {"model_id": model_id, "experiment_id": int(experiment_id), "param_key": k, "param_value": v}
            for k, v in params.items()
        )
        team = ("risk" if rng.random() < 0.9 else rng.choice(TEAMS[1:])) if skewed else rng.choice(TEAMS)
        tags = {"team": team, "stage": rng.choice(STAGES)}
        found["logged_model_tags"].extend(
            {"model_id": model_id, "experiment_id": int(experiment_id), "tag_key": k, "tag_value": v}
            for k, v in tags.items()
        )
        found["logged_model_metrics"].extend(
            _metric_rows(rng, model_id, int(experiment_id), run_id, dataset_uuids, created)
        )
    return found


def _metric_rows(
    rng: random.Random,
    model_id: str,
    experiment_id: int,
    run_id: str,
    dataset_uuids: dict[str, str],
    created: int,
) -> Iterator[dict[str, Any]]:
    """Accuracy, loss and f1 at steps 0..9 on each dataset. A point's key in MLflow's table is (model,
    metric, timestamp, step, run) without the dataset, so the datasets' points are logged apart in time."""
    skill = rng.uniform(0.55, 0.93)
    for offset, (dataset, digest, _) in enumerate(DATASETS):
        for step in range(STEPS):
            accuracy = min(1.0, skill * (0.9 + 0.012 * step) + 0.03 * offset + rng.gauss(0, 0.01))
            values = {
                "accuracy": accuracy,
                "loss": max(0.0, 1.0 - accuracy + rng.gauss(0, 0.02)),
                "f1": max(0.0, accuracy - 0.02 + rng.gauss(0, 0.01)),
            }
            for metric, value in values.items():
                yield {
                    "model_id": model_id,
                    "metric_name": metric,
                    "metric_timestamp_ms": created + 1000 + step * 1000 + offset * 500,
                    "metric_step": step,
                    "metric_value": round(value, 6),
                    "experiment_id": experiment_id,
                    "run_id": run_id,
                    "dataset_uuid": dataset_uuids[dataset],
                    "dataset_name": dataset,
                    "dataset_digest": digest,
                }


# -- the timings

Search = Callable[..., Any]


def first_page(search: Search, experiment_ids: list[str], arguments: dict[str, Any]) -> list[str]:
    return [m.model_id for m in search(experiment_ids, **arguments)]


def all_pages(search: Search, experiment_ids: list[str], arguments: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        page = search(experiment_ids, max_results=PAGE, page_token=token, **arguments)
        ids.extend(m.model_id for m in page)
        token = page.token
        if not token:
            return ids


def explain(store: Any, experiment_ids: list[str], arguments: dict[str, Any]) -> None:
    """SQLite's plan of each statement runql's SQL store sends for one search."""
    sent: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "logged_model" in statement:
            sent.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", note)
    try:
        store.search_logged_models(experiment_ids, **arguments)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", note)
    inspections = [s for s, _ in sent if s.startswith("PRAGMA")]
    print(f"    {len(sent)} statements, {len(inspections)} of them PRAGMAs reading the schema")
    with store.engine.connect() as connection:
        for statement, parameters in sent:
            if statement.startswith("PRAGMA"):
                continue
            print(f"\n    {' '.join(statement.split())[:150]}...")
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            for row in plan:
                print(f"      {row[-1]}")


def bench(n_models: int, skewed: bool, repeat: int) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    started = time.perf_counter()
    url = build(n_models, skewed)
    built = time.perf_counter() - started
    kind = ", skewed" if skewed else ""
    print(f"\n{n_models:,} logged models{kind}: {url} (built or found in {built:.1f} s)")

    theirs = SqlAlchemyStore(url, ARTIFACT_ROOT)
    ours = runql.connect(url)
    experiment_ids = sorted(e.experiment_id for e in theirs.search_experiments() if e.experiment_id != "0")
    questions = [(n, a, first_page) for n, a in QUERIES + (SKEWED_QUERIES if skewed else [])]
    questions.append((*PAGED, all_pages))

    def timed(search: Search, arguments: dict[str, Any], answer: Any) -> float:
        return median_seconds(lambda: answer(search, experiment_ids, arguments), repeat) * 1e3

    # The two stores first, the workspace after: a loaded workspace's objects would make every cyclic
    # garbage collection of the process longer, the stores' searches included, which a process asking
    # a store alone does not pay.
    expected: dict[str, list[str]] = {}
    ms: dict[tuple[str, str], float] = {}
    for name, arguments, answer in questions:
        expected[name] = answer(theirs.search_logged_models, experiment_ids, arguments)
        got = answer(ours.search_logged_models, experiment_ids, arguments)
        assert got == expected[name], f"{name}: runql.connect returns other model ids than MLflow"
        ms[name, "mlflow"] = timed(theirs.search_logged_models, arguments, answer)
        ms[name, "sql"] = timed(ours.search_logged_models, arguments, answer)

    started = time.perf_counter()
    workspace = runql.from_mlflow_db(url)
    loaded = time.perf_counter() - started
    print(f"runql.from_mlflow_db load: {loaded * 1e3:,.0f} ms (not in the table)\n")
    for name, arguments, answer in questions:
        got = answer(workspace.search_logged_models, experiment_ids, arguments)
        assert got == expected[name], f"{name}: the workspace returns other model ids than MLflow"
        ms[name, "workspace"] = timed(workspace.search_logged_models, arguments, answer)

    print("| query | models | MLflow ms | runql SQL ms (ratio) | runql workspace ms (ratio) |")
    print("|---|---:|---:|---:|---:|")
    for name, _, _ in questions:
        theirs_ms, sql_ms, workspace_ms = (ms[name, side] for side in ("mlflow", "sql", "workspace"))
        print(
            f"| {name} | {len(expected[name]):,} | {theirs_ms:,.1f} "
            f"| {sql_ms:,.1f} ({sql_ms / theirs_ms:.2f}) "
            f"| {workspace_ms:,.2f} ({workspace_ms / theirs_ms:.3f}) |"
        )

    print("\nEXPLAIN QUERY PLAN of the statements runql.connect sends:")
    for name, arguments in QUERIES:
        if name in EXPLAINED:
            print(f"\n  {name}")
            explain(ours, experiment_ids, arguments)
    theirs.engine.dispose()
    ours.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=5000, help="logged models in the database")
    parser.add_argument(
        "--skewed",
        action="store_true",
        help="one tag value on 90%% of models, 20 params a model, names with spaces and dots",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions per row (median)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    bench(args.models, args.skewed, args.repeat)


if __name__ == "__main__":
    main()
