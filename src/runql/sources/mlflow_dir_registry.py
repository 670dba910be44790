"""The model registry of an MLflow file store folder (``mlruns/``), read directly, without MLflow.

The layout MLflow's registry ``FileStore`` writes::

    mlruns/models/<name>/meta.yaml                the registered model
    mlruns/models/<name>/tags/<key>               its tags: the value, the whole file
    mlruns/models/<name>/aliases/<alias>          an alias: the version it names, the whole file
    mlruns/models/<name>/version-<n>/meta.yaml    a version (the number as a YAML integer)
    mlruns/models/<name>/version-<n>/tags/<key>   the version's tags

It is read as MLflow reads it back: every folder under ``models/`` is a registered model, and every
folder of a model whose name starts with ``version-`` one of its versions; other files are passed over.
Tags and aliases come from their folders (a key with '/' is a nested path); the copy of the aliases
MLflow also leaves in a model's ``meta.yaml`` is stale and ignored, as MLflow ignores it. A deleted
version stays on disk in the internal stage ``Deleted_Internal``: it is no version. A registered model's
latest versions are its newest version in each of the stages None, Staging, Production and Archived.

The files are read as :mod:`runql.sources.mlflow_dir` reads runs, with the same refusals (a link out of
the store, a hard link, a pipe, YAML aliases): a corrupt or hostile file raises :class:`StoreError`
naming it. Needs PyYAML (``pip install 'runql[mlflow-files]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runql.common.redact import shown_value
from runql.errors import StoreError
from runql.model.registry import ModelVersion, RegisteredModel, Registry

# The run reader's safe file access, shared so both halves of an mlruns folder refuse the same things.
from runql.sources.mlflow_dir import META, _FileStore, _identifier, _optional_int, _optional_text

__all__ = ["read_registry_dir"]

MODELS = "models"
VERSION_PREFIX = "version-"
DELETED_INTERNAL = "Deleted_Internal"
# The stages MLflow's get_latest_versions looks at, spelled as it compares them (exactly).
LATEST_STAGES = frozenset({"None", "Staging", "Production", "Archived"})


def read_registry_dir(root: Path) -> Registry:
    """Every registered model (prompts included) and live model version of the file store ``root``,
    the ``mlruns`` folder that holds ``models/``; a store without ``models/`` has an empty registry.

    Raises :class:`StoreError` naming the file at fault when the registry is corrupt.
    """
    store = _FileStore(root)
    folder = root / MODELS
    if store._kind_of(folder) != "folder":
        return Registry()
    registry = Registry()
    for model_folder in store._folders(folder):
        model, versions = _model(store, model_folder)
        registry.models.append(model)
        registry.versions.extend(versions)
    return registry


def _model(store: _FileStore, folder: Path) -> tuple[RegisteredModel, list[ModelVersion]]:
    meta = store._meta(folder, "registered model")
    where = folder / META
    aliases = store._values(folder / "aliases")
    found = [_version(store, c, aliases) for c in store._folders(folder) if c.name.startswith(VERSION_PREFIX)]
    versions = sorted(
        (v for v in found if v.current_stage != DELETED_INTERNAL), key=lambda v: v.version_number
    )
    latest: dict[str, ModelVersion] = {}
    for version in versions:  # ascending, so the last of each stage is its newest
        if version.current_stage in LATEST_STAGES:
            latest[version.current_stage] = version
    model = RegisteredModel(
        # MLflow takes the name from meta.yaml, not from the folder.
        name=_identifier(store._required(meta, ("name",), folder, "registered model"), where, "name"),
        creation_timestamp=_optional_int(meta, "creation_timestamp", where),
        last_updated_timestamp=_optional_int(meta, "last_updated_timestamp", where),
        description=_optional_text(meta, "description", where),
        latest_versions=sorted(latest.values(), key=lambda v: v.version_number),
        tags=store._values(folder / "tags"),
        aliases=aliases,
    )
    return model, versions


def _version(store: _FileStore, folder: Path, aliases: dict[str, str]) -> ModelVersion:
    meta = store._meta(folder, "model version")
    where = folder / META
    # MLflow gives a version the aliases whose file holds its folder's number (not meta.yaml's), and
    # strips the prefix with replace(): mirrored, so that an odd folder name matches as in MLflow.
    number = folder.name.replace(VERSION_PREFIX, "")
    return ModelVersion(
        name=_identifier(store._required(meta, ("name",), folder, "model version"), where, "name"),
        version=str(_version_number(meta.get("version"), where)),
        creation_timestamp=_optional_int(meta, "creation_timestamp", where),
        last_updated_timestamp=_optional_int(meta, "last_updated_timestamp", where),
        description=_optional_text(meta, "description", where),
        user_id=_optional_text(meta, "user_id", where),
        current_stage=_optional_text(meta, "current_stage", where),
        source=_optional_text(meta, "source", where),
        run_id=_optional_text(meta, "run_id", where),
        status=_optional_text(meta, "status", where) or "READY",
        status_message=_optional_text(meta, "status_message", where),
        tags=store._values(folder / "tags"),
        run_link=_optional_text(meta, "run_link", where),
        aliases=sorted(alias for alias, target in aliases.items() if target == number),
    )


def _version_number(value: Any, where: Path) -> int:
    """The version: MLflow writes a YAML integer, and orders versions by it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise StoreError(f"version must be an integer, not {shown_value(value)}", where=str(where))
