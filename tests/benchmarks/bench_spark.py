"""runql.spark on Spark local[2] against runql's in-memory engine, over run tables of millions of runs.

    python tests/benchmarks/bench_spark.py                          # 1M and 10M runs
    python tests/benchmarks/bench_spark.py --sizes 100000 1000000   # other sizes
    python tests/benchmarks/bench_spark.py --sizes 10000000 --memory-fraction 0.8

Each size is a Parquet run table in the flat layout (the columns of ``mlflow.search_runs``: attributes,
``lifecycle_stage``, three ``metrics.*``, three ``params.*``, three ``tags.*``, with missing keys, NaN
metrics, deleted runs and runs without a start time), generated with numpy a million rows at a time
(one row group each: ten million rows are never in memory at once), seeded by chunk, so the first
million runs of every table are the same runs. Tables are cached under ``$RUNQL_BENCH_CACHE`` or
``~/.cache/runql-bench`` (``mlflow_db.cache_dir``); a re-run reads them.

Two queries, each collected to the driver: the page (``THREE``: a three-clause AND ordered by
``metrics.auc DESC``, the first 1,000 runs) and the issue's done-means query (``DONE``: two clauses,
100 runs). Spark reads the file with ``spark.read.parquet`` in one ``local[2]`` session (the JVM's
heap is ``--driver-memory``), warmed up first by ``--warmup`` searches of the smallest table (the
JVM compiles its hot code as it runs); its time is the median of ``--repeat`` searches after a first
one on each table, reported apart (it plans the query and reads the file's footer).

runql's in-memory engine runs in a child process per size, so its memory is its own: the workspace is
built from the file's rows (``Workspace.from_records``, fed batch by batch), the column store on the
first search; load and query are timed apart; memory is the resident set held after the load and the
peak (``getrusage``). Before a size is loaded whole, its peak is estimated from the largest size
measured so far (per-run bytes) and the load is skipped, saying so, when the estimate exceeds
``--memory-fraction`` of the memory available now. Where it is skipped, runql's answer is still
computed: each row group (a million runs) is searched by its own workspace, and the union of the
groups' pages is searched again. That is the whole table's answer because MLflow's order is total
(its last key is the unique run_id) and the filter looks at one run at a time: a run in the first K of
the whole table is in the first K of its group.

The script checks that Spark's ordered run ids equal runql's for both queries at every size, prints
``agree``, and exits non-zero on any difference. The machine is shared: read the ratios (growth from
the smallest size to the largest) rather than the absolute times.
"""

from __future__ import annotations

import argparse
import functools
import gc
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from mlflow_db import cache_dir
from timing import median_seconds
from workload import EXPERIMENTS, FRAMEWORKS, MODELS, TEAMS, USERS

import runql

SEED = 16
CHUNK = 1_000_000  # rows generated, written and (for the chunked answer) searched at a time
# Part of a cached file's name: change it when what generate() writes changes.
GENERATION = 1
THREE = ("metrics.auc > 0.9 AND params.model = 'xgb' AND tags.team LIKE 'vis%'", ["metrics.auc DESC"], 1000)
DONE = ("metrics.auc > 0.9 AND params.model = 'xgb'", ["metrics.auc DESC"], 100)
QUERIES = {"three-clause page of 1,000": THREE, "done-means, 100": DONE}
STATUSES = np.array(["FINISHED", "FAILED", "RUNNING", "KILLED"])
STATUS_WEIGHTS = [0.85, 0.07, 0.05, 0.03]
START = 1_650_000_000_000
GIB = 2**30

Query = tuple[str, list[str], int]


# -- the run table --------------------------------------------------------------------------------


def _splitmix(x: np.ndarray) -> np.ndarray:
    """A bijection of uint64 that scatters consecutive numbers: distinct, random-looking run ids."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    scattered: np.ndarray = x ^ (x >> np.uint64(31))
    return scattered


def _strings(rng: np.random.Generator, values: list[str], n: int, missing: float) -> pa.Array:
    codes = pa.array(rng.integers(0, len(values), n), mask=rng.random(n) < missing)
    return pa.DictionaryArray.from_arrays(codes, pa.array(values)).dictionary_decode()


def _metric(rng: np.random.Generator, values: np.ndarray, missing: float, nan: float) -> pa.Array:
    n = len(values)
    values = np.where(rng.random(n) < nan, np.nan, values)
    return pa.array(values, mask=rng.random(n) < missing)  # NaN stays NaN; masked rows are null


def generate(first: int, count: int, chunk: int) -> pa.Table:
    """Runs ``first`` to ``first + count`` of every table, from a generator seeded by ``chunk``."""
    rng = np.random.default_rng([SEED, chunk])
    n = count
    index = np.arange(first, first + n, dtype=np.uint64)
    high, low = _splitmix(index).tolist(), _splitmix(index ^ np.uint64(0xFFFF_FFFF_0000_0000)).tolist()
    run_ids = [f"{a:016x}{b:016x}" for a, b in zip(high, low, strict=True)]
    status = STATUSES[rng.choice(len(STATUSES), n, p=STATUS_WEIGHTS)]
    # Whole minutes over two days: sweeps start runs in the same minute, so runs tie on auc and
    # start_time too, and run_id has to break the tie.
    start = START + rng.integers(0, 2_880, n) * 60_000
    end = start + rng.integers(1_000, 20_000_000, n)
    time_type = pa.timestamp("ms", tz="UTC")
    columns = {
        "run_id": pa.array(run_ids),
        "experiment_id": _strings(rng, [e for e in EXPERIMENTS if e != "0"], n, 0.0),
        "status": pa.array(status),
        "artifact_uri": pa.array([f"s3://runs/mlruns/{i}/artifacts" for i in range(first, first + n)]),
        "start_time": pa.array(start, type=time_type, mask=rng.random(n) < 0.001),
        "end_time": pa.array(end, type=time_type, mask=status == "RUNNING"),
        "lifecycle_stage": _strings(rng, ["active"] * 49 + ["deleted"], n, 0.0),
        # Four decimals: runs tie on auc, and the order's later keys decide.
        "metrics.accuracy": _metric(rng, np.round(rng.random(n), 4), 0.1, 0.005),
        "metrics.auc": _metric(rng, np.round(rng.random(n), 4), 0.1, 0.005),
        "metrics.loss": _metric(rng, rng.exponential(0.5, n), 0.05, 0.002),
        "params.learning_rate": _strings(rng, ["0.001", "0.01", "0.03", "0.1", "0.3"], n, 0.15),
        "params.max_depth": _strings(rng, ["3", "4", "6", "8", "10", "12"], n, 0.15),
        "params.model": _strings(rng, MODELS, n, 0.15),
        "tags.framework": _strings(rng, FRAMEWORKS, n, 0.1),
        "tags.mlflow.user": _strings(rng, USERS, n, 0.05),
        "tags.team": _strings(rng, TEAMS, n, 0.1),
    }
    return pa.table(columns)


def run_table(size: int, chunk_rows: int = CHUNK) -> Path:
    """The cached Parquet file of ``size`` runs, generated ``chunk_rows`` at a time when absent."""
    folder = cache_dir()
    chunking = "" if chunk_rows == CHUNK else f"-chunk{chunk_rows}"
    path = folder / f"spark-runs-{size}-seed{SEED}{chunking}-gen{GENERATION}.parquet"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    # Written under another name and renamed when complete: an interrupted build is never taken as cached.
    partial = path.with_suffix(f".{os.getpid()}.partial")
    print(f"generating {size:,} runs into {path} ...", flush=True)
    begun = time.perf_counter()
    writer = None
    try:
        for chunk, first in enumerate(range(0, size, chunk_rows)):
            table = generate(first, min(chunk_rows, size - first), chunk)
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=chunk_rows)
            del table
    finally:
        if writer is not None:
            writer.close()
    partial.rename(path)
    print(
        f"  {time.perf_counter() - begun:.0f} s, {path.stat().st_size / 2**20:,.0f} MiB on disk", flush=True
    )
    return path


def records(batches: Iterator[pa.RecordBatch]) -> Iterator[dict[str, Any]]:
    """The runs of ``batches`` as run records for ``Workspace.from_records``: a null key is one the
    run lacks, a NaN metric stays NaN, times are milliseconds."""
    for batch in batches:
        columns: dict[str, list[Any]] = {}
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if pa.types.is_timestamp(column.type):
                column = column.cast(pa.int64())
            columns[name] = column.to_pylist()
        attributes = [n for n in columns if "." not in n]
        parts = {
            part: [(n.split(".", 1)[1], columns[n]) for n in columns if n.startswith(part + ".")]
            for part in ("metrics", "params", "tags")
        }
        for i in range(batch.num_rows):
            record = {name: columns[name][i] for name in attributes}
            for part, keys in parts.items():
                record[part] = {key: values[i] for key, values in keys if values[i] is not None}
            yield record


# -- memory ---------------------------------------------------------------------------------------


def _status_bytes(pid: int | str, field: str) -> int:
    """A ``/proc/<pid>/status`` field (VmRSS, VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise LookupError("MemAvailable")


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux counts kilobytes


# -- runql's in-memory engine (in a child process) ------------------------------------------------


def _search(workspace: runql.Workspace, query: Query) -> list[Any]:
    found: list[Any] = workspace.search_runs(
        filter_string=query[0],
        order_by=query[1],
        max_results=query[2],
        search_all_experiments=True,
        output_format="list",
    )
    return found


def worker_whole(path: Path, repeat: int) -> dict[str, Any]:
    """Load the whole table into one workspace; time the load, the column store and the queries."""
    baseline = _status_bytes("self", "VmRSS")
    start = time.perf_counter()
    workspace = runql.Workspace.from_records(runs=records(pq.ParquetFile(path).iter_batches(100_000)))
    load = time.perf_counter() - start
    start = time.perf_counter()
    _search(workspace, ("", [], 1))  # the column store is built on the first search
    index = time.perf_counter() - start
    gc.collect()
    pa.default_memory_pool().release_unused()  # Arrow's pool keeps the batches' freed buffers
    held = _status_bytes("self", "VmRSS") - baseline
    result: dict[str, Any] = {"load_s": load, "index_s": index, "held": held, "answers": {}, "query_s": {}}
    for name, query in QUERIES.items():
        result["answers"][name] = [r.info.run_id for r in _search(workspace, query)]
        result["query_s"][name] = median_seconds(functools.partial(_search, workspace, query), repeat)
    result["peak"] = peak_bytes() - baseline
    return result


def worker_chunked(path: Path) -> dict[str, Any]:
    """runql's answer one row group at a time: each group's first K runs, then the first K of their union."""
    baseline = _status_bytes("self", "VmRSS")
    start = time.perf_counter()
    file = pq.ParquetFile(path)
    tops: dict[str, list[Any]] = {name: [] for name in QUERIES}
    for group in range(file.num_row_groups):
        workspace = runql.Workspace.from_records(runs=records(file.iter_batches(100_000, row_groups=[group])))
        for name, query in QUERIES.items():
            tops[name] += _search(workspace, query)
        del workspace
        gc.collect()
    answers = {}
    for name, query in QUERIES.items():
        union = runql.Workspace.from_records(runs=tops[name])
        answers[name] = [r.info.run_id for r in _search(union, query)]
    return {
        "groups": file.num_row_groups,
        "seconds": time.perf_counter() - start,
        "peak": peak_bytes() - baseline,
        "answers": answers,
    }


def in_child(mode: str, path: Path, repeat: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", mode, str(path), "--repeat", str(repeat)]
    done = subprocess.run(command, stdout=subprocess.PIPE, check=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


# -- Spark ----------------------------------------------------------------------------------------


def spark_session(driver_memory: str) -> Any:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("runql-bench-spark")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", driver_memory)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_page(spark: Any, path: Path, query: Query) -> list[Any]:
    """The page collected to the driver, every column of it, as a notebook would."""
    import runql.engines.spark

    runs = spark.read.parquet(str(path))
    found = runql.engines.spark.search_runs(runs, query[0], query[1], max_results=query[2])
    rows: list[Any] = found.collect()
    return rows


def jvm_peak(spark: Any) -> int:
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    return _status_bytes(pid, "VmHWM")


def ties(rows: list[Any]) -> tuple[int, int]:
    """Neighbours of a page with equal auc (start_time orders them), and with equal auc and
    start_time too (run_id orders them)."""
    keys = [(r["metrics.auc"], r["start_time"]) for r in rows]
    pairs = list(itertools.pairwise(keys))
    return sum(a[0] == b[0] for a, b in pairs), sum(a == b for a, b in pairs)


# -- the report -----------------------------------------------------------------------------------


def bench(args: argparse.Namespace) -> int:
    paths = {size: run_table(size, args.chunk) for size in args.sizes}
    spark = spark_session(args.driver_memory)
    for _ in range(args.warmup):
        for query in QUERIES.values():
            spark_page(spark, paths[args.sizes[0]], query)
    report: dict[int, dict[str, Any]] = {}
    failures = []
    per_run_peak: float | None = None
    for size in args.sizes:
        path = paths[size]
        entry: dict[str, Any] = {"spark": {}, "first": {}, "ties": {}}
        report[size] = entry
        print(f"\n{size:,} runs ({path.stat().st_size / 2**20:,.0f} MiB)", flush=True)
        spark_ids = {}
        for name, query in QUERIES.items():
            start = time.perf_counter()
            rows = spark_page(spark, path, query)
            entry["first"][name] = time.perf_counter() - start
            entry["spark"][name] = median_seconds(
                functools.partial(spark_page, spark, path, query), args.repeat
            )
            spark_ids[name] = [r["run_id"] for r in rows]
            entry["ties"][name] = ties(rows)
            print(
                f"  Spark  {name:<28} first {entry['first'][name]:7.2f} s   "
                f"median {entry['spark'][name]:7.2f} s   {len(rows)} runs, "
                "neighbours tied on auc: {}, on auc and start_time: {}".format(*entry["ties"][name]),
                flush=True,
            )
        entry["jvm_peak"] = jvm_peak(spark)
        print(f"  Spark  JVM peak resident memory so far {entry['jvm_peak'] / GIB:.2f} GiB")

        available = available_bytes()
        estimate = None if per_run_peak is None else per_run_peak * size
        entry["estimate"], entry["available"] = estimate, available
        if estimate is not None and estimate > args.memory_fraction * available:
            print(
                f"  runql  whole table not loaded: estimated peak {estimate / GIB:.1f} GiB "
                f"({per_run_peak:,.0f} B per run) > {args.memory_fraction:.0%} of the "
                f"{available / GIB:.1f} GiB available now",
                flush=True,
            )
            found = in_child("chunked", path, args.repeat)
            entry["chunked"] = found
            print(
                f"  runql  answer by row group ({found['groups']} workspaces of <= {args.chunk:,} runs, then "
                f"their pages' union): {found['seconds']:.0f} s, peak {found['peak'] / GIB:.2f} GiB",
                flush=True,
            )
        else:
            found = in_child("whole", path, args.repeat)
            entry["whole"] = found
            per_run_peak = found["peak"] / size
            print(
                f"  runql  load {found['load_s']:7.1f} s   column store {found['index_s']:6.1f} s   "
                f"held {found['held'] / GIB:5.2f} GiB ({found['held'] / size:,.0f} B per run)   "
                f"peak {found['peak'] / GIB:5.2f} GiB ({per_run_peak:,.0f} B per run)",
                flush=True,
            )
            for name in QUERIES:
                print(f"  runql  {name:<28} median {found['query_s'][name] * 1000:9.1f} ms")
            if pq.ParquetFile(path).num_row_groups > 1:  # the answer by row group, checked where it can be
                chunked = in_child("chunked", path, args.repeat)["answers"]
                same = chunked == found["answers"]
                print(
                    f"  {'agree' if same else 'DIFFERENT RUN IDS'}: runql's answer by row group and "
                    "the whole workspace's, both queries"
                )
                if not same:
                    failures.append((size, "by row group"))
        for name in QUERIES:
            same = spark_ids[name] == found["answers"][name]
            print(f"  {'agree' if same else 'DIFFERENT RUN IDS'}: {name} ({len(spark_ids[name])} runs)")
            if not same:
                failures.append((size, name))
    spark.stop()

    print("\nsummary")
    sizes = sorted(report)
    for name in QUERIES:
        times = ", ".join(f"{s:,}: {report[s]['spark'][name]:.2f} s" for s in sizes)
        growth = ""
        if len(sizes) > 1:
            ratio = report[sizes[-1]]["spark"][name] / report[sizes[0]]["spark"][name]
            growth = f"; x{ratio:.1f} for x{sizes[-1] / sizes[0]:.0f} runs"
        print(f"  Spark {name}: {times}{growth}")
    if per_run_peak is not None:
        total, available = int(Path("/proc/meminfo").read_text().split()[1]) * 1024, available_bytes()
        print(
            f"  runql in memory: {per_run_peak:,.0f} B per run at its peak; it stops fitting at about "
            f"{available / per_run_peak / 1e6:.1f}M runs in the {available / GIB:.1f} GiB available now "
            f"({total / per_run_peak / 1e6:.1f}M in all {total / GIB:.0f} GiB of this machine)"
        )
    if failures:
        print(f"DIFFERENT ANSWERS: {failures}")
        return 1
    print("agree: Spark's ordered run ids equal runql's at every size")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3, help="Spark searches of the smallest table first")
    parser.add_argument("--chunk", type=int, default=CHUNK, help="rows per generated chunk and row group")
    parser.add_argument("--driver-memory", default="4g", help="the Spark JVM's heap (local mode)")
    parser.add_argument(
        "--memory-fraction",
        type=float,
        default=0.5,
        help="load a table whole into runql only when its estimated peak is below this share of the "
        "memory available",
    )
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        mode, path = args.worker
        work = worker_whole(Path(path), args.repeat) if mode == "whole" else worker_chunked(Path(path))
        print(json.dumps(work))
        return 0
    args.sizes = sorted(set(args.sizes))
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
