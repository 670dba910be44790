"""The model registry of an mlruns folder, written by MLflow's own registry FileStore and read by
runql: the models and versions are those MLflow reads back, field for field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("yaml")
pytest.importorskip("mlflow")

from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
from mlflow.exceptions import MlflowException
from mlflow.store.model_registry.file_store import FileStore
from support.mlflow_stores import tracking_uri

from runql.errors import StoreError
from runql.model.registry import PROMPT_TAG, ModelVersion, RegisteredModel, Registry
from runql.sources.mlflow_dir_registry import read_registry_dir


@pytest.fixture
def mlflow_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # MLflow 3 refuses its file stores unless asked, and reading a version back opens a tracking client
    # (to look up a logged model): point it at a folder of the test, not a database in the working folder.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "tracking").as_uri())
    monkeypatch.chdir(tmp_path)
    with tracking_uri(None):  # the variable decides, whatever an earlier test set
        yield


@pytest.fixture
def registry(tmp_path: Path, mlflow_env: None) -> tuple[Path, Any]:
    """A registry MLflow writes: a model with versions in every stage, aliases, tags (one of a nested
    key) and a deleted version; a model with no versions; a prompt with a version."""
    root = tmp_path / "mlruns"
    store = FileStore(str(root))
    store.create_registered_model(
        "fraud",
        tags=[RegisteredModelTag("team", "risk"), RegisteredModelTag("a/b", "nested")],
        description="d",
    )
    store.create_model_version(
        "fraud", "file:///m/1", run_id="run1", tags=[ModelVersionTag("k", "v\nsecond line")]
    )
    store.create_model_version("fraud", "file:///m/2", run_id="run2", description="two")
    store.create_model_version("fraud", "file:///m/3")
    store.create_model_version("fraud", "file:///m/4", run_id="run4")
    store.create_model_version("fraud", "file:///m/5")
    store.transition_model_version_stage("fraud", "2", "Staging", archive_existing_versions=False)
    store.transition_model_version_stage("fraud", "3", "Production", archive_existing_versions=False)
    # Archives version 3, which was in Production.
    store.transition_model_version_stage("fraud", "4", "production", archive_existing_versions=True)
    store.set_registered_model_alias("fraud", "champion", "4")
    store.set_registered_model_alias("fraud", "best", "4")
    store.set_registered_model_alias("fraud", "old", "5")
    store.delete_model_version("fraud", "5")  # takes its alias with it
    store.create_registered_model("empty")
    store.create_registered_model("greeting", tags=[RegisteredModelTag(PROMPT_TAG, "true")])
    store.create_model_version(
        "greeting", "file:///p/1", tags=[ModelVersionTag(PROMPT_TAG, "true"), ModelVersionTag("t", "hi")]
    )
    return root, store


def _model_fields(model: Any) -> dict[str, Any]:
    return {
        "name": model.name,
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
        "description": model.description,
        # MLflow's RegisteredModel.tags hides the prompt tag; _tags holds every tag the store read.
        "tags": dict(getattr(model, "_tags", model.tags)),
        "aliases": {alias: str(version) for alias, version in model.aliases.items()},
        "latest_versions": sorted(
            (_version_fields(v) for v in model.latest_versions), key=lambda v: int(v["version"])
        ),
    }


def _version_fields(version: Any) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": version.creation_timestamp,
        "last_updated_timestamp": version.last_updated_timestamp,
        "description": version.description,
        "run_id": version.run_id,
        "source": version.source,
        "current_stage": version.current_stage,
        "status": version.status,
        "tags": dict(version.tags),
        "aliases": sorted(version.aliases),
    }


def _mlflow_versions(store: Any, name: str) -> list[Any]:
    """Every live version of ``name`` as MLflow reads it (get_model_version refuses a deleted one)."""
    found = []
    folders = sorted((Path(store.root_directory) / "models" / name).glob("version-*"))
    for number in sorted(int(folder.name.removeprefix("version-")) for folder in folders):
        try:
            found.append(store.get_model_version(name, str(number)))
        except MlflowException:
            continue
    return found


def test_the_models_are_those_mlflow_reads(registry: tuple[Path, Any]) -> None:
    root, store = registry
    read = read_registry_dir(root)
    assert [m.name for m in read.models] == ["empty", "fraud", "greeting"]
    assert [_model_fields(m) for m in read.models] == [
        _model_fields(store.get_registered_model(m.name)) for m in read.models
    ]
    # MLflow's search leaves prompts out; runql keeps them, marked.
    searched = store.search_registered_models(max_results=1000)
    assert sorted(m.name for m in searched) == [m.name for m in read.models if not m.is_prompt]


def test_the_versions_are_those_mlflow_reads(registry: tuple[Path, Any]) -> None:
    root, store = registry
    read = read_registry_dir(root)
    expected = [v for name in ("empty", "fraud", "greeting") for v in _mlflow_versions(store, name)]
    assert [_version_fields(v) for v in read.versions] == [_version_fields(v) for v in expected]
    searched = store.search_model_versions(max_results=1000)
    assert sorted(_version_fields(v)["version"] for v in searched) == [
        v.version for v in read.versions if v.name == "fraud"
    ]


def test_what_the_registry_holds(registry: tuple[Path, Any]) -> None:
    """The fixture's registry, spelled out: the comparisons above are not vacuous."""
    root, _ = registry
    read = read_registry_dir(root)
    fraud = next(m for m in read.models if m.name == "fraud")
    assert fraud.tags == {"a/b": "nested", "team": "risk"}
    assert fraud.aliases == {"best": "4", "champion": "4"}
    assert [(v.version, v.current_stage) for v in fraud.latest_versions] == [
        ("1", "None"),
        ("2", "Staging"),
        ("3", "Archived"),
        ("4", "Production"),
    ]
    by_key = {(v.name, v.version): v for v in read.versions}
    assert sorted(by_key) == [
        ("fraud", "1"),
        ("fraud", "2"),
        ("fraud", "3"),
        ("fraud", "4"),
        ("greeting", "1"),
    ]
    assert by_key["fraud", "1"].tags == {"k": "v\nsecond line"}
    assert (by_key["fraud", "1"].run_id, by_key["fraud", "1"].source) == ("run1", "file:///m/1")
    assert by_key["fraud", "4"].aliases == ["best", "champion"]
    assert by_key["fraud", "2"].description == "two"
    greeting = next(m for m in read.models if m.name == "greeting")
    assert greeting.is_prompt
    assert [v.version for v in greeting.latest_versions] == ["1"]
    assert isinstance(fraud, RegisteredModel)
    assert isinstance(by_key["greeting", "1"], ModelVersion)


def test_no_models_folder_is_an_empty_registry(tmp_path: Path) -> None:
    (tmp_path / "mlruns" / "0").mkdir(parents=True)
    assert read_registry_dir(tmp_path / "mlruns") == Registry()
    assert read_registry_dir(tmp_path / "nothing") == Registry()


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("fraud/meta.yaml", "name: [fraud\n"),
        ("fraud/version-2/meta.yaml", "name: fraud\nversion: 2\ncreation_timestamp: soon\n"),
        ("fraud/version-3/meta.yaml", "name: fraud\nversion: three\n"),
        ("empty/meta.yaml", ""),
    ],
)
def test_a_corrupt_meta_yaml_names_the_file(registry: tuple[Path, Any], path: str, text: str) -> None:
    root, _ = registry
    corrupt = root / "models" / path
    corrupt.write_text(text, encoding="utf-8")
    with pytest.raises(StoreError) as raised:
        read_registry_dir(root)
    assert raised.value.where == str(corrupt)
    assert str(corrupt) in str(raised.value)
