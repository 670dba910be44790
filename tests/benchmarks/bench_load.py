"""Loading a whole MLflow database into a workspace: ``runql.from_mlflow_db`` and the first search.

    python tests/benchmarks/bench_load.py                      # the 100k-run SQLite database
    python tests/benchmarks/bench_load.py 10000 100000 --repeat 1
    python tests/benchmarks/bench_load.py --histories          # also with every history read at load
    python tests/benchmarks/bench_load.py 30000 --workload wide  # the second workload (workload.py)

The databases are ``mlflow_db.build_sqlite`` of ``--workload`` (built once, cached under
``$RUNQL_BENCH_CACHE`` or ``~/.cache/runql-bench``). Each row is one fresh process per repeat, imports
not counted: the load (``from_mlflow_db``), then the first search,
``ws.search_runs(search_all_experiments=True, output_format="list")``, which builds the column store.
Each is timed as wall time and as the process's CPU time, which moves less on a busy machine. Memory is
the process's resident set (Linux's ``VmHWM`` and ``VmRSS``) above what it was after the imports: the
peak during the load and the search, and what the workspace still holds afterwards. Rows are the median
of ``--repeat`` processes.
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

from mlflow_db import WORKLOADS, build_sqlite

# The child process: imports first (not timed), then the load and the first search (timed).
_CHILD = """
import json, sys, time
url, histories = json.loads(sys.argv[1])
import runql, sqlalchemy, numpy, pandas

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
ws = runql.from_mlflow_db(url, **options)
loaded = now()
runs = ws.search_runs(search_all_experiments=True, output_format="list")
searched = now()
print(json.dumps({
    "load": loaded[0] - started[0],
    "load_cpu": loaded[1] - started[1],
    "search": searched[0] - loaded[0],
    "search_cpu": searched[1] - loaded[1],
    "peak": status("VmHWM") - before,
    "held": status("VmRSS") - before,
    "runs": len(runs),
}))
"""
HEADER = ("load s", "CPU s", "search s", "CPU s", "peak MiB", "held MiB")


def one_load(url: str, histories: bool) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps([url, histories])],
        capture_output=True,
        text=True,
        check=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def bench(url: str, n_runs: int, histories: bool, repeat: int) -> None:
    loads = [one_load(url, histories) for _ in range(repeat)]
    row = [statistics.median(load[field] for load in loads) for field in ("load", "load_cpu", "search")]
    row.append(statistics.median(load["search_cpu"] for load in loads))
    mib = [statistics.median(load[field] for load in loads) / (1 << 20) for field in ("peak", "held")]
    label = f"{n_runs:,} runs" + (", histories=True" if histories else "")
    cells = " ".join(f"{v:>{len(h)}.2f}" for v, h in zip(row, HEADER, strict=False))
    memory = " ".join(f"{v:>{len(h)}.0f}" for v, h in zip(mib, HEADER[4:], strict=True))
    print(f"  {label:<28} {cells} {memory}  ({loads[0]['runs']:,} runs found)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per row (median)")
    parser.add_argument("--histories", action="store_true", help="also load with histories=True")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="standard", help="the runs loaded")
    args = parser.parse_args()
    print(f"SQLite databases of the {args.workload} workload")
    print(f"  {'database':<28} {' '.join(HEADER)}")
    for size in args.sizes:
        url = build_sqlite(size, workload=args.workload)
        bench(url, size, False, args.repeat)
        if args.histories:
            bench(url, size, True, args.repeat)


if __name__ == "__main__":
    main()
