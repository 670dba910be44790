"""Loading a whole MLflow database into a workspace: ``runql.from_mlflow_db`` and the first search.

    python tests/benchmarks/bench_load.py                      # the 100k-run SQLite database
    python tests/benchmarks/bench_load.py 10000 100000 --repeat 1
    python tests/benchmarks/bench_load.py --histories          # also with every history read at load
    python tests/benchmarks/bench_load.py 30000 --workload wide  # the second workload (workload.py)
    python tests/benchmarks/bench_load.py 100000 --postgres postgresql+psycopg2://u:p@host/db  # also there
    python tests/benchmarks/bench_load.py 1000000 --parquet-only  # a Parquet run table (runql export)

The databases are ``mlflow_db.build_sqlite`` of ``--workload`` (built once, cached under
``$RUNQL_BENCH_CACHE`` or ``~/.cache/runql-bench``), and with ``--postgres`` an empty PostgreSQL database
filled once with the same runs; with ``--parquet`` also the same runs written as a Parquet run table (flat
layout, cached beside the databases), read with ``Workspace.load``. Each row is one fresh process per
repeat, imports not counted (pyarrow and ADBC's drivers included when installed): the load, then the
first search as ``mlflow.search_runs`` answers by default, ``ws.search_runs(search_all_experiments=True)``
(a DataFrame of every run), then every run as a Run object (``output_format="list"``). Each is timed as
the process's CPU time (wall time moves more on a busy machine). Memory is the process's resident set
(Linux's ``VmHWM`` and ``VmRSS``) above what it was after the imports: the peak during the load and the
first search, and what the workspace holds after them, per run. Rows are the median of ``--repeat``
processes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mlflow_db import SEED, WORKLOADS, benchmark_records, build_postgres, build_sqlite, cache_dir

# The child process: imports first (not timed), then the load and the first search (timed).
_CHILD = """
import json, sys, time
url, histories, adbc = json.loads(sys.argv[1])
if not adbc:  # as without runql[adbc]
    for package in ("adbc_driver_manager", "adbc_driver_sqlite", "adbc_driver_postgresql"):
        sys.modules[package] = None
import runql, sqlalchemy, numpy, pandas
try:
    import pyarrow, pyarrow.compute, adbc_driver_sqlite.dbapi, adbc_driver_postgresql.dbapi
except ImportError:
    pass

def status(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)

def now():
    return time.perf_counter(), time.process_time()

options = {"histories": True} if histories else {}
before = status("VmRSS")
started = now()
ws = runql.Workspace.load(url) if url.endswith(".parquet") else runql.from_mlflow_db(url, **options)
loaded = now()
frame = ws.search_runs(search_all_experiments=True)
searched = now()
peak, held = status("VmHWM") - before, status("VmRSS") - before
runs = ws.search_runs(search_all_experiments=True, output_format="list")
listed = now()
print(json.dumps({
    "load_cpu": loaded[1] - started[1],
    "search_cpu": searched[1] - loaded[1],
    "list_cpu": listed[1] - searched[1],
    "peak": peak,
    "held": held,
    "runs": len(frame),
}))
"""
HEADER = ("load CPU s", "search CPU s", "total CPU s", "list CPU s", "peak MiB", "held B/run")


def one_load(url: str, histories: bool, adbc: bool) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps([url, histories, adbc])],
        capture_output=True,
        text=True,
        check=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def bench(label: str, url: str, n_runs: int, histories: bool, repeat: int, adbc: bool) -> None:
    loads = [one_load(url, histories, adbc) for _ in range(repeat)]
    for load in loads:
        load["total_cpu"] = load["load_cpu"] + load["search_cpu"]
    row = [
        statistics.median(load[field] for load in loads)
        for field in ("load_cpu", "search_cpu", "total_cpu", "list_cpu")
    ]
    peak = statistics.median(load["peak"] for load in loads) / (1 << 20)
    per_run = statistics.median(load["held"] for load in loads) / n_runs
    label = (
        f"{label}, {n_runs:,} runs"
        + (", histories=True" if histories else "")
        + ("" if adbc else ", no ADBC")
    )
    cells = " ".join(f"{v:>{len(h)}.2f}" for v, h in zip(row, HEADER, strict=False))
    print(
        f"  {label:<44} {cells} {peak:>{len(HEADER[4])}.0f} {per_run:>{len(HEADER[5])}.0f}"
        f"  ({loads[0]['runs']:,} runs found)",
        flush=True,
    )


def build_parquet(n_runs: int, workload: str) -> str:
    """The benchmark's runs as a Parquet run table (flat layout), written once and cached."""
    import runql
    from runql.sources.export import write_run_table

    path = cache_dir() / f"runs-{n_runs}-{workload}-seed{SEED}.parquet"
    if not path.exists():
        workspace = runql.Workspace.from_records(runs=benchmark_records(n_runs, workload=workload))
        write_run_table(workspace.runs, path)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per row (median)")
    parser.add_argument("--histories", action="store_true", help="also load with histories=True")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="standard", help="the runs loaded")
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database to fill and load too")
    parser.add_argument("--filled", action="store_true", help="--postgres holds the runs already")
    parser.add_argument("--parquet", action="store_true", help="also a Parquet run table of the runs")
    parser.add_argument("--parquet-only", action="store_true", help="only the Parquet run table")
    parser.add_argument("--no-adbc", action="store_true", help="read the databases as without runql[adbc]")
    args = parser.parse_args()
    print(f"MLflow databases of the {args.workload} workload")
    print(f"  {'database':<44} {' '.join(HEADER)}")
    for size in args.sizes:
        urls = {} if args.parquet_only else {"SQLite": build_sqlite(size, workload=args.workload)}
        if args.parquet or args.parquet_only:
            urls["Parquet"] = build_parquet(size, args.workload)
        if args.postgres:
            if not args.filled:
                build_postgres(args.postgres, size, workload=args.workload)
            urls["PostgreSQL"] = args.postgres
        for label, url in urls.items():
            bench(label, url, size, False, args.repeat, not args.no_adbc)
            if args.histories:
                bench(label, url, size, True, args.repeat, not args.no_adbc)


if __name__ == "__main__":
    main()
