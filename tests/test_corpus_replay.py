"""Replay what MLflow decided (tests/conformance/mlflow_corpus.json) against runql, without MLflow.

The corpus is written by tests/regen_mlflow_corpus.py; it names the MLflow version that decided it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from runql.conformance import documented_difference, runql_accepts, runql_search
from runql.records import experiment_from_record, run_from_record

CORPUS = json.loads(
    (Path(__file__).resolve().parent / "conformance" / "mlflow_corpus.json").read_text(encoding="utf-8")
)


def test_the_corpus_names_its_mlflow() -> None:
    major, minor = (int(part) for part in CORPUS["mlflow"].split(".")[:2])
    assert (major, minor) >= (3, 17)
    assert len(CORPUS["accept"]) >= 500 and len(CORPUS["results"]) >= 150
    # Both answers occur, and result cases select something often enough to mean something.
    assert {c["accepted"] for c in CORPUS["accept"]} == {True, False}
    assert sum(bool(c["ids"]) for c in CORPUS["results"]) >= len(CORPUS["results"]) // 2


def test_accept_or_refuse_as_mlflow_decided() -> None:
    wrong = []
    for case in CORPUS["accept"]:
        entity, text, order_by = case["entity"], case["filter"], case["order_by"]
        if runql_accepts(entity, text, order_by) != case["accepted"] and not documented_difference(
            entity, text, order_by
        ):
            wrong.append(case)
    assert wrong == []


def _rows(workspace: dict[str, Any]) -> list[Any]:
    build = run_from_record if workspace["entity"] == "runs" else experiment_from_record
    return [build(record) for record in workspace["rows"]]


WORKSPACES = [_rows(w) for w in CORPUS["workspaces"]]


@pytest.mark.parametrize("case", CORPUS["results"], ids=lambda c: f"{c['workspace']}:{c['filter'][:40]}")
def test_results_as_mlflow_returned_them(case: dict[str, Any]) -> None:
    entity = CORPUS["workspaces"][case["workspace"]]["entity"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids, offset = runql_search(
            WORKSPACES[case["workspace"]], entity, case["filter"], case["order_by"], case["max_results"]
        )
    assert (ids, offset) == (case["ids"], case["next_offset"])
