"""Registered models, model versions and prompts searched as MLflow's SQL registry store searches them: the
same models in the same order, page by page with the same tokens, on SQLite and PostgreSQL, from a
registry MLflow itself wrote; in a workspace read from the database and in the SQL store.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

sa = pytest.importorskip("sqlalchemy")
pytest.importorskip("mlflow")

from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore  # noqa: E402
from support.services import mlflow_server  # noqa: E402

import runql  # noqa: E402
from runql.errors import NotFoundError, UnsupportedQueryError  # noqa: E402
from runql.model.registry import PROMPT_TAG  # noqa: E402

# name: (tags, versions as (run_id, source, tags))
REGISTRY: dict[str, tuple[dict[str, str], list[tuple[str | None, str, dict[str, str]]]]] = {
    "a": ({"team": "risk"}, [("r1", "s3://b/a1", {"stage": "prod"}), ("r2", "s3://b/a2", {})]),
    "B": ({"team": "Risk"}, [("r2", "file:///m/b", {"stage": "dev"})]),
    "c%d": ({}, [(None, "s3://b/c", {"stage": "prod"}), ("r3", "gs://c", {}), ("r1", "s3://c3", {})]),
    "ab_c": ({"team": "vision", "tier": "1"}, []),
    "é-model": ({"team": "risk"}, [("r4", "s3://é", {"stage": "Prod"})]),
    "a-prompt": ({PROMPT_TAG: "true", "team": "risk"}, [(None, "prompt://a", {PROMPT_TAG: "true"})]),
}

MODEL_FILTERS = [
    "",
    "name = 'a'",
    "name != 'a'",
    "name LIKE 'a%'",
    "name ILIKE 'A%'",
    "name IN ('a', 'B', 'zz')",
    "name NOT IN ('a')",
    "tags.team = 'risk'",
    "tags.team != 'risk'",
    "tag.team LIKE 'R%'",
    "tags.team ILIKE 'r%' AND name LIKE '%a%'",
    f"tags.`{PROMPT_TAG}` = 'true'",
    f"tags.`{PROMPT_TAG}` != 'true'",
    'name = "B"',
]
MODEL_ORDERS: list[list[str] | None] = [None, ["name DESC"], ["timestamp DESC"], ["last_updated_timestamp"]]
VERSION_FILTERS = [
    "",
    "name = 'a'",
    "version_number > 1",
    "version_number = '2'",
    "version_number != 1",
    "run_id = 'r1'",
    "run_id IN ('r1', 'r2')",
    "run_id NOT IN ('r1')",
    "source_path LIKE 's3://%'",
    "tags.stage = 'prod'",
    "tags.stage ILIKE 'PROD'",
    "name ILIKE 'A%' AND version_number <= 2",
    f"tags.`{PROMPT_TAG}` = 'true'",
]
VERSION_ORDERS: list[list[str] | None] = [
    None,
    ["version_number"],
    ["creation_timestamp DESC"],
    ["name DESC", "version_number"],
]


def _write(url: str) -> None:
    store = SqlAlchemyStore(url)
    try:
        for name, (tags, versions) in REGISTRY.items():
            store.create_registered_model(name, [RegisteredModelTag(k, v) for k, v in tags.items()])
            for run_id, source, version_tags in versions:
                store.create_model_version(
                    name, source, run_id, [ModelVersionTag(k, v) for k, v in version_tags.items()]
                )
    finally:
        SqlAlchemyStore._engine_map.pop(store.db_uri, None)
        store.engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest) -> Iterator[tuple[str, SqlAlchemyStore]]:
    make = request.getfixturevalue(f"new_{'sqlite' if request.param == 'sqlite' else 'postgres'}_database")
    url: str = make(mlflow_schema=True)
    _write(url)
    mlflow_store = SqlAlchemyStore(url)
    yield url, mlflow_store
    SqlAlchemyStore._engine_map.pop(mlflow_store.db_uri, None)
    mlflow_store.engine.dispose()


@pytest.fixture(scope="module", params=["workspace", "sql", "server"])
def store(
    request: pytest.FixtureRequest,
    registry: tuple[str, SqlAlchemyStore],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    url = registry[0]
    if request.param == "workspace":
        yield runql.from_mlflow_db(url)
    elif request.param == "sql":
        with runql.connect(url) as connected:
            yield connected
    else:
        with (
            mlflow_server(url, tmp_path_factory.mktemp("registry-server")) as server,
            runql.connect(server) as connected,
        ):
            yield connected


def _offset(token: str | bytes | None) -> int | None:
    return None if token is None else json.loads(base64.b64decode(token))["offset"]


def _pages(search: Callable[..., Any], key: Callable[[Any], Any], size: int, **arguments: Any) -> list[Any]:
    """Every page of a search, each as its items' keys and the offset its token holds."""
    pages, token = [], None
    while True:
        page = search(max_results=size, page_token=token, **arguments)
        pages.append(([key(item) for item in page], _offset(page.token)))
        token = page.token
        if token is None or len(pages) > 20:
            return pages


@pytest.mark.parametrize("order_by", MODEL_ORDERS)
@pytest.mark.parametrize("filter_string", MODEL_FILTERS)
def test_registered_models_page_as_mlflows_store(
    registry: tuple[str, SqlAlchemyStore], store: Any, filter_string: str, order_by: list[str] | None
) -> None:
    mlflow_store = registry[1]
    for size in (2, 100):
        expected = _pages(
            mlflow_store.search_registered_models, _name, size, filter_string=filter_string, order_by=order_by
        )
        found = _pages(
            store.search_registered_models, _name, size, filter_string=filter_string, order_by=order_by
        )
        assert found == expected


@pytest.mark.parametrize("order_by", VERSION_ORDERS)
@pytest.mark.parametrize("filter_string", VERSION_FILTERS)
def test_model_versions_page_as_mlflows_store(
    registry: tuple[str, SqlAlchemyStore], store: Any, filter_string: str, order_by: list[str] | None
) -> None:
    mlflow_store = registry[1]
    for size in (2, 100):
        expected = _pages(
            mlflow_store.search_model_versions, _version, size, filter_string=filter_string, order_by=order_by
        )
        found = _pages(
            store.search_model_versions, _version, size, filter_string=filter_string, order_by=order_by
        )
        assert found == expected


def _name(model: Any) -> str:
    return str(model.name)


def _version(version: Any) -> tuple[str, str]:
    return str(version.name), str(version.version)


@pytest.mark.parametrize(
    ("filter_string", "order_by"),
    [
        ("name > 'a'", None),
        ("tags.team IS NULL", None),
        ("name = 'a' OR name = 'B'", None),
        ("metrics.auc > 0.5", None),
        ("creation_timestamp > 0", None),
        ("", ["creation_timestamp"]),
        ("", ["tags.team"]),
        ("", ["name", "name DESC"]),
        ("", ["timestamp", "last_updated_timestamp DESC"]),
        ("", ["attribute.name"]),
    ],
)
def test_what_mlflows_store_refuses_runql_refuses(
    registry: tuple[str, SqlAlchemyStore], store: Any, filter_string: str, order_by: list[str] | None
) -> None:
    with pytest.raises((MlflowException, ValueError)):
        registry[1].search_registered_models(filter_string=filter_string, order_by=order_by)
    with pytest.raises(UnsupportedQueryError):
        store.search_registered_models(filter_string, order_by=order_by)


def test_the_extended_profile_searches_models_with_or(store: Any) -> None:
    found = store.search_registered_models(
        "name LIKE 'c%' OR tags.team = 'vision'", profile="extended", max_results=100
    )
    assert sorted(m.name for m in found) == ["ab_c", "c%d"]
    found = store.search_registered_models("tags.team IS NULL", profile="extended")
    assert [m.name for m in found] == ["c%d"]


def test_prompts_and_lookups(store: Any) -> None:
    assert [p.name for p in store.search_prompts()] == ["a-prompt"]
    assert [p.name for p in store.search_prompts("name LIKE 'a%'")] == ["a-prompt"]
    model = store.get_registered_model("a")
    assert model.tags == {"team": "risk"} and [v.version for v in model.latest_versions] == ["2"]
    version = store.get_model_version("c%d", 3)
    assert (version.run_id, version.source) == ("r1", "s3://c3")
    with pytest.raises(NotFoundError):
        store.get_registered_model("zz")
    prompt = store.get_prompt("a-prompt")
    assert prompt is not None and prompt.name == "a-prompt"
    assert store.get_prompt("a") is None and store.get_prompt("zz") is None
    with pytest.raises(NotFoundError):
        store.get_model_version("a", "9")


def test_a_backslash_in_a_pattern_is_a_character(registry: tuple[str, SqlAlchemyStore], store: Any) -> None:
    """As MLflow's SQLite store and its in-memory search read it; its PostgreSQL store reads an escape
    there, and so do runql.connect on PostgreSQL, which hands patterns to the database as MLflow's store
    does, and a server, which answers with its store (docs/compatibility.md, registry-patterns)."""
    escaped = registry[0].startswith("postgresql") and not isinstance(store, runql.Workspace)
    found = [m.name for m in store.search_registered_models("name LIKE '%\\_%'")]
    assert found == (["ab_c"] if escaped else [])
    assert [m.name for m in store.search_registered_models("name LIKE '%_c'")] == ["ab_c"]


def test_a_version_number_is_whole(registry: tuple[str, SqlAlchemyStore], store: Any) -> None:
    with pytest.raises(MlflowException):
        registry[1].search_model_versions("version_number > 1.5")
    with pytest.raises(UnsupportedQueryError, match="whole numbers only"):
        store.search_model_versions("version_number > 1.5")


def test_a_workspace_loaded_from_a_server_holds_its_registry(
    registry: tuple[str, SqlAlchemyStore], tmp_path: Any
) -> None:
    url = registry[0]
    with mlflow_server(url, tmp_path) as server:
        loaded = runql.from_mlflow(server)
    read = runql.from_mlflow_db(url)
    for search, key in (("search_registered_models", _name), ("search_model_versions", _version)):
        for filter_string in ("", "tags.team = 'risk'", f"tags.`{PROMPT_TAG}` = 'true'"):
            expected = _pages(getattr(read, search), key, 2, filter_string=filter_string)
            assert _pages(getattr(loaded, search), key, 2, filter_string=filter_string) == expected
