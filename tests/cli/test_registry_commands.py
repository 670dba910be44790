"""``runql models``, ``runql versions`` and ``runql prompts`` on a registry MLflow wrote: in a tracking
database, in an ``mlruns`` folder, and behind a tracking server (issue 26's "done means")."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
from support.commands import run_command
from support.services import mlflow_server

from runql.model.registry import PROMPT_TAG

MODELS = {
    "fraud-a": {"team": "risk"},
    "fraud-b": {"team": "ops"},
    "vision": {"team": "vision"},
    "ledger": {"team": "risk"},
    "summarize": {PROMPT_TAG: "true"},
}
EXTENDED = [
    "--profile",
    "extended",
    "--filter",
    "name LIKE 'fraud%' OR tags.team = 'risk'",
    "--format",
    "json",
]


def _fill(store: object) -> None:
    for name, tags in MODELS.items():
        store.create_registered_model(name, [RegisteredModelTag(k, v) for k, v in tags.items()])  # type: ignore[attr-defined]
        version_tags = [ModelVersionTag(PROMPT_TAG, "true")] if PROMPT_TAG in tags else []
        store.create_model_version(name, f"s3://models/{name}", None, version_tags)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def database(new_sqlite_database: Callable[..., str]) -> str:
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    url = new_sqlite_database(mlflow_schema=True)
    store = SqlAlchemyStore(url)
    try:
        _fill(store)
    finally:
        SqlAlchemyStore._engine_map.pop(store.db_uri, None)
        store.engine.dispose()
    return url


@pytest.fixture(scope="module")
def mlruns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from mlflow.store.model_registry.file_store import FileStore

    folder = tmp_path_factory.mktemp("registry") / "mlruns"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        # Reading a version back opens a tracking client: keep its store inside the test's folder.
        patch.setenv("MLFLOW_TRACKING_URI", folder.as_uri())
        (folder / "0").mkdir(parents=True)
        (folder / "0" / "meta.yaml").write_text(
            "name: Default\nexperiment_id: '0'\nlifecycle_stage: active\n"
        )
        _fill(FileStore(str(folder)))
    yield folder


@pytest.fixture(scope="module")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(database, tmp_path_factory.mktemp("registry-server")) as url:
        yield url


def _names(*args: str) -> list[str]:
    done = run_command(*args)
    assert done.returncode == 0, done.stderr
    return [row["name"] for row in json.loads(done.stdout)]


@pytest.mark.parametrize("where", ["database", "mlruns", "server"])
def test_models_answer_the_extended_query_everywhere(where: str, request: pytest.FixtureRequest) -> None:
    source = str(request.getfixturevalue(where))
    assert _names("models", "--source", source, *EXTENDED) == ["fraud-a", "fraud-b", "ledger"]
    assert _names("prompts", "--source", source, "--format", "json") == ["summarize"]
    versions = _names("versions", "--source", source, "--filter", "name LIKE 'fraud%'", "--format", "json")
    assert sorted(versions) == ["fraud-a", "fraud-b"]


def test_a_query_mlflow_refuses_is_one_line(database: str) -> None:
    done = run_command("models", "--source", database, "--filter", "name = 'a' OR name = 'b'")
    assert done.returncode == 1
    assert "MLflow does not support OR" in done.stderr and "Traceback" not in done.stderr


def test_pages_follow_their_tokens(database: str) -> None:
    first = run_command("models", "--source", database, "--max-results", "2", "--format", "json")
    token = first.stderr.split("--page-token ")[1].split()[0]
    second = run_command("models", "--source", database, "-n", "2", "--page-token", token, "--format", "json")
    assert [r["name"] for r in json.loads(first.stdout)] == ["fraud-a", "fraud-b"]
    assert [r["name"] for r in json.loads(second.stdout)] == ["ledger", "vision"]
