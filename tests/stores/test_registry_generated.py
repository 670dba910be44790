"""Generated registries, written by MLflow's own SQL registry store, and generated mlflow-profile queries:
every page of registered models and model versions runql returns, in a workspace and in SQL, is the page
MLflow's store returns, with the same token, on SQLite and PostgreSQL. Drawn with a fixed seed: no test
depends on a lucky draw.

The vocabulary is ``store_safe``: MLflow's SQL store folds ASCII letters only in ILIKE and lets ``%`` and
``_`` cross newlines, where runql's registry search keeps MLflow's in-memory meaning
(docs/compatibility.md, registry-patterns); on PostgreSQL a backslash in a pattern is an escape there.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("mlflow")

from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

import runql
from runql.model.registry import Registry
from runql.testing.conformance import examples
from runql.testing.strategies import DEFAULT_VOCABULARY, queries, registries

SEED = 20261206
COUNT = int(os.environ.get("RUNQL_REGISTRY_EXAMPLES", "120"))
VOCABULARY = DEFAULT_VOCABULARY.store_safe()


def _write(url: str, registry: Registry) -> None:
    store = SqlAlchemyStore(url)
    try:
        for model in registry.models:
            store.create_registered_model(
                model.name, [RegisteredModelTag(k, v) for k, v in model.tags.items()]
            )
        for version in registry.versions:
            tags = [ModelVersionTag(k, v) for k, v in version.tags.items()]
            store.create_model_version(version.name, version.source, version.run_id, tags)
    finally:
        SqlAlchemyStore._engine_map.pop(store.db_uri, None)
        store.engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any, runql.Workspace, Any]]:
    make = request.getfixturevalue(f"new_{'sqlite' if request.param == 'sqlite' else 'postgres'}_database")
    url: str = make(mlflow_schema=True)
    drawn = registries(VOCABULARY, min_models=8, max_models=12, min_versions=1, max_versions=3)
    registry = examples(drawn, 3, SEED)[-1]  # past the first draw, which is the smallest
    _write(url, registry)
    mlflow_store = SqlAlchemyStore(url)
    with runql.connect(url) as sql_store:
        yield url, mlflow_store, runql.from_mlflow_db(url), sql_store
    SqlAlchemyStore._engine_map.pop(mlflow_store.db_uri, None)
    mlflow_store.engine.dispose()


def _offset(token: str | bytes | None) -> int | None:
    return None if token is None else json.loads(base64.b64decode(token))["offset"]


def _pages(search: Any, key: Any, **arguments: Any) -> list[Any]:
    pages, token = [], None
    while len(pages) < 20:
        page = search(max_results=3, page_token=token, **arguments)
        pages.append(([key(item) for item in page], _offset(page.token)))
        token = page.token
        if token is None:
            break
    return pages


@pytest.mark.parametrize(
    ("entity", "search", "key"),
    [
        ("registered_models", "search_registered_models", lambda m: m.name),
        ("model_versions", "search_model_versions", lambda v: (v.name, str(v.version))),
    ],
)
def test_generated_queries_page_as_mlflows_store(
    database: tuple[str, Any, runql.Workspace, Any], entity: str, search: str, key: Any
) -> None:
    url, mlflow_store, workspace, sql_store = database
    registry = workspace._registry()
    rows = registry.models if entity == "registered_models" else registry.versions
    selected = 0
    compared = 0
    for query in examples(queries("mlflow", entity, VOCABULARY, rows), COUNT, SEED):
        # As a user writes them: the spellings (prefixes, case) the strategies drew.
        filter_string, order_by = query.filter_string, list(query.order_by_strings)
        if url.startswith("postgresql") and "\\" in filter_string:
            continue  # PostgreSQL's store reads a backslash as an escape (registry-patterns)
        arguments = {"filter_string": filter_string, "order_by": order_by or None}
        expected = _pages(getattr(mlflow_store, search), key, **arguments)
        assert _pages(getattr(workspace, search), key, **arguments) == expected, arguments
        assert _pages(getattr(sql_store, search), key, **arguments) == expected, arguments
        compared += 1
        selected += sum(len(items) for items, _ in expected)
    # The draw must exercise the search: most queries compared, and rows found for them.
    assert compared > COUNT * 3 // 4 and selected > COUNT // 2
