"""Replay what MLflow decided (tests/conformance/mlflow_corpus.json) against runql, without MLflow.

The corpus is written by tests/regen_mlflow_corpus.py; it names the MLflow version that decided it. An
accept case expects "accept" or "refuse"; a result case the ids and the next page's offset.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from runql.model.records import experiment_from_record, run_from_record
from runql.testing.differential import documented_difference, runql_accepts, runql_search

CORPUS = json.loads(
    (Path(__file__).resolve().parents[1] / "conformance" / "mlflow_corpus.json").read_text(encoding="utf-8")
)
ACCEPT = [c for c in CORPUS["cases"] if isinstance(c["expect"], str)]
RESULTS = [c for c in CORPUS["cases"] if isinstance(c["expect"], dict)]
# MLflow's in-memory search answered these; runql refuses them as MLflow's SQL store does
# (docs/compatibility.md, experiment-id-patterns): test_accept_or_refuse_as_mlflow_decided counts them.
REFUSED_ON_PURPOSE = [c for c in RESULTS if documented_difference(c["entity"], c["filter"], c["order_by"])]
RESULTS = [c for c in RESULTS if c not in REFUSED_ON_PURPOSE]


def test_the_corpus_names_its_mlflow() -> None:
    major, minor = (int(part) for part in CORPUS["mlflow"].split(".")[:2])
    assert (major, minor) >= (3, 17)
    assert len(ACCEPT) >= 500 and len(RESULTS) >= 150
    # Both answers occur, and result cases select something often enough to mean something.
    assert {c["expect"] for c in ACCEPT} == {"accept", "refuse"}
    assert sum(bool(c["expect"]["ids"]) for c in RESULTS) >= len(RESULTS) // 2


def test_accept_or_refuse_as_mlflow_decided() -> None:
    wrong = []
    for case in ACCEPT:
        entity, text, order_by = case["entity"], case["filter"], case["order_by"]
        accepted = case["expect"] == "accept"
        if runql_accepts(entity, text, order_by) != accepted and not documented_difference(
            entity, text, order_by
        ):
            wrong.append(case)
    assert wrong == []


def test_the_results_left_out_are_refused() -> None:
    assert REFUSED_ON_PURPOSE
    for case in REFUSED_ON_PURPOSE:
        assert not runql_accepts(case["entity"], case["filter"], case["order_by"]), case["name"]


def _rows(workspace: dict[str, Any]) -> list[Any]:
    build = run_from_record if workspace["entity"] == "runs" else experiment_from_record
    return [build(record) for record in workspace["rows"]]


WORKSPACES = [_rows(w) for w in CORPUS["workspaces"]]


@pytest.mark.parametrize("case", RESULTS, ids=lambda c: str(c["name"]))
def test_results_as_mlflow_returned_them(case: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids, offset = runql_search(
            WORKSPACES[case["workspace"]],
            case["entity"],
            case["filter"],
            case["order_by"],
            case["max_results"],
        )
    assert {"ids": ids, "next_offset": offset} == case["expect"]
