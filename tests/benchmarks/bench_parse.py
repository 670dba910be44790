"""How fast runql parses a filter_string, next to MLflow's parser, in one run.

    python tests/benchmarks/bench_parse.py            # default: 7 rounds of 300 parses per filter
    python tests/benchmarks/bench_parse.py --rounds 11 --number 1000

For four typical four-clause filters it times runql uncached (the LRU cache cleared before every call), runql
cached (the same text again) and MLflow's ``SearchUtils.parse_search_filter``, and prints the median time per
parse and the ratios. Needs the test extra (MLflow). pytest does not collect it: the name does not
start with test_.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from mlflow.utils.search_utils import SearchUtils

import runql
from runql.language import parser as _parse_module

FILTERS = (
    "metrics.auc > 0.8 AND params.model = 'xgb' AND tags.team = 'vision' AND attributes.status = 'FINISHED'",
    "metrics.rmse < 0.5 AND metrics.mae <= 0.3 AND params.lr = '0.01' AND start_time > 1700000000000",
    "tags.mlflow.runName LIKE 'baseline%' AND params.optimizer ILIKE 'adam%' "
    "AND metrics.`val-loss` < 1.2 AND run_id IN ('a1', 'b2', 'c3')",
    "params.\"batch size\" = '32' AND tags.reviewed IS NOT NULL AND metrics.epoch >= 10 "
    "AND attributes.user_id != 'bot'",
)


def per_call(action: Callable[[], object], number: int, rounds: int) -> float:
    """The median over ``rounds`` of the mean seconds per call of ``number`` calls."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            action()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--rounds", type=int, default=7)
    options.add_argument("--number", type=int, default=300)
    args = options.parse_args()

    cold = time.perf_counter()
    runql.parse_filter(FILTERS[0])  # builds the LALR parser once per process
    print(f"first parse, grammar loading included: {(time.perf_counter() - cold) * 1e3:.1f} ms\n")

    clear = _parse_module._parse_filter.cache_clear
    rows = []
    for text in FILTERS:
        SearchUtils.parse_search_filter(text)  # both must accept every benchmark filter

        def uncached(text: str = text) -> object:
            clear()
            return runql.parse_filter(text)

        def cached(text: str = text) -> object:
            return runql.parse_filter(text)

        def mlflow(text: str = text) -> object:
            return SearchUtils.parse_search_filter(text)

        times = [per_call(f, args.number, args.rounds) for f in (uncached, cached, mlflow)]
        rows.append(times)
        print(text)
        print(
            f"  runql uncached {times[0] * 1e6:8.1f} us   runql cached {times[1] * 1e6:6.2f} us   "
            f"mlflow {times[2] * 1e6:8.1f} us   mlflow/uncached {times[2] / times[0]:5.1f}x   "
            f"mlflow/cached {times[2] / times[1]:7.0f}x"
        )
    medians = [statistics.median(column) for column in zip(*rows, strict=True)]
    print(
        f"\nmedian of the four: runql uncached {medians[0] * 1e6:.1f} us, "
        f"runql cached {medians[1] * 1e6:.2f} us, mlflow {medians[2] * 1e6:.1f} us; "
        f"MLflow takes {medians[2] / medians[0]:.1f}x runql's uncached time"
    )


if __name__ == "__main__":
    main()
