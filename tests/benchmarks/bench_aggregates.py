"""Functions of a metric's history against the plain metric, in the columnar engine and on the SQL store.

    python tests/benchmarks/bench_aggregates.py                 # 100k runs x 100 points
    python tests/benchmarks/bench_aggregates.py 10000 --points 100

The aggregate query is ``min(metrics.loss) < x`` ordered by ``max(metrics.loss) DESC``; the plain one
``metrics.loss < x`` ordered by ``metrics.loss DESC``, the same shape. Each search takes the first page
of 1,000 runs. The columnar engine holds the runs in memory (a workspace built from records with their
histories): the first aggregate query computes the columns of ``min`` and ``max`` (once per function
and key), the ones after it read them. The SQL store searches a SQLite database MLflow's schema holds,
its ``metrics`` table filled directly (built once, cached beside the other benchmark databases), and
prints SQLite's plan of the aggregate query. Times are medians of several searches on this shared
machine, so read the ratios rather than the absolute times. The collector's first full pass over a
workspace of ten million points takes seconds; it is run (and timed) apart before the aggregate query.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from mlflow_db import ARTIFACT_ROOT, EXPERIMENT_IDS, benchmark_records, cache_dir, fill
from support.mlflow_stores import create_mlflow_schema
from timing import median_seconds

import runql
from runql.engines.sql import MLFLOW_SCHEMA, register_sqlite_functions, runs_select
from runql.profiles.compiled import compile_quietly

THRESHOLD = 0.05
PLAIN = ("metrics.loss < 0.05", ["metrics.loss DESC"])
AGGREGATE = ("min(metrics.loss) < 0.05", ["max(metrics.loss) DESC"])
PAGE = 1000
_INSERT = "INSERT INTO {table} (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)"


def histories(n_runs: int, points: int, seed: int = 11) -> list[list[tuple[float, int, int]]]:
    """(value, timestamp, step) of ``points`` points per run: a falling loss with noise, now and then NaN."""
    rng = random.Random(seed)
    out = []
    for _ in range(n_runs):
        scale = rng.uniform(0.5, 2.0)
        run = []
        for step in range(points):
            value = scale / (1 + step) + rng.uniform(0, 0.05)
            run.append((math.nan if rng.random() < 0.002 else value, 1_700_000_000_000 + step, step))
        out.append(run)
    return out


def records(n_runs: int, points: int) -> list[dict[str, Any]]:
    base = benchmark_records(n_runs)
    for record, history in zip(base, histories(n_runs, points), strict=True):
        record["metrics"] = {"loss": [{"value": v, "timestamp": t, "step": s} for v, t, s in history]}
    return base


def bench_columnar(n_runs: int, points: int) -> None:
    print(f"building a workspace of {n_runs:,} runs x {points} points ...", flush=True)
    workspace = runql.Workspace.from_records(runs=records(n_runs, points))

    def search(query: tuple[str, list[str]]) -> list[Any]:
        found: list[Any] = workspace.search_runs(
            None,
            query[0],
            order_by=query[1],
            max_results=PAGE,
            output_format="list",
            search_all_experiments=True,
            profile="extended",
        )
        return found

    search(PLAIN)  # the columns of the plain metrics, built on the first search
    # The collector's first full pass over the millions of objects just built is paid by whatever
    # allocates next: paid here, apart, so it is not counted against the first aggregate query.
    start = time.perf_counter()
    gc.collect()
    print(
        f"collector's first full pass over the new workspace {(time.perf_counter() - start) * 1000:8.1f} ms"
    )
    plain = median_seconds(lambda: search(PLAIN))
    start = time.perf_counter()
    first = search(AGGREGATE)
    computed = time.perf_counter() - start
    again = median_seconds(lambda: search(AGGREGATE))
    print(
        f"columnar  plain {plain * 1000:8.1f} ms   aggregate, first {computed * 1000:8.1f} ms   "
        f"aggregate, after {again * 1000:8.1f} ms   after/plain {again / plain:5.2f}x   ({len(first)} runs)"
    )


def sqlite_database(n_runs: int, points: int) -> str:
    import mlflow

    path = cache_dir() / f"mlflow-histories-{n_runs}x{points}-mlflow{mlflow.__version__}.db"
    if path.exists():
        return f"sqlite:///{path}"
    print(f"building a SQLite database of {n_runs:,} runs x {points} points ...", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    url = f"sqlite:///{partial}"
    create_mlflow_schema(url, ARTIFACT_ROOT)
    plain = benchmark_records(n_runs)
    for record in plain:
        record["metrics"] = {}
    fill(url, plain)
    every = histories(n_runs, points)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=OFF")
        connection.exec_driver_sql("PRAGMA synchronous=OFF")
        for start in range(0, n_runs, 5000):
            chunk = plain[start : start + 5000]
            metric_rows, latest_rows = [], []
            for record, history in zip(chunk, every[start : start + 5000], strict=True):
                rows = [
                    ("loss", 0.0 if math.isnan(v) else v, t, s, int(math.isnan(v)), record["run_id"])
                    for v, t, s in history
                ]
                metric_rows.extend(rows)
                latest_rows.append(max(rows, key=lambda r: (r[3], r[2], r[1])))
            connection.exec_driver_sql(
                _INSERT.format(table="metrics"),
                metric_rows,
            )
            connection.exec_driver_sql(
                _INSERT.format(table="latest_metrics"),
                latest_rows,
            )
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    partial.rename(path)
    return f"sqlite:///{path}"


def bench_sql(n_runs: int, points: int) -> None:
    url = sqlite_database(n_runs, points)
    store = runql.connect(url)
    experiments = sorted(set(EXPERIMENT_IDS.values()) - {"0"})

    def search(query: tuple[str, list[str]]) -> list[Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found, _ = store.search_runs_paged(
                experiments, query[0], order_by=query[1], max_results=PAGE, profile="extended"
            )
        return found

    plain = median_seconds(lambda: search(PLAIN), repeat=3)
    aggregate = median_seconds(lambda: search(AGGREGATE), repeat=3)
    print(
        f"SQLite    plain {plain * 1000:8.1f} ms   aggregate {aggregate * 1000:8.1f} ms   "
        f"aggregate/plain {aggregate / plain:5.2f}x"
    )
    compiled = compile_quietly(AGGREGATE[0], AGGREGATE[1], profile="extended")
    statement = runs_select(
        compiled,
        MLFLOW_SCHEMA.build(),
        "sqlite",
        experiment_ids=[int(e) for e in experiments],
        lifecycle_stages=["active"],
        limit=PAGE,
    )
    engine = sa.create_engine(url)
    sa.event.listen(engine, "connect", lambda connection, _: register_sqlite_functions(connection))
    with engine.connect() as connection:
        text = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
        print("plan of the aggregate query:")
        for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + text):
            print("   ", row[-1])
    engine.dispose()
    store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--only", choices=("columnar", "sql"))
    args = parser.parse_args(argv)
    if args.only != "sql":
        bench_columnar(args.runs, args.points)
    if args.only != "columnar":
        bench_sql(args.runs, args.points)


if __name__ == "__main__":
    main()
