"""runql measured against MLflow, layer by layer: ``python -m runql.testing.conformance --report``.

(1) accept or refuse, on queries from the whole language; (2) the results of MLflow's in-memory
search; (3) the results of a real MLflow SQLite store. MLflow's side is :mod:`runql.testing.mlflow_oracle`;
each layer counts the queries on which runql agrees with it, and the differences runql keeps on purpose
(docs/compatibility.md) apart from the findings.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runql.engines.embedding import search, search_experiments
from runql.errors import QueryError, Severity
from runql.language.ast import Query
from runql.profiles.catalog import Profile, get_profile
from runql.profiles.checker import check
from runql.testing.kit import disagreement_report, examples, row_id
from runql.testing.mlflow_oracle import (
    MlflowUnavailableError,
    mlflow_accepts,
    mlflow_search,
    mlflow_version,
    sqlite_store,
    token_offset,
)

__all__ = [
    "LAYERS",
    "LayerResult",
    "documented_difference",
    "layer_memory",
    "layer_parse",
    "layer_store",
    "main",
    "oracle_profile",
    "runql_accepts",
    "runql_search",
]


def runql_accepts(entity: str, filter_string: str, order_by: Sequence[str], profile: str = "mlflow") -> bool:
    """Whether ``profile`` accepts the query: :func:`runql.check` finds no error in it."""
    try:
        diagnostics = check(filter_string, profile, entity, list(order_by))
    except QueryError:
        return False
    return not any(d.severity is Severity.ERROR for d in diagnostics)


def runql_search(
    rows: Sequence[Any], entity: str, filter_string: str, order_by: Sequence[str], max_results: int
) -> tuple[list[str], int | None]:
    """runql's in-memory answer (:func:`runql.search`), as :func:`mlflow_search` gives MLflow's: the ids of
    the first page and the offset of the next."""
    find = search if entity == "runs" else search_experiments
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page, token = find(rows, filter_string, list(order_by), max_results)
    return [row_id(r) for r in page], token_offset(token)


# Differences runql keeps on purpose (docs/compatibility.md): a name, and a test on the case.
_ATTRIBUTES_PREFIX = re.compile(r"(?:^|[\s(])attributes\.")
_EXPERIMENT_ID_PATTERN = re.compile(r"\bexperiment_id`?\s+(?:NOT\s+)?I?LIKE\b", re.IGNORECASE)


def documented_difference(entity: str, filter_string: str, order_by: Sequence[str]) -> str | None:
    """The name of the documented difference a disagreement on accept-or-refuse falls under, if any."""
    if entity != "experiments":
        return None
    if _ATTRIBUTES_PREFIX.search(filter_string) or any(o.startswith("attributes.") for o in order_by):
        return "experiments-attributes-prefix"
    if _EXPERIMENT_ID_PATTERN.search(filter_string):
        return "experiment-id-patterns"
    return None


@dataclass
class LayerResult:
    """What one layer measured: how many queries, how many agreed, and every difference found."""

    name: str
    total: int = 0
    agreed: int = 0
    documented: Counter[str] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)

    def add(self, agreed: bool, documented: str | None, describe: Callable[[], str]) -> None:
        """Count one query: agreed, or a disagreement counted under the documented difference it falls
        under, or else described by calling ``describe`` and listed."""
        self.total += 1
        if agreed:
            self.agreed += 1
        elif documented is not None:
            self.documented[documented] += 1
        else:
            self.disagreements.append(describe())

    @property
    def rate(self) -> float:
        """The share of queries that agreed, 1.0 before any was counted."""
        return self.agreed / self.total if self.total else 1.0

    def summary(self) -> str:
        """One line for the report: the counts, the agreement rate, the documented and the undocumented
        differences."""
        documented = sum(self.documented.values())
        named = ", ".join(f"{k} {v}" for k, v in sorted(self.documented.items())) or "none"
        return (
            f"{self.name}: {self.total} queries, {self.agreed} agree ({self.rate:.4%}); "
            f"documented differences {documented} ({named}); undocumented {len(self.disagreements)}"
        )


def _split(count: int) -> tuple[int, int]:
    runs = (count * 3 + 3) // 4
    return runs, count - runs


def layer_parse(count: int, seed: int = 0) -> LayerResult:
    """Layer 1: accept or refuse, for runs and experiments, on queries from the whole language."""
    from runql.testing.query_strategies import queries

    result = LayerResult("layer 1 (accept/refuse)")
    for entity, share in zip(("runs", "experiments"), _split(count), strict=True):
        for query in examples(queries("mlflow", entity, valid=False), share, seed):
            text, order_by = query.filter_string, list(query.order_by_strings)
            theirs = mlflow_accepts(entity, text, order_by)
            mine = runql_accepts(entity, text, order_by)
            result.add(
                mine == theirs,
                documented_difference(entity, text, order_by),
                lambda e=entity, t=text, o=order_by, a=theirs: (  # type: ignore[misc]
                    f"{e}: filter {t!r} order_by {o!r}: "
                    f"MLflow {'accepts' if a else 'refuses'}, runql does not"
                ),
            )
    return result


def _answer(find: Callable[..., Any], *args: Any) -> Any:
    """The answer, or the error raised, as a comparable value: an error is an answer too."""
    try:
        return find(*args)
    except Exception as error:  # both sides are compared on what they raise as well
        return f"{type(error).__name__}: {error}"


def oracle_profile(entity: str) -> Profile:
    """The mlflow profile without the documented differences, for queries MLflow must answer alike."""
    profile = get_profile("mlflow", entity)
    if entity == "experiments":  # experiments-attributes-prefix: MLflow 3.17.2 knows only `attribute.`
        return replace(profile, prefixes=profile.prefixes - {"attributes"})
    return profile


def _cases(entity: str, per_rows: int, vocabulary: Any = None) -> Any:
    from hypothesis import strategies as st

    from runql.testing.data_strategies import experiments, runs
    from runql.testing.query_strategies import queries

    @st.composite
    def draw_cases(draw: st.DrawFn) -> tuple[list[Any], list[tuple[Query, int]]]:
        rows: list[Any] = draw(
            runs(vocabulary, min_size=1, max_size=10)
            if entity == "runs"
            else experiments(vocabulary, max_size=8)
        )
        strategy = st.tuples(
            queries(oracle_profile(entity), entity, vocabulary, rows), st.sampled_from([1, 2, 3, 1000])
        )
        return rows, [draw(strategy) for _ in range(per_rows)]

    return draw_cases()


def layer_memory(count: int, seed: int = 0, per_rows: int = 4) -> LayerResult:
    """Layer 2: ids, order and next-page offset against MLflow's in-memory search on generated rows."""
    result = LayerResult("layer 2 (in-memory search)")
    for entity, share in zip(("runs", "experiments"), _split(count), strict=True):
        for rows, cases in examples(_cases(entity, per_rows), -(-share // per_rows), seed):
            for query, max_results in cases:
                text, order_by = query.filter_string, list(query.order_by_strings)
                theirs = _answer(mlflow_search, rows, entity, text, order_by, max_results)
                mine = _answer(runql_search, rows, entity, text, order_by, max_results)
                result.add(
                    mine == theirs,
                    None,
                    lambda r=rows, q=query, a=theirs, b=mine, e=entity: (  # type: ignore[misc]
                        disagreement_report(r, q, a[0], b[0], "mlflow", e)
                        + f"\n  next offsets: MLflow {a[1]}, runql {b[1]}"
                    ),
                )
    return result


def layer_store(count: int, seed: int = 0, workspaces: int = 4) -> LayerResult:
    """Layer 3: ids and order against ``MlflowClient.search_runs`` on a real SQLite store.

    The data leaves out what the SQL store is known to answer otherwise than MLflow's in-memory
    search (``Vocabulary.store_safe``), so every remaining difference is a finding.
    """
    from hypothesis import strategies as st

    from runql.testing.data_strategies import DEFAULT_VOCABULARY, runs
    from runql.testing.query_strategies import queries

    vocabulary = DEFAULT_VOCABULARY.store_safe()
    generated = examples(runs(vocabulary, min_size=6, max_size=12), workspaces, seed)
    result = LayerResult("layer 3 (MLflow SQLite store)")
    with sqlite_store(generated) as store:
        per_workspace = -(-count // len(store.runs))
        for index, stored in enumerate(store.runs):
            drawn = examples(
                st.lists(queries("mlflow", "runs", vocabulary, stored), min_size=1, max_size=1),
                per_workspace,
                seed + index,
            )
            for (query,) in drawn:
                text, order_by = query.filter_string, list(query.order_by_strings)
                theirs = _answer(store.search, index, text, order_by)
                mine = _answer(lambda *a: runql_search(*a)[0], stored, "runs", text, order_by, 50000)
                result.add(
                    mine == theirs,
                    None,
                    lambda r=stored, q=query, a=theirs, b=mine: disagreement_report(  # type: ignore[misc]
                        r, q, a, b, "mlflow", "runs"
                    ),
                )
    return result


LAYERS: dict[str, Callable[[int, int], LayerResult]] = {
    "parse": layer_parse,
    "memory": layer_memory,
    "store": layer_store,
}
"""Each layer by the name ``--layers`` gives it: a function of the number of queries and the seed."""


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, not {text}")
    return number


def _layers(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in LAYERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown layer {', '.join(unknown)}: use parse, memory, store")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m runql.testing.conformance``: run the layers asked for, print each one's rates and its
    first undocumented differences. The exit status is 1 when a layer finds one, 2 without ``--report``
    or without MLflow."""
    parser = argparse.ArgumentParser(
        prog="python -m runql.testing.conformance",
        description="Measure runql's agreement with MLflow, layer by layer.",
    )
    parser.add_argument(
        "--report", action="store_true", help="run the differential layers and print the rates"
    )
    parser.add_argument(
        "--examples", type=_positive, default=2000, help="generated queries per layer (default 2000)"
    )
    parser.add_argument(
        "--store-examples", type=_positive, help="queries for the SQLite layer (default: --examples)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--layers", type=_layers, default="parse,memory,store", help="comma-separated: parse, memory, store"
    )
    parser.add_argument("--show", type=int, default=5, help="undocumented differences to print per layer")
    args = parser.parse_args(argv)
    if not args.report:
        parser.print_help()
        return 2
    try:
        version = mlflow_version()
    except MlflowUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"runql conformance against MLflow {version} (seed {args.seed})")
    failed = False
    for name in args.layers:
        count = args.store_examples if name == "store" and args.store_examples else args.examples
        result = LAYERS[name](count, args.seed)
        print(result.summary(), flush=True)
        for text in result.disagreements[: args.show]:
            print(text)
        failed = failed or bool(result.disagreements)
    return 1 if failed else 0
