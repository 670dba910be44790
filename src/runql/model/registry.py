"""Registered models and their versions, shaped like ``mlflow.entities.model_registry``.

A prompt is a registered model tagged ``mlflow.prompt.is_prompt = 'true'`` (and each of its versions so
tagged): MLflow's registry searches leave prompts out unless the filter asks for that tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PROMPT_TAG",
    "ModelVersion",
    "PagedList",
    "RegisteredModel",
    "Registry",
    "is_prompt_tag_set",
    "model_version_from_entity",
    "registered_model_from_entity",
]

PROMPT_TAG = "mlflow.prompt.is_prompt"
"""The tag that makes a registered model (and its versions) a prompt."""


def is_prompt_tag_set(tags: dict[str, str]) -> bool:
    """Whether ``tags`` mark a prompt: the prompt tag is ``true``, in any case."""
    return tags.get(PROMPT_TAG, "").lower() == "true"


@dataclass(slots=True)
class ModelVersion:
    """A registered model's version; positional order as ``mlflow.entities.model_registry.ModelVersion``."""

    name: str
    version: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    user_id: str | None = None
    current_stage: str | None = None
    source: str | None = None
    run_id: str | None = None
    status: str = "READY"
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_link: str | None = None
    aliases: list[str] = field(default_factory=list)

    @property
    def version_number(self) -> int:
        """The version as the integer searches compare and order (``version_number``)."""
        return int(self.version)

    @property
    def source_path(self) -> str | None:
        """``source``, as searches name it (``source_path``)."""
        return self.source


@dataclass(slots=True)
class RegisteredModel:
    """A registered model; positional order as ``mlflow.entities.model_registry.RegisteredModel``."""

    name: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def is_prompt(self) -> bool:
        """Whether this registered model is a prompt."""
        return is_prompt_tag_set(self.tags)


@dataclass
class Registry:
    """Every registered model (prompts included) and every model version of a store."""

    models: list[RegisteredModel] = field(default_factory=list)
    versions: list[ModelVersion] = field(default_factory=list)


class PagedList(list[Any]):
    """A page of a registry search, as ``mlflow.store.entities.PagedList``: the items, and ``token``,
    the next page's token (None on the last page)."""

    def __init__(self, items: list[Any], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def model_version_from_entity(entity: Any) -> ModelVersion:
    """A version from an object shaped like ``mlflow.entities.model_registry.ModelVersion``."""
    return ModelVersion(
        name=entity.name,
        version=str(entity.version),
        creation_timestamp=entity.creation_timestamp,
        last_updated_timestamp=entity.last_updated_timestamp,
        description=entity.description,
        user_id=entity.user_id,
        current_stage=entity.current_stage,
        source=entity.source,
        run_id=entity.run_id,
        status=entity.status,
        status_message=entity.status_message,
        tags=dict(entity.tags or {}),
        run_link=entity.run_link,
        aliases=list(entity.aliases or []),
    )


def registered_model_from_entity(entity: Any) -> RegisteredModel:
    """A registered model from an object shaped like ``mlflow.entities.model_registry.RegisteredModel``."""
    return RegisteredModel(
        name=entity.name,
        creation_timestamp=entity.creation_timestamp,
        last_updated_timestamp=entity.last_updated_timestamp,
        description=entity.description,
        latest_versions=[model_version_from_entity(v) for v in entity.latest_versions or []],
        tags=dict(entity.tags or {}),
        aliases=dict(entity.aliases or {}),
    )
