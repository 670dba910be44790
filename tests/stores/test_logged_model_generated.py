"""Generated logged models, written by MLflow's own SQL store, and generated queries: for the mlflow
profile, every page of logged models runql returns, in memory and in SQL, is the page MLflow's store
returns, with the same token, on SQLite and PostgreSQL, with and without datasets scoping the metrics; for
the extended profile, SQL answers as the reference evaluator. Drawn with a fixed seed: no test depends on a
lucky draw.

The metrics' points tie on step and on timestamp, across runs and datasets; the order_by entries read a
metric on a dataset, on a dataset's digest, or on every dataset. The vocabulary is ``store_safe``, as in
``test_registry_generated.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("mlflow")

from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from support.mlflow_stores import write_logged_models

import runql
from runql.language.ast import Entity, Query
from runql.testing.conformance import examples
from runql.testing.strategies import DEFAULT_VOCABULARY, logged_models, queries

SEED = 20261207
COUNT = int(os.environ.get("RUNQL_LOGGED_MODEL_EXAMPLES", "150"))
VOCABULARY = DEFAULT_VOCABULARY.store_safe()
DATASET, DIGEST = VOCABULARY.dataset_names[0], VOCABULARY.digests[0]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[tuple[str, SqlAlchemyStore, list[str]]]:
    make = request.getfixturevalue(f"new_{'sqlite' if request.param == 'sqlite' else 'postgres'}_database")
    url: str = make(mlflow_schema=True)
    store = SqlAlchemyStore(url, "file:///runql-test-artifacts")
    experiments = [store.create_experiment("a"), store.create_experiment("b")]
    runs = [store.create_run(experiments[0], "u", 1000, [], f"r{i}").info.run_id for i in range(3)]
    drawn = logged_models(VOCABULARY, min_size=10, max_size=14, experiment_ids=experiments, run_ids=runs)
    write_logged_models(store, examples(drawn, 3, SEED)[-1])  # past the first draw, the smallest
    yield url, store, experiments
    SqlAlchemyStore._engine_map.pop(store.db_uri, None)
    store.engine.dispose()


def _arguments(index: int, query: Query) -> dict[str, Any]:
    """The search of the ``index``-th query: its filter, its order as MLflow's dicts (a metric read on a
    dataset one time in three, on a digest of it another), and datasets one time in two."""
    order_by = []
    for sort_key in query.order_by:
        key = sort_key.key
        prefix = {Entity.METRIC: "metrics.", Entity.PARAM: "params.", Entity.TAG: "tags."}.get(key.entity, "")
        entry: dict[str, Any] = {"field_name": prefix + key.name}
        if sort_key.descending or index % 2:
            entry["ascending"] = not sort_key.descending
        if key.entity is Entity.METRIC and index % 3:
            entry["dataset_name"] = DATASET
            if index % 3 == 2:
                entry["dataset_digest"] = DIGEST
        order_by.append(entry)
    datasets = [
        None,
        [{"dataset_name": DATASET}],
        None,
        [{"dataset_name": DATASET, "dataset_digest": DIGEST}],
    ]
    return {
        "filter_string": query.filter_string or None,
        "order_by": order_by or None,
        "datasets": datasets[index % 4],
    }


def _pages(search: Any, experiment_ids: list[str], **arguments: Any) -> list[Any]:
    pages, token = [], None
    while len(pages) < 20:
        page = search(experiment_ids=experiment_ids, max_results=3, page_token=token, **arguments)
        pages.append(([m.name for m in page], sorted(m.model_id for m in page), page.token))
        token = page.token
        if token is None:
            break
    return pages


def test_generated_queries_page_as_mlflows_store(database: tuple[str, SqlAlchemyStore, list[str]]) -> None:
    url, mlflow_store, experiments = database
    workspace = runql.from_mlflow_db(url)
    rows = [m for m in workspace._logged_models(experiments) if m.lifecycle_stage == "active"]
    selected = compared = 0
    with runql.connect(url) as sql_store:
        for index, query in enumerate(
            examples(queries("mlflow", "logged_models", VOCABULARY, rows), COUNT, SEED)
        ):
            if url.startswith("postgresql") and "\\" in query.filter_string:
                continue  # PostgreSQL's store reads a backslash as an escape (registry-patterns)
            arguments = _arguments(index, query)
            expected = _pages(mlflow_store.search_logged_models, experiments, **arguments)
            assert _pages(workspace.search_logged_models, experiments, **arguments) == expected, arguments
            assert _pages(sql_store.search_logged_models, experiments, **arguments) == expected, arguments
            compared += 1
            selected += sum(len(names) for names, _, _ in expected)
    # The draw must exercise the search: most queries compared, and models found for them.
    assert compared > COUNT * 3 // 4 and selected > COUNT // 2


def test_extended_queries_answer_in_sql_as_in_memory(
    database: tuple[str, SqlAlchemyStore, list[str]],
) -> None:
    url, _, experiments = database
    workspace = runql.from_mlflow_db(url)
    rows = [m for m in workspace._logged_models(experiments) if m.lifecycle_stage == "active"]
    selected = 0
    with runql.connect(url) as sql_store:
        for index, query in enumerate(
            examples(queries("extended", "logged_models", VOCABULARY, rows), COUNT, SEED)
        ):
            if url.startswith("postgresql") and "\\" in query.filter_string:
                continue  # (as above)
            arguments = {**_arguments(index, query), "profile": "extended"}
            expected = _pages(workspace.search_logged_models, experiments, **arguments)
            assert _pages(sql_store.search_logged_models, experiments, **arguments) == expected, arguments
            selected += sum(len(names) for names, _, _ in expected)
    assert selected > COUNT // 2
