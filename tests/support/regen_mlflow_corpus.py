"""Regenerate tests/conformance/mlflow_corpus.json: cases decided by MLflow, replayed without it.

    python tests/regen_mlflow_corpus.py

Needs MLflow (the test extra). Accept-or-refuse cases are curated ones plus queries generated from
the whole language; result cases are MLflow's in-memory search (ids, order, next page offset) over
generated runs and experiments. The file follows the schema of tests/conformance/README.md;
``tests/test_corpus_replay.py`` replays it against runql.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from runql import strategies as rst
from runql.model.records import experiment_to_record, run_to_record
from runql.testing.differential import _cases, oracle_profile
from runql.testing.kit import examples
from runql.testing.mlflow_oracle import mlflow_accepts, mlflow_search

OUT = Path(__file__).resolve().parents[1] / "conformance" / "mlflow_corpus.json"
DESCRIPTION = (
    "Cases decided by MLflow (schema: README.md); regenerate with tests/regen_mlflow_corpus.py. "
    'An accept case expects "accept" or "refuse" from the profile below; a result case searches the rows '
    "of workspaces[workspace] and expects the ids in order and the offset of the next page "
    "(null after the last)."
)
SEED = 7
ACCEPT_RUNS, ACCEPT_EXPERIMENTS = 600, 200
RUN_WORKSPACES, EXPERIMENT_WORKSPACES, PER_WORKSPACE = 24, 10, 5

CURATED_ACCEPT: list[tuple[str, str, list[str]]] = [
    ("runs", "", []),
    ("runs", "metrics.acc > 0.9 and params.lr = '0.1'", []),
    ("runs", "metric.acc != -1.5e3", []),
    ("runs", "metrics.acc = '5'", []),
    ("runs", "metrics.acc IS NULL", []),
    ("runs", "params.lr IS NOT NULL AND tags.t IS NULL", []),
    ("runs", "params.lr > '0.1'", []),
    ("runs", "params.lr IN ('0.1')", []),
    ("runs", "attributes.run_id IN ('a', \"b'\")", []),
    ("runs", "run_id NOT IN ('a')", []),
    ("runs", "status IN ('FINISHED')", []),
    ("runs", "attributes.start_time > '5'", []),
    ("runs", "attributes.start_time >= 1.5", []),
    ("runs", "created > 0", []),
    ("runs", "`run name` LIKE 'a%'", []),
    ("runs", "datasets.context IN ('training', 'eval')", []),
    ("runs", "datasets.profile = 'x'", []),
    ("runs", "metrics.a > 1 OR metrics.b > 2", []),
    ("runs", "NOT metrics.a > 1", []),
    ("runs", "(metrics.a > 1)", []),
    ("runs", "", ["metrics.`f1 score` DESC", "start_time"]),
    ("runs", "", ["datasets.name"]),
    ("runs", "", ["created"]),
    ("runs", "", ["attributes.experiment_id"]),
    ("experiments", "name LIKE 'a%' AND tags.team IS NULL", []),
    ("experiments", "experiment_id IN ('0', '1')", []),
    ("experiments", "experiment_id > '5'", []),
    ("experiments", "creation_time > 0.5", []),
    ("experiments", "attribute.name = 'x'", []),
    ("experiments", "metrics.a > 1", []),
    ("experiments", "", ["tags.team"]),
    ("experiments", "", ["last_update_time DESC"]),
]


def _accept_cases() -> list[dict[str, Any]]:
    found = [(e, f, o) for e, f, o in CURATED_ACCEPT]
    for entity, count in (("runs", ACCEPT_RUNS), ("experiments", ACCEPT_EXPERIMENTS)):
        for query in examples(rst.queries("mlflow", entity, valid=False), count, SEED):
            found.append((entity, query.filter_string, list(query.order_by_strings)))
    unique = dict.fromkeys((e, f, tuple(o)) for e, f, o in found)
    return [
        {
            "name": f"accept-{number:04d}",
            "entity": e,
            "filter": f,
            "order_by": list(o),
            "expect": "accept" if mlflow_accepts(e, f, list(o)) else "refuse",
        }
        for number, (e, f, o) in enumerate(unique, 1)
    ]


def _result_cases() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    workspaces: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    for entity, count in (("runs", RUN_WORKSPACES), ("experiments", EXPERIMENT_WORKSPACES)):
        to_record = run_to_record if entity == "runs" else experiment_to_record
        for rows, queries in examples(_cases(entity, PER_WORKSPACE), count, SEED):
            index = len(workspaces)
            workspaces.append({"entity": entity, "rows": [to_record(r) for r in rows]})
            for query, max_results in queries:
                order_by = list(query.order_by_strings)
                ids, offset = mlflow_search(rows, entity, query.filter_string, order_by, max_results)
                cases.append(
                    {
                        "name": f"result-{len(cases) + 1:04d}",
                        "entity": entity,
                        "workspace": index,
                        "filter": query.filter_string,
                        "order_by": order_by,
                        "max_results": max_results,
                        "expect": {"ids": ids, "next_offset": offset},
                    }
                )
    return workspaces, cases


def corpus_text(corpus: dict[str, Any]) -> str:
    """The corpus as JSON, one top-level key a line and one item a line in a list of objects or in an
    object: small diffs when it is regenerated."""

    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["{"]
    for position, (key, value) in enumerate(corpus.items()):
        comma = "," if position < len(corpus) - 1 else ""
        if isinstance(value, list) and value and all(isinstance(v, (dict, list)) for v in value):
            lines += [f" {compact(key)}: [", ",\n".join(f"  {compact(v)}" for v in value), f" ]{comma}"]
        elif isinstance(value, dict) and value:
            items = ",\n".join(f"  {compact(k)}: {compact(v)}" for k, v in value.items())
            lines += [f" {compact(key)}: {{", items, f" }}{comma}"]
        else:
            lines.append(f" {compact(key)}: {compact(value)}{comma}")
    return "\n".join([*lines, "}"]) + "\n"


def main() -> None:
    import mlflow

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        accept = _accept_cases()
        workspaces, results = _result_cases()
    corpus = {
        "description": DESCRIPTION,
        "mlflow": mlflow.__version__,
        "profiles": {e: oracle_profile(e).name for e in ("runs", "experiments")},
        "workspaces": workspaces,
        "cases": accept + results,
    }
    OUT.write_text(corpus_text(corpus), encoding="utf-8")
    print(f"{OUT}: {len(accept)} accept cases, {len(results)} result cases over {len(workspaces)} workspaces")


if __name__ == "__main__":
    main()
