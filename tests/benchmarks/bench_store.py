"""One-shot questions of an MLflow tracking database: runql.connect against MlflowClient.search_runs.

    python tests/benchmarks/bench_store.py                         # SQLite, 10k and 100k runs
    python tests/benchmarks/bench_store.py 100000 --postgres URL   # also a PostgreSQL database (filled once)
    python tests/benchmarks/bench_store.py 10000 --load            # also runql's whole load (from_mlflow_db)
    python tests/benchmarks/bench_store.py 100000 --query AND      # only the queries whose name has "AND"
    python tests/benchmarks/bench_store.py 30000 --workload wide   # the second workload (workload.py)
    python tests/benchmarks/bench_store.py 30000 --parts           # hydration and key check, in one process

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

from mlflow_db import EXPERIMENT_IDS, WORKLOADS, benchmark_records, build_postgres, build_sqlite
from workload import WIDE_QUERIES

ORDER = ["metrics.auc DESC", "start_time DESC"]
PAGE = 1000


def queries(n_runs: int, workload: str = "standard") -> list[tuple[str, str]]:
    """The questions asked of a database of ``n_runs`` runs of ``workload``: name, filter_string."""
    ids = [r["run_id"] for r in benchmark_records(n_runs, workload=workload)][:20]
    listed = ", ".join(f"'{i}'" for i in ids)
    if workload == "wide":
        return [("run_id IN (20 ids)", f"attributes.run_id IN ({listed})"), *WIDE_QUERIES]
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


def bench(
    label: str, url: str, n_runs: int, repeat: int, load: bool, only: list[str], workload: str = "standard"
) -> list[float]:
    print(f"\n{label}, {n_runs:,} runs of the {workload} workload: first page of {PAGE}, order_by {ORDER}")
    print(f"  {'query':<22} {'runql s':>9} {'MLflow s':>9} {'speed-up':>9}" + ("  load s" if load else ""))
    ratios = []
    slow = []  # the ratios where MLflow takes a second or more: the targets are over these
    for name, filter_string in queries(n_runs, workload):
        if only and not any(o in name for o in only):
            continue
        ours, our_ids = timed("runql", url, filter_string, repeat)
        theirs, their_ids = timed("mlflow", url, filter_string, repeat)
        ratio = theirs / ours
        ratios.append(ratio)
        if theirs >= 1:
            slow.append(ratio)
        extra = f"  {timed('load', url, filter_string, 1)[0]:7.2f}" if load else ""
        same = "" if our_ids == their_ids else "  DIFFERENT IDS"
        print(f"  {name:<22} {ours:9.3f} {theirs:9.3f} {ratio:8.1f}x{extra}{same}")
    print(f"  geometric mean speed-up: {_geometric_mean(ratios):.1f}x")
    if slow:
        print(
            f"  where MLflow takes >= 1 s: geometric mean {_geometric_mean(slow):.1f}x, "
            f"worst {min(slow):.1f}x, over {len(slow)} questions"
        )
    return ratios


# In one process: the page's hydration (its runs read by id), the absent-key check of a query naming keys
# the page lacks, and a store opened again on the same database, each the median of five after one call.
_PARTS = """
import json, statistics, sys, time, warnings
warnings.simplefilter("ignore")
url, experiments, filter_string, page = json.loads(sys.argv[1])
import runql
from runql.language.ast import Entity, clauses
store = runql.connect(url)
compiled = runql.compile(filter_string)
kinds = (Entity.METRIC, Entity.PARAM, Entity.TAG)
named = [c.key for c in clauses(compiled.query.filter) if c.key.entity in kinds]
with store._reading() as connection:
    ids = store._search_ids(connection, compiled, experiments, runql.ViewType.ACTIVE_ONLY, page, 0)
def median(action):
    action()
    times = []
    for _ in range(5):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)
def hydrate():
    with store._reading() as connection:
        store._read_runs(connection, ids)
def reconnect():
    runql.connect(url).close()
def warn():
    if hasattr(store, "_present_keys"):
        store._present_keys(experiments, ["active"], named)
    else:
        store.key_sets(experiments, ["active"])
print(json.dumps({"hydrate": median(hydrate), "keys": median(warn), "reconnect": median(reconnect)}))
"""


def parts(url: str, filter_string: str) -> dict[str, float]:
    """The seconds of the page's hydration, of the absent-key check and of opening the store again."""
    experiments = [str(i) for i in EXPERIMENT_IDS.values()]
    argument = json.dumps([url, experiments, filter_string, PAGE])
    done = subprocess.run(
        [sys.executable, "-c", _PARTS, argument], capture_output=True, text=True, check=True
    )
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def _geometric_mean(ratios: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(r) for r in ratios))


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
    parser.add_argument(
        "--parts", action="store_true", help="only time hydration, the absent-key check and a second connect"
    )
    parser.add_argument("--query", action="append", default=[], help="only the queries whose name has this")
    parser.add_argument(
        "--workload", action="append", choices=sorted(WORKLOADS), help="the workloads (default: both)"
    )
    args = parser.parse_args()
    for workload in args.workload or ["standard", "wide"]:
        for size in args.sizes:
            if args.parts:
                url = build_sqlite(size, workload=workload)
                print(
                    f"\nSQLite, {size:,} runs of the {workload} workload: hydration of {PAGE} runs, key check"
                )
                for name, filter_string in queries(size, workload):
                    if filter_string and not name.startswith("run_id"):
                        found = parts(url, filter_string)
                        print(
                            f"  {name:<30} hydrate {found['hydrate']:7.3f} s   keys {found['keys']:7.4f} s"
                            f"   connect again {found['reconnect']:7.4f} s"
                        )
                continue
            if not args.no_sqlite:
                url = build_sqlite(size, workload=workload)
                bench("SQLite", url, size, args.repeat, args.load, args.query, workload)
            if args.postgres:
                if not args.filled:
                    build_postgres(args.postgres, size, workload=workload)
                bench("PostgreSQL", args.postgres, size, args.repeat, args.load, args.query, workload)


if __name__ == "__main__":
    main()
