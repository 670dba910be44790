"""bench_store's questions asked of MLflow's own server: with runql's plugin, and plain.

    python tests/benchmarks/bench_server.py                          # SQLite, 100k runs
    python tests/benchmarks/bench_server.py 10000 --repeat 5         # another size
    python tests/benchmarks/bench_server.py 100000 --postgres URL    # also PostgreSQL (filled once)
    python tests/benchmarks/bench_server.py --query AND              # only the queries whose name has "AND"

Two ``mlflow server`` processes serve one database: one with ``--backend-store-uri runql+<database>``
(the plugin, runql.stores.mlflow_plugin, in its default profile) and one with the database's own URL.
Each timing is one ``MlflowClient.search_runs`` call from this process for the first page of 1,000 runs
(``order_by=["metrics.auc DESC", "start_time DESC"]``, as bench_store), median of ``--repeat`` calls (one
when the first takes over ten seconds), after each server has answered one small search: the servers are
warm, as a shared server is, and the time is the question's. Both servers must return the same ids.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_store import ORDER, PAGE, queries
from mlflow_db import EXPERIMENT_IDS, build_postgres, build_sqlite
from support.services import mlflow_server


def plugin_uri(database: str) -> str:
    """``runql+`` before the database's URL, with SQLAlchemy's default driver (no scheme names another)."""
    scheme, rest = database.split("://", 1)
    return f"runql+{scheme.split('+')[0]}://{rest}"


@contextmanager
def servers(database: str) -> Iterator[tuple[str, str]]:
    """The plugin server and the plain server over ``database``, started one after the other."""
    folder = Path(tempfile.mkdtemp(prefix="runql-bench-server-"))
    with ExitStack() as stack:
        plugin = stack.enter_context(mlflow_server(plugin_uri(database), folder, log_name="plugin.log"))
        plain = stack.enter_context(mlflow_server(database, folder, log_name="plain.log"))
        yield plugin, plain


def timed(client: Any, filter_string: str, repeat: int) -> tuple[float, list[str]]:
    experiments = [str(i) for i in EXPERIMENT_IDS.values()]
    times: list[float] = []
    ids: list[str] = []
    while len(times) < repeat and (not times or times[0] < 10):
        started = time.perf_counter()
        runs = client.search_runs(experiments, filter_string, order_by=ORDER, max_results=PAGE)
        times.append(time.perf_counter() - started)
        ids = [run.info.run_id for run in runs]
    return statistics.median(times), ids


def bench(label: str, database: str, n_runs: int, repeat: int, only: list[str]) -> list[tuple[float, float]]:
    from mlflow import MlflowClient

    print(f"\n{label}, {n_runs:,} runs: MlflowClient.search_runs, first page of {PAGE}, order_by {ORDER}")
    print(f"  {'query':<22} {'plugin s':>9} {'plain s':>9} {'speed-up':>9}")
    found = []
    with servers(database) as (plugin_url, plain_url):
        plugin, plain = MlflowClient(tracking_uri=plugin_url), MlflowClient(tracking_uri=plain_url)
        for client in (plugin, plain):  # connections made, the database's pages read once
            client.search_runs([str(i) for i in EXPERIMENT_IDS.values()], "", max_results=1)
        for name, filter_string in queries(n_runs):
            if only and not any(o in name for o in only):
                continue
            ours, our_ids = timed(plugin, filter_string, repeat)
            theirs, their_ids = timed(plain, filter_string, repeat)
            found.append((ours, theirs))
            same = "" if our_ids == their_ids else "  DIFFERENT IDS"
            print(f"  {name:<22} {ours:9.3f} {theirs:9.3f} {theirs / ours:8.1f}x{same}", flush=True)
    slow = [theirs / ours for ours, theirs in found if theirs >= 1]
    if slow:
        mean = math.exp(statistics.fmean(math.log(r) for r in slow))
        print(
            f"  geometric mean where the plain server takes 1 s or more: {mean:.1f}x, lowest {min(slow):.1f}x"
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database to fill and query")
    parser.add_argument(
        "--filled", action="store_true", help="the PostgreSQL database holds the runs already (one size)"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL database")
    parser.add_argument("--repeat", type=int, default=3, help="calls per timing (median)")
    parser.add_argument("--query", action="append", default=[], help="only the queries whose name has this")
    args = parser.parse_args()
    # MLflow's client gives up on a request after 120 s and retries it; the plain server takes minutes on
    # some of these questions.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "7200")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    for size in args.sizes:
        if not args.no_sqlite:
            bench("SQLite", build_sqlite(size), size, args.repeat, args.query)
        if args.postgres:
            if not args.filled:
                build_postgres(args.postgres, size)
            bench("PostgreSQL", args.postgres, size, args.repeat, args.query)


if __name__ == "__main__":
    main()
