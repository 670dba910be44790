"""RLIKE against the LIKE of the same meaning, in the columnar engine and on the SQL store.

    python tests/benchmarks/bench_rlike.py            # 100k runs
    python tests/benchmarks/bench_rlike.py 10000

MLflow has no RLIKE for runs, so the yardstick is runql's own LIKE: each pair below selects the same
runs, once as a LIKE pattern and once as a regular expression. The columnar engine matches each distinct
value once (a param with six values, a run name per run); the SQL store runs a SQLite function per row
(``runql_rlike`` beside ``runql_like``) on the benchmark database MLflow's schema holds (built once and
cached, see mlflow_db.py). Times are medians on a shared machine: read the ratios.
"""

from __future__ import annotations

import argparse
import gc
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from mlflow_db import EXPERIMENT_IDS, benchmark_records, build_sqlite
from timing import median_seconds

import runql

PAIRS = [
    ("tag prefix", "tags.framework LIKE 'tor%'", "tags.framework RLIKE '^tor'"),
    (
        "param alternatives",
        "params.model LIKE 'xgb' OR params.model LIKE 'lgbm'",
        "params.model RLIKE '^(xgb|lgbm)$'",
    ),
    ("run name suffix", "attributes.run_name LIKE '%7'", "attributes.run_name RLIKE '7$'"),
]
PAGE = 1000


def compare(engine: str, search: Callable[[str], list[str]]) -> None:
    for name, like, rlike in PAIRS:
        assert search(like) == search(rlike), name  # the same runs, in the same order
        like_time, rlike_time = (median_seconds(lambda text=text: search(text)) for text in (like, rlike))
        print(
            f"{engine:9} {name:19} LIKE {like_time * 1000:8.1f} ms   RLIKE {rlike_time * 1000:8.1f} ms   "
            f"RLIKE/LIKE {rlike_time / like_time:5.2f}x"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=100_000)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    workspace = runql.Workspace.from_records(runs=benchmark_records(args.runs))
    gc.collect()  # the collector's first full pass over the new workspace, not counted against a query

    def in_memory(text: str) -> list[str]:
        found = workspace.search_runs(
            filter_string=text,
            max_results=PAGE,
            output_format="list",
            search_all_experiments=True,
            profile="extended",
        )
        return [r.info.run_id for r in found]

    compare("columnar", in_memory)
    url = build_sqlite(args.runs)
    experiment_ids = [str(i) for i in EXPERIMENT_IDS.values()]
    with runql.connect(url, profile="extended") as store:

        def in_sql(text: str) -> list[str]:
            found = store.search_runs(experiment_ids, text, max_results=PAGE, output_format="list")
            return [r.info.run_id for r in found]

        compare("SQLite", in_sql)


if __name__ == "__main__":
    main()
