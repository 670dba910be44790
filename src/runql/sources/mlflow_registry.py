"""The model registry of an MLflow tracking database: registered models, their versions, tags and
aliases, read whole (registries are small: thousands of models, not millions of runs).

Only the default workspace's rows are read, as MLflow's store reads them without a workspace set; a
version in MLflow's internal ``Deleted_Internal`` stage is no version. A database from before the
registry (no ``registered_models`` table) has an empty one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from runql.errors import StoreError
from runql.model.registry import ModelVersion, RegisteredModel, Registry
from runql.sources import rows as check

__all__ = ["TABLES", "read_registry"]

_DELETED_INTERNAL = "Deleted_Internal"
_DEFAULT_WORKSPACE = "default"
_MODEL_COLUMNS = ("name", "creation_time", "last_updated_time", "description")
_VERSION_COLUMNS = (
    "name",
    "version",
    "creation_time",
    "last_updated_time",
    "description",
    "user_id",
    "current_stage",
    "source",
    "run_id",
    "status",
    "status_message",
    "run_link",
)


# The most names one statement names, well within every database's count of bound parameters.
_NAMES_PER_STATEMENT = 1000


TABLES = (
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
)
"""The tables the registry is read from."""


def read_registry(
    sa: Any,
    connection: Any,
    where: str,
    names: Sequence[str] | None = None,
    tables: check.Reflected | None = None,
) -> Registry:
    """Every registered model and model version of the database ``connection`` reaches (``where`` names
    it in errors); only those of the models ``names`` when they are given. ``tables`` are :data:`TABLES`
    as :func:`rows.reflect` reflected them, when the caller holds them."""
    if tables is None:
        tables = check.reflect(sa, connection, TABLES)
    if "registered_models" not in tables or "model_versions" not in tables:
        return Registry()

    def rows(table: str, columns: Sequence[str]) -> list[dict[str, Any]]:
        if table not in tables:
            return []
        found = tables[table]
        named = [c for c in columns if c in found.c]
        query = sa.select(*(found.c[c] for c in named))
        if "workspace" in found.c:
            query = query.where(found.c.workspace == _DEFAULT_WORKSPACE)
        queries = [query]
        if names is not None:
            wanted = sorted(set(names))
            queries = [
                query.where(found.c.name.in_(wanted[start : start + _NAMES_PER_STATEMENT]))
                for start in range(0, len(wanted), _NAMES_PER_STATEMENT)
            ]
        return [dict(zip(named, row, strict=True)) for each in queries for row in connection.execute(each)]

    try:
        model_tags = _tags(rows("registered_model_tags", ("name", "key", "value")), ("name",))
        version_tags = _tags(
            rows("model_version_tags", ("name", "version", "key", "value")), ("name", "version")
        )
        aliases: dict[str, dict[str, str]] = defaultdict(dict)
        version_aliases: dict[tuple[str, str], list[str]] = defaultdict(list)
        for row in rows("registered_model_aliases", ("name", "alias", "version")):
            name, alias, version = (
                check.text(row["name"], "name"),
                check.text(row["alias"], "alias"),
                str(row["version"]),
            )
            aliases[name][alias] = version
            version_aliases[(name, version)].append(alias)
        versions = [
            _version(row, version_tags, version_aliases)
            for row in rows("model_versions", _VERSION_COLUMNS)
            if row.get("current_stage") != _DELETED_INTERNAL
        ]
        by_model: dict[str, list[ModelVersion]] = defaultdict(list)
        for held in versions:
            by_model[held.name].append(held)
        models = [
            _model(row, model_tags, aliases, by_model) for row in rows("registered_models", _MODEL_COLUMNS)
        ]
    except (ValueError, TypeError) as error:
        raise StoreError(
            f"the model registry holds a bad row: {error}", where=where, code="corrupt-store"
        ) from None
    return Registry(models, versions)


def _tags(found: list[dict[str, Any]], owner: tuple[str, ...]) -> dict[tuple[str, ...], dict[str, str]]:
    tags: dict[tuple[str, ...], dict[str, str]] = defaultdict(dict)
    for row in found:
        if row["value"] is not None:  # a NULL value is no tag, as for runs
            tags[tuple(str(row[c]) for c in owner)][check.text(row["key"], "key")] = check.text(
                row["value"], "value"
            )
    return tags


def _version(
    row: dict[str, Any],
    tags: dict[tuple[str, ...], dict[str, str]],
    aliases: dict[tuple[str, str], list[str]],
) -> ModelVersion:
    name, version = check.text(row["name"], "name"), str(check.integer(row["version"], "version"))
    return ModelVersion(
        name=name,
        version=version,
        creation_timestamp=check.time_ms(row.get("creation_time"), "creation_time"),
        last_updated_timestamp=check.time_ms(row.get("last_updated_time"), "last_updated_time"),
        description=check.optional_text(row.get("description"), "description"),
        user_id=check.optional_text(row.get("user_id"), "user_id"),
        current_stage=check.optional_text(row.get("current_stage"), "current_stage"),
        source=check.optional_text(row.get("source"), "source"),
        run_id=check.optional_text(row.get("run_id"), "run_id"),
        status=check.optional_text(row.get("status"), "status") or "READY",
        status_message=check.optional_text(row.get("status_message"), "status_message"),
        tags=tags.get((name, version), {}),
        run_link=check.optional_text(row.get("run_link"), "run_link"),
        aliases=sorted(aliases.get((name, version), [])),
    )


def _model(
    row: dict[str, Any],
    tags: dict[tuple[str, ...], dict[str, str]],
    aliases: dict[str, dict[str, str]],
    versions: dict[str, list[ModelVersion]],
) -> RegisteredModel:
    name = check.text(row["name"], "name")
    # MLflow's latest_versions: the newest version of each stage.
    latest: dict[str | None, ModelVersion] = {}
    for version in versions.get(name, ()):
        held = latest.get(version.current_stage)
        if held is None or version.version_number > held.version_number:
            latest[version.current_stage] = version
    return RegisteredModel(
        name=name,
        creation_timestamp=check.time_ms(row.get("creation_time"), "creation_time"),
        last_updated_timestamp=check.time_ms(row.get("last_updated_time"), "last_updated_time"),
        description=check.optional_text(row.get("description"), "description"),
        latest_versions=sorted(latest.values(), key=lambda v: v.version_number),
        tags=tags.get((name,), {}),
        aliases=aliases.get(name, {}),
    )
