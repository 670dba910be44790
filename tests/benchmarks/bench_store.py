"""One-shot questions of an MLflow tracking database: runql.connect against MlflowClient.search_runs.

    python tests/benchmarks/bench_store.py                         # SQLite, 10k and 100k runs
    python tests/benchmarks/bench_store.py 100000 --postgres URL   # also a PostgreSQL database (filled once)
    python tests/benchmarks/bench_store.py 10000 --load            # also runql's whole load (from_mlflow_db)
    python tests/benchmarks/bench_store.py 100000 --query AND      # only the queries whose name has "AND"

Each timing is one fresh process, from creating the store to holding the ids of the first page of
1,000 runs (``order_by=["metrics.auc DESC", "start_time DESC"]``), as a user asking one question pays
it; imports are not counted. The script checks that runql and MLflow return the same ids, and prints
the ratio of the two times measured in the same run: on this shared machine absolute times move by
tens of percent, the ratios less.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mlflow_db import EXPERIMENT_IDS, benchmark_records, build_postgres, build_sqlite

ORDER = ["metrics.auc DESC", "start_time DESC"]
PAGE = 1000


def queries(n_runs: int) -> list[tuple[str, str]]:
    ids = [r["run_id"] for r in benchmark_records(n_runs)][:20]
    listed = ", ".join(f"'{i}'" for i in ids)
    return [
        ("run_id IN (20 ids)", f"attributes.run_id IN ({listed})"),
        ("param equality", "params.model = 'xgb'"),
        ("metric comparison", "metrics.auc > 0.8"),
        ("tag LIKE", "tags.framework LIKE 'tor%'"),
        ("status", "attributes.status = 'FAILED'"),
        (
            "four-clause AND",
            "metrics.auc > 0.5 AND params.model = 'xgb' AND tags.framework = 'torch' "
            "AND attributes.status = 'FINISHED'",
        ),
        ("no filter", ""),
    ]


# The child process: imports first (not timed, for either side), then the store and the search (timed).
_CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
kind, url, experiments, filter_string, order_by, page = json.loads(sys.argv[1])
if kind == "mlflow":
    import logging
    logging.disable(logging.WARNING)
    import mlflow.store.tracking.sqlalchemy_store
    from mlflow.tracking import MlflowClient
    started = time.perf_counter()
    client = MlflowClient(tracking_uri=url)
    runs = client.search_runs(experiments, filter_string, order_by=order_by, max_results=page)
elif kind == "runql":
    import runql
    import runql.stores.sql
    started = time.perf_counter()
    store = runql.connect(url)
    runs, _ = store.search_runs_paged(experiments, filter_string, order_by=order_by, max_results=page)
else:
    import runql
    import runql.sources.mlflow_db
    import sqlalchemy
    started = time.perf_counter()
    runs, _ = runql.from_mlflow_db(url).search_runs_paged(
        experiments, filter_string, order_by=order_by, max_results=page
    )
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "ids": [r.info.run_id for r in runs]}))
"""


def one_shot(kind: str, url: str, filter_string: str) -> tuple[float, list[str]]:
    experiments = [str(i) for i in EXPERIMENT_IDS.values()]
    argument = json.dumps([kind, url, experiments, filter_string, ORDER, PAGE])
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, argument], capture_output=True, text=True, check=True
    )
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["seconds"], answer["ids"]


def timed(kind: str, url: str, filter_string: str, repeat: int) -> tuple[float, list[str]]:
    """The median of ``repeat`` fresh processes (one when the first takes over ten seconds)."""
    seconds, ids = one_shot(kind, url, filter_string)
    times = [seconds]
    while len(times) < repeat and seconds < 10:
        seconds, _ = one_shot(kind, url, filter_string)
        times.append(seconds)
    return statistics.median(times), ids


def bench(label: str, url: str, n_runs: int, repeat: int, load: bool, only: list[str]) -> list[float]:
    print(f"\n{label}, {n_runs:,} runs: first page of {PAGE}, order_by {ORDER}")
    print(f"  {'query':<22} {'runql s':>9} {'MLflow s':>9} {'speed-up':>9}" + ("  load s" if load else ""))
    ratios = []
    for name, filter_string in queries(n_runs):
        if only and not any(o in name for o in only):
            continue
        ours, our_ids = timed("runql", url, filter_string, repeat)
        theirs, their_ids = timed("mlflow", url, filter_string, repeat)
        ratio = theirs / ours
        ratios.append(ratio)
        extra = f"  {timed('load', url, filter_string, 1)[0]:7.2f}" if load else ""
        same = "" if our_ids == their_ids else "  DIFFERENT IDS"
        print(f"  {name:<22} {ours:9.3f} {theirs:9.3f} {ratio:8.1f}x{extra}{same}")
    print(f"  geometric mean speed-up: {math.exp(statistics.fmean(math.log(r) for r in ratios)):.1f}x")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database to fill and query")
    parser.add_argument(
        "--filled", action="store_true", help="the PostgreSQL database holds the runs already (one size)"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL database")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per timing (median)")
    parser.add_argument("--load", action="store_true", help="also time runql's whole load")
    parser.add_argument("--query", action="append", default=[], help="only the queries whose name has this")
    args = parser.parse_args()
    for size in args.sizes:
        if not args.no_sqlite:
            bench("SQLite", build_sqlite(size), size, args.repeat, args.load, args.query)
        if args.postgres:
            if not args.filled:
                build_postgres(args.postgres, size)
            bench("PostgreSQL", args.postgres, size, args.repeat, args.load, args.query)


if __name__ == "__main__":
    main()
