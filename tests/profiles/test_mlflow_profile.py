"""The ``mlflow`` profile accepts exactly what MLflow accepts (parse, then evaluation-time checks).

MLflow's answer and runql's come from :mod:`runql.testing.conformance` (``mlflow_accepts``: parse, then each
clause and sort key tried on a dummy row, since MLflow checks comparators only when it evaluates;
``runql_accepts``: ``parse`` then ``check(..., "mlflow")``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow.utils.search_utils import SearchUtils

from runql.testing.differential import runql_accepts
from runql.testing.mlflow_oracle import mlflow_accepts

ROOT = Path(__file__).resolve().parents[2]

# Where runql's mlflow profile deliberately answers otherwise (docs/compatibility.md, ## Profiles).
EXPERIMENTS_ATTRIBUTES_PREFIX = "experiments-attributes-prefix"
DIFFERENCES = {
    # MLflow 3.18 accepts `attributes.` on experiments; 3.17.2, the oracle installed here, does not.
    ("experiments", "attributes.name = 'x'"): EXPERIMENTS_ATTRIBUTES_PREFIX,
    ("experiments", "attributes.creation_time > 1"): EXPERIMENTS_ATTRIBUTES_PREFIX,
    ("experiments", "order_by:attributes.name"): EXPERIMENTS_ATTRIBUTES_PREFIX,
    # MLflow's SQL store refuses a pattern on experiment_id; its in-memory search, asked here, takes one.
    ("experiments", "experiment_id LIKE '1%'"): "experiment-id-patterns",
}


RUN_FILTERS = [
    "metrics.acc > 0.9",
    "metrics.acc >= 0.9 AND metrics.loss < 1",
    "metric.acc = 1",
    "metrics.acc != -1.5e3",
    "metrics.acc = '5'",
    "metrics.acc LIKE 5",
    "metrics.acc IS NULL",
    "metrics.acc IN (1, 2)",
    "metrics.`f1 score` > 0.5",
    'metrics."val-loss" < 0.5',
    "params.lr = '0.1'",
    "params.lr != '0.1'",
    "params.lr LIKE '0.%'",
    "params.lr ILIKE '0.%'",
    "params.lr > '0.1'",
    "params.lr = 5",
    "params.lr IN ('0.1')",
    "params.lr IS NULL",
    "params.lr IS NOT NULL",
    "params.lr NOT LIKE 'x'",
    "parameter.lr = 'x'",
    "tags.team = 'a'",
    "tags.team != 'a'",
    "tags.team LIKE 'a%'",
    "tags.team ILIKE 'A%'",
    "tags.team IS NULL",
    "tags.team IS NOT NULL",
    "tags.team < 'b'",
    "tags.mlflow.parentRunId = 'x'",
    "tags.team = 1",
    "attributes.status = 'FINISHED'",
    "attributes.status != 'FINISHED'",
    "attributes.status LIKE 'FIN%'",
    "attributes.status ILIKE 'fin%'",
    "attributes.status > 'A'",
    "attributes.status IN ('FINISHED')",
    "attributes.status = 1",
    "attributes.status IS NULL",
    "status = 'Failed'",
    "run_id = 'r1'",
    "run_id IN ('r1', 'r2')",
    "run_id NOT IN ('r1')",
    "run_id IN ('r1', 1)",
    "run_id < 'x'",
    "attributes.run_name = 'n'",
    "`run name` = 'n'",
    "`Run Name` LIKE 'n%'",
    "attributes.user_id = 'John Smith'",
    "attributes.artifact_uri LIKE 'file%'",
    "attr.user_id = 'u'",
    "run.user_id = 'u'",
    "attribute.start_time > 0",
    "attributes.start_time > 1655703168000",
    "attributes.start_time >= 1.5",
    "attributes.start_time > '5'",
    "attributes.start_time LIKE 5",
    "attributes.start_time IN (5)",
    "attributes.end_time IS NULL",
    "attributes.end_time != 2",
    "created > 0",
    "Created < 5",
    "start_time = 1",
    "attributes.creation_time > 1",
    "attributes.duration > 1",
    "attributes.experiment_id = '0'",
    "attributes.lifecycle_stage = 'active'",
    "acc > 0.9",
    "START_TIME > 5",
    "name = 'x'",
    "datasets.name = 'train'",
    "datasets.digest != 'd1'",
    "datasets.context LIKE 'train%'",
    "datasets.name ILIKE 'T%'",
    "datasets.name IN ('train', 'test')",
    "datasets.digest NOT IN ('x')",
    "datasets.profile = 'x'",
    "datasets.name > 'a'",
    "datasets.name IS NULL",
    "dataset.name = 'train'",
    "metrics.a > 1 OR metrics.b > 2",
    "NOT metrics.a > 1",
    "(metrics.a > 1)",
    "metrics.a > 1 AND (params.b = 'x')",
]

EXPERIMENT_FILTERS = [
    "name = 'e'",
    "name != 'e'",
    "name LIKE 'e%'",
    "name ILIKE 'E%'",
    "name IN ('a')",
    "name IS NULL",
    "name = 1",
    "name > 'a'",
    "experiment_id = '0'",
    "experiment_id IN ('0', '1')",
    "experiment_id NOT IN ('0')",
    "experiment_id = 1",
    "creation_time > 1655703168",
    "creation_time > '5'",
    "creation_time LIKE 5",
    "last_update_time <= 2",
    "last_update_time IN (1)",
    "attribute.name = 'x'",
    "attributes.name = 'x'",
    "attributes.creation_time > 1",
    "attr.name = 'x'",
    "tags.framework = 'torch'",
    "tags.framework != 'torch'",
    "tags.framework LIKE 't%'",
    "tags.framework ILIKE 'T%'",
    "tags.framework IS NULL",
    "tags.framework IS NOT NULL",
    "tags.framework IN ('torch')",
    "tags.framework = 1",
    "tag.framework = 'x'",
    "metrics.a > 1",
    "params.a = 'x'",
    "lifecycle_stage = 'active'",
    "start_time > 1",
    "created > 1",
    "name = 'a' OR name = 'b'",
    "NOT name = 'a'",
]

RUN_ORDER_BY = [
    "metrics.acc",
    "metrics.acc DESC",
    "params.lr ASC",
    "tags.team desc",
    "attributes.start_time DESC",
    "start_time",
    "end_time",
    "run_id",
    "run_name",
    "status",
    "user_id",
    "artifact_uri",
    "created",
    "Created DESC",
    "`run name`",
    "attributes.`Run Name` DESC",
    "attributes.duration",
    "attributes.experiment_id",
    "attributes.creation_time",
    "datasets.name",
    "dataset.digest DESC",
    "metrics.`f1 score` DESC",
    "acc",
]

EXPERIMENT_ORDER_BY = [
    "name",
    "name DESC",
    "experiment_id",
    "creation_time DESC",
    "last_update_time",
    "attribute.name",
    "attributes.name",
    "tags.team",
    "metrics.a",
    "start_time",
    "lifecycle_stage",
]


def _cases() -> list[Any]:
    cases: list[tuple[str, str, list[str]]] = []
    cases += [("runs", f, []) for f in RUN_FILTERS]
    cases += [("experiments", f, []) for f in EXPERIMENT_FILTERS]
    cases += [("runs", "", [o]) for o in RUN_ORDER_BY]
    cases += [("experiments", "", [o]) for o in EXPERIMENT_ORDER_BY]
    cases += [("runs", "", ["metrics.acc DESC", "start_time", "metrics.acc"])]
    cases += [("runs", "metrics.acc > 0.5 AND tags.team = 'a'", ["params.lr DESC"])]
    params = []
    for entity, filter_string, order_by in cases:
        key = (entity, filter_string or f"order_by:{order_by[0]}")
        if key in DIFFERENCES:
            continue  # a deliberate difference: test_the_differences_are_real holds it
        params.append(pytest.param(entity, filter_string, order_by, id=f"{entity}:{key[1]}"))
    return params


@pytest.mark.parametrize(("entity", "filter_string", "order_by"), _cases())
def test_agrees_with_mlflow(entity: str, filter_string: str, order_by: list[str]) -> None:
    expected = mlflow_accepts(entity, filter_string, order_by)
    assert runql_accepts(entity, filter_string, order_by) == expected, (
        f"MLflow {'accepts' if expected else 'refuses'} {filter_string!r} {order_by!r} ({entity})"
    )


def test_checked_before_data() -> None:
    # MLflow checks comparators and sort keys only against runs; with none it accepts
    # (docs/compatibility.md: checked-before-data).
    assert SearchUtils.filter([], "metrics.a LIKE 5") == []
    assert SearchUtils.sort([], ["datasets.name"]) == []
    assert not runql_accepts("runs", "metrics.a LIKE 5", [])
    assert not runql_accepts("runs", "", ["datasets.name"])


def test_the_differences_are_real() -> None:
    # A difference left out of the agreement test must still be one: MLflow 3.17.2's parser and
    # in-memory search answer otherwise than the profile.
    for (entity, text), _ in DIFFERENCES.items():
        filter_string, order_by = (
            ("", [text.split(":", 1)[1]]) if text.startswith("order_by:") else (text, [])
        )
        assert mlflow_accepts(entity, filter_string, order_by) != runql_accepts(
            entity, filter_string, order_by
        )


def test_the_sql_store_refuses_a_pattern_on_experiment_id(new_sqlite_database: Any) -> None:
    # experiment-id-patterns: the profile refuses what MLflow's SQL store refuses, not its in-memory search.
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=new_sqlite_database(mlflow_schema=True))
    with pytest.raises(MlflowException, match="Invalid comparator for experiment_id: LIKE"):
        client.search_experiments(filter_string="experiment_id LIKE '1%'")
    assert not runql_accepts("experiments", "experiment_id LIKE '1%'", [])
    assert runql_accepts("experiments", "experiment_id = '1'", [])


# -- the parse corpora: every case runql parses as MLflow does must also validate as MLflow does ----


# superset: OR / NOT / parentheses; typed-later: keys and value types; comparators: refused at evaluation.
CLOSED_BY_VALIDATION = ("typed-later", "superset", "comparators")


def _corpus(name: str) -> list[dict[str, Any]]:
    path = ROOT / "tests" / "conformance" / name
    if not path.exists():
        return []
    cases: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cases"]
    # diff / ast_diff name a deliberate syntax difference (docs/compatibility.md, ## Syntax). Three of them
    # are differences of the parser alone, which validation against the profile closes again.
    return [c for c in cases if c.get("diff", CLOSED_BY_VALIDATION[0]) in CLOSED_BY_VALIDATION]


FILTER_CORPUS = [c for c in _corpus("filters.json") if "filter" in c]
ORDER_BY_CORPUS = [c for c in _corpus("order_by.json") if "order_by" in c]


@pytest.mark.skipif(not FILTER_CORPUS, reason="tests/conformance/filters.json is not there")
def test_filter_corpus_agrees_with_mlflow() -> None:
    disagreements = [
        c["filter"]
        for c in FILTER_CORPUS
        if runql_accepts("runs", c["filter"], []) != mlflow_accepts("runs", c["filter"], [])
    ]
    assert disagreements == []


@pytest.mark.skipif(not ORDER_BY_CORPUS, reason="tests/conformance/order_by.json is not there")
def test_order_by_corpus_agrees_with_mlflow() -> None:
    disagreements = []
    for case in ORDER_BY_CORPUS:
        clauses = [case["order_by"]] if isinstance(case["order_by"], str) else list(case["order_by"])
        if runql_accepts("runs", "", clauses) != mlflow_accepts("runs", "", clauses):
            disagreements.append(clauses)
    assert disagreements == []


# -- generated clauses ----------------------------------------------------------------------------

_KEYS = [
    "metrics.acc",
    "params.lr",
    "tags.team",
    "attributes.status",
    "run_id",
    "start_time",
    "end_time",
    "created",
    "`run name`",
    "datasets.name",
    "datasets.context",
    "duration",
]
_OPS = [
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "LIKE",
    "ILIKE",
    "NOT LIKE",
    "IN",
    "NOT IN",
    "IS NULL",
    "IS NOT NULL",
]
LIST_AFTER_COMPARISON = re.compile(r"(?<![Ii][Nn]) \(")
_VALUES = ["'x'", "'5'", "5", "-1.5", "('a', 'b')", "(1, 2)", "('a', 1)", "'FINISHED'"]


@st.composite
def _clause(draw: st.DrawFn) -> str:
    key, op = draw(st.sampled_from(_KEYS)), draw(st.sampled_from(_OPS))
    if op.startswith("IS"):
        return f"{key} {op}"
    return f"{key} {op} {draw(st.sampled_from(_VALUES))}"


@settings(max_examples=200)
@given(st.lists(_clause(), min_size=1, max_size=3), st.lists(st.sampled_from(RUN_ORDER_BY), max_size=2))
def test_generated_queries_agree_with_mlflow(clauses: list[str], order_by: list[str]) -> None:
    filter_string = " AND ".join(clauses)
    if LIST_AFTER_COMPARISON.search(filter_string):  # docs/compatibility.md: list-after-comparison
        assert not runql_accepts("runs", filter_string, order_by)
        return
    assert runql_accepts("runs", filter_string, order_by) == mlflow_accepts("runs", filter_string, order_by)
