"""runql against MLflow's in-memory search, side by side, in one run.

    python tests/benchmarks/bench_search.py                 # 10k and 100k runs
    python tests/benchmarks/bench_search.py 10000 100000 1000000
    python tests/benchmarks/bench_search.py 1000000 --mlflow-max 0 --max-results 1000 --by-hand
    python tests/benchmarks/bench_search.py 30000 --workload wide  # the second workload (workload.py)

For each size it builds a runql workspace and MLflow's entities from the same records, times the
representative queries of ``workload.QUERIES`` (each without and with ``order_by=["metrics.auc DESC"]``;
with ``--workload wide``, the runs of ``wide_run_records`` and the questions of ``WIDE_QUERIES``)
with runql's ``search_runs`` and MLflow's ``SearchUtils.filter`` + ``sort``, checks that both return
the same run ids, and prints medians and ratios; ``--max-results 1000`` times the first page of 1,000
runs (MLflow's answer cut to the same length). The DataFrame row times runql's whole ``search_runs``
(search and frame) against MLflow's frame building alone, over the same 10,000 runs. MLflow is
skipped above ``--mlflow-max`` runs (its entities for a million runs do not fit this machine's memory
next to runql's). Needs the test extra.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).parent))

from timing import median_seconds
from workload import EXPERIMENTS, QUERIES, WIDE_QUERIES, run_records, wide_run_records

import runql

ORDER = ["metrics.auc DESC"]
# Each workload's runs, its questions (name, filter_string, ids filling {0}, {1}, {2}) and a three-clause
# AND asked of runql alone.
RECORDS = {"standard": run_records, "wide": wide_run_records}
QUESTIONS = {
    "standard": QUERIES,
    "wide": [("run_id IN list", "attributes.run_id IN ('{0}', '{1}', '{2}')"), *WIDE_QUERIES],
}
THREE_CLAUSES = {
    "standard": "metrics.auc > 0.5 AND params.model = 'xgb' AND tags.framework = 'torch'",
    "wide": "metrics.auc > 0.5 AND params.`optimizer.name` = 'adam' AND tags.`mlflow.user` = 'ana'",
}


def measured_build(build: Callable[[], Any]) -> tuple[Any, float, int]:
    """What ``build`` returns, its time, and the memory a second build holds (tracemalloc slows
    allocation, so time and memory come from separate builds)."""
    gc.collect()
    start = time.perf_counter()
    built = build()
    seconds = time.perf_counter() - start
    gc.collect()
    tracemalloc.start()
    again = build()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del again
    return built, seconds, held


def mlflow_runs(records: list[dict[str, Any]]) -> list[Any]:
    from mlflow.entities import Metric, Param, Run, RunData, RunInfo, RunTag

    runs = []
    for r in records:
        info = RunInfo(
            run_id=r["run_id"],
            experiment_id=r["experiment_id"],
            user_id=r["user_id"],
            status=r["status"],
            start_time=r["start_time"],
            end_time=r["end_time"],
            lifecycle_stage=r["lifecycle_stage"],
            artifact_uri=r["artifact_uri"],
            run_name=r["run_name"],
        )
        data = RunData(
            metrics=[Metric(k, v, r["start_time"], 0) for k, v in r["metrics"].items()],
            params=[Param(k, v) for k, v in r["params"].items()],
            tags=[RunTag(k, v) for k, v in r["tags"].items()],
        )
        runs.append(Run(info, data))
    return runs


def row(name: str, ours: float, theirs: float | None, note: str = "") -> None:
    ratio = f"{theirs / ours:9.1f}x" if theirs else "         -"
    their_text = f"{theirs * 1e3:12.2f}" if theirs else "           -"
    print(f"  {name:<44} {ours * 1e3:12.3f} {their_text} {ratio}  {note}")


def bench(
    size: int,
    mlflow_max: int,
    repeat: int,
    page: int | None,
    workload: str = "standard",
    by_hand: bool = False,
) -> None:
    records = RECORDS[workload](size)
    experiments = [{"experiment_id": e, "name": f"experiment {e}"} for e in EXPERIMENTS]
    with_mlflow = size <= mlflow_max
    skipped = "" if with_mlflow else " (MLflow skipped: too large for memory)"
    print(f"\n{size:,} runs of the {workload} workload{skipped}")
    print(f"  {'':<44} {'runql ms':>12} {'MLflow ms':>12} {'speed-up':>10}")

    def build_and_index() -> runql.Workspace:
        built = runql.Workspace.from_records(experiments=experiments, runs=records)
        # The column store is built on the first search; count it as part of building.
        built.search_runs(filter_string="", search_all_experiments=True, output_format="list")
        return built

    workspace, build_s, build_mem = measured_build(build_and_index)
    theirs_runs, their_build_s, their_mem = (
        measured_build(lambda: mlflow_runs(records)) if with_mlflow else (None, None, None)
    )
    row("build from records (+ column store)", build_s, their_build_s)
    per_run = build_mem / size
    their_per_run = f"{their_mem / size:,.0f} B" if their_mem else "-"
    print(f"  {'memory per run':<44} {per_run:>10,.0f} B {their_per_run:>12}")

    ids = [r["run_id"] for r in records]
    limit = {} if page is None else {"max_results": page}
    from mlflow.utils.search_utils import SearchUtils

    for name, template in QUESTIONS[workload]:
        filter_string = template.format(*ids[:3])
        for order_by in ([], ORDER):

            def ours(f: str = filter_string, o: list[str] = order_by) -> list[Any]:
                return workspace.search_runs(
                    filter_string=f,
                    order_by=o,
                    search_all_experiments=True,
                    output_format="list",
                    **limit,
                )

            ours_s = median_seconds(ours, repeat)
            label = name + (" + order_by" if order_by else "")
            if theirs_runs is None:
                row(label, ours_s, None)
                continue

            def theirs(f: str = filter_string, o: list[str] = order_by) -> list[Any]:
                return SearchUtils.sort(SearchUtils.filter(theirs_runs, f), o)[:page]

            theirs_s = median_seconds(theirs, max(1, repeat // 3))
            same = [r.info.run_id for r in ours()] == [r.info.run_id for r in theirs()]
            row(label, ours_s, theirs_s, "" if same else "DIFFERENT RUN IDS")

    three = THREE_CLAUSES[workload]
    row(
        "three-clause AND + order_by",
        median_seconds(
            lambda: workspace.search_runs(
                filter_string=three,
                order_by=ORDER,
                search_all_experiments=True,
                output_format="list",
                **limit,
            ),
            repeat,
        ),
        None,
    )

    if by_hand:
        versus_by_hand(workspace, records, ids[:3], repeat, page or 1000)

    if size <= 100_000:
        ours_frame = median_seconds(
            lambda: workspace.search_runs(search_all_experiments=True, max_results=10_000), repeat
        )
        their_frame = None
        if theirs_runs is not None:
            import mlflow

            subset = SearchUtils.sort(theirs_runs, [])[:10_000]
            fetch = "mlflow.tracking.fluent.get_results_from_paginated_fn"
            with mock.patch(fetch, lambda *a, **k: subset):
                their_frame = median_seconds(
                    lambda: mlflow.search_runs(experiment_ids=["0"]), max(1, repeat // 3)
                )
        row("DataFrame of 10,000 runs (search_runs)", ours_frame, their_frame)


def versus_by_hand(
    workspace: runql.Workspace, records: list[dict[str, Any]], ids: list[str], repeat: int, page: int
) -> None:
    """Each question's first ``page`` runs from runql beside the same filter and sort written by hand in
    DuckDB and in polars over the same runs (tests/benchmarks/by_hand.py), checked to return the same ids."""
    from by_hand import ByHand

    try:
        hand = ByHand(records, ids)
    except ImportError as error:
        sys.exit(f"--by-hand needs duckdb and polars ({error.name} is missing): pip install duckdb polars")
    print(
        f"\n  first page of {page:,}, written by hand   {'runql ms':>12} {'DuckDB ms':>12} {'polars ms':>12}"
    )
    for name, template in QUESTIONS["standard"]:
        filter_string = template.format(*ids)
        for order_by in ([], ORDER):

            def ours(f: str = filter_string, o: list[str] = order_by) -> list[str]:
                found = workspace.search_runs(
                    filter_string=f,
                    order_by=o,
                    max_results=page,
                    search_all_experiments=True,
                    output_format="list",
                )
                return [run.info.run_id for run in found]

            duckdb_page = hand.duckdb_page(name, bool(order_by), page)
            polars_page = hand.polars_page(name, bool(order_by), page)
            same = ours() == duckdb_page() == polars_page()
            times = [median_seconds(f, repeat) * 1e3 for f in (ours, duckdb_page, polars_page)]
            label = name + (" + order_by" if order_by else "")
            note = "" if same else "DIFFERENT RUN IDS"
            print(f"  {label:<44} {times[0]:12.3f} {times[1]:12.3f} {times[2]:12.3f}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--mlflow-max", type=int, default=100_000, help="largest size MLflow is run on")
    parser.add_argument("--repeat", type=int, default=9, help="timed repetitions per row (median)")
    parser.add_argument("--max-results", type=int, default=None, help="runs per search (default: all)")
    parser.add_argument(
        "--workload", choices=sorted(RECORDS), default="standard", help="the runs and questions"
    )
    parser.add_argument(
        "--by-hand",
        action="store_true",
        help="also time the standard questions written by hand in DuckDB and polars (both must be installed)",
    )
    args = parser.parse_args()
    if args.by_hand and args.workload != "standard":
        parser.error("--by-hand writes the standard workload's questions")
    for size in args.sizes:
        bench(size, args.mlflow_max, args.repeat, args.max_results, args.workload, args.by_hand)


if __name__ == "__main__":
    main()
