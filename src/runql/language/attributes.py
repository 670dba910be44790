"""What a key names: the kinds of keys, and every attribute of a run and of an experiment, written once.

An attribute's entry gives its name, the kind of its values, the spellings MLflow reads as it, and which
profiles search by it. The profiles (:mod:`runql.profiles.catalog`) draw their attribute fields from here, the
parser resolves the aliases listed here, and the evaluators read the names. Adding an attribute is adding
one entry to ``RUN_ATTRIBUTES`` or ``EXPERIMENT_ATTRIBUTES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_ALIASES",
    "DATASET_KEYS",
    "ENTITY_NUMERIC_ATTRIBUTES",
    "ENTITY_STRING_ATTRIBUTES",
    "EXPERIMENT_ATTRIBUTES",
    "EXPERIMENT_NUMERIC_ATTRIBUTES",
    "EXPERIMENT_STRING_ATTRIBUTES",
    "LOGGED_MODEL_ATTRIBUTES",
    "MODEL_VERSION_ATTRIBUTES",
    "REGISTERED_MODEL_ATTRIBUTES",
    "RUN_ATTRIBUTES",
    "RUN_NUMERIC_ATTRIBUTES",
    "RUN_STRING_ATTRIBUTES",
    "Attribute",
    "KeyKind",
    "Scope",
    "ValueKind",
]


class KeyKind(Enum):
    """The kind of a key, which decides its comparators and the type of its values."""

    METRIC = "metric"
    PARAM = "param"
    TAG = "tag"
    STRING_ATTRIBUTE = "string attribute"
    NUMERIC_ATTRIBUTE = "numeric attribute"
    DATASET = "dataset"

    @property
    def plural(self) -> str:
        """The kind in the plural, as messages name it: ``metrics``, ``string attributes``."""
        return _PLURALS[self]


_PLURALS = {
    KeyKind.METRIC: "metrics",
    KeyKind.PARAM: "params",
    KeyKind.TAG: "tags",
    KeyKind.STRING_ATTRIBUTE: "string attributes",
    KeyKind.NUMERIC_ATTRIBUTE: "numeric attributes",
    KeyKind.DATASET: "datasets",
}


class ValueKind(Enum):
    """What an attribute holds: numbers (milliseconds) or strings."""

    NUMBER = "number"
    STRING = "string"


class Scope(Enum):
    """Which profiles filter and order by an attribute."""

    MLFLOW = "mlflow"
    """Every profile: MLflow searches by it."""

    EXTENSION = "extension"
    """The profiles beyond MLflow (``azureml``, ``extended``), not MLflow itself."""

    NONE = "none"
    """No profile: the evaluators read it (a run's ``lifecycle_stage`` is chosen by the view type)."""


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of a run or an experiment."""

    name: str
    kind: ValueKind
    scope: Scope = Scope.MLFLOW
    in_lists: bool = False
    """Whether MLflow accepts ``IN (...)`` and ``NOT IN (...)`` on it (``LIST_SUPPORTED_KEYS``)."""
    duration: bool = False
    """A length of time in milliseconds rather than a time since the epoch."""
    aliases: tuple[str, ...] = ()
    """Other spellings MLflow reads as this attribute, in filters and in order_by."""
    filter_aliases: tuple[str, ...] = ()
    """Other spellings MLflow reads as this attribute in filters only."""
    extension_aliases: tuple[str, ...] = ()
    """Spellings the profiles beyond MLflow accept, rewritten to this name before evaluation."""

    def searched(self, extensions: bool) -> bool:
        """Whether a profile filters and orders by it: MLflow's, and with ``extensions`` the others."""
        return self.scope is Scope.MLFLOW or (extensions and self.scope is Scope.EXTENSION)


_NUMBER, _STRING = ValueKind.NUMBER, ValueKind.STRING

# MLflow's searchable attributes are RunInfo.get_searchable_attributes() and the experiment
# attributes of SearchExperimentsUtils; the aliases are those of SearchUtils.
RUN_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("run_id", _STRING, in_lists=True),
    Attribute("run_name", _STRING, filter_aliases=("run name", "Run name", "Run Name")),
    Attribute("status", _STRING),
    Attribute("user_id", _STRING),
    Attribute("artifact_uri", _STRING),
    Attribute("experiment_id", _STRING, Scope.NONE),
    Attribute("lifecycle_stage", _STRING, Scope.NONE),
    # Azure ML's examples filter runs by creation_time, which is MLflow's start_time.
    Attribute("start_time", _NUMBER, aliases=("created", "Created"), extension_aliases=("creation_time",)),
    Attribute("end_time", _NUMBER),
    # end_time - start_time: Azure ML's prose filters runs by attributes.duration.
    Attribute("duration", _NUMBER, Scope.EXTENSION, duration=True),
)

EXPERIMENT_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("experiment_id", _STRING, in_lists=True),
    Attribute("name", _STRING),
    Attribute("artifact_location", _STRING, Scope.NONE),
    Attribute("lifecycle_stage", _STRING, Scope.NONE),
    Attribute("creation_time", _NUMBER),
    Attribute("last_update_time", _NUMBER),
)

# SearchModelUtils: a registered model's filters name only `name`; MLflow's SQL store orders by name and by
# last_updated_timestamp (also spelled `timestamp`: the profiles' attribute_renames), its file store by
# creation_timestamp too.
REGISTERED_MODEL_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("name", _STRING, in_lists=True),
    Attribute("creation_timestamp", _NUMBER, Scope.EXTENSION),
    Attribute("last_updated_timestamp", _NUMBER, Scope.EXTENSION),
)

# SearchModelVersionUtils: filters name name, run_id, source_path and version_number; order_by also the
# two timestamps.
MODEL_VERSION_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("name", _STRING, in_lists=True),
    Attribute("run_id", _STRING, in_lists=True),
    Attribute("source_path", _STRING),
    Attribute("version_number", _NUMBER),
    Attribute("current_stage", _STRING, Scope.EXTENSION),
    Attribute("status", _STRING, Scope.EXTENSION),
    Attribute("creation_timestamp", _NUMBER, Scope.EXTENSION),
    Attribute("last_updated_timestamp", _NUMBER, Scope.EXTENSION),
)

# MLflow's SQL store filters a logged model by any column of its table, and compares text with = != LIKE
# ILIKE IN NOT IN (search_logged_model_utils). Its status is stored as an integer code, which a filter
# compares with the text as written ('READY' finds nothing): searched by name beyond MLflow only.
LOGGED_MODEL_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("model_id", _STRING, in_lists=True),
    Attribute("experiment_id", _STRING, in_lists=True),
    Attribute("name", _STRING, in_lists=True),
    Attribute("artifact_location", _STRING, in_lists=True),
    Attribute("model_type", _STRING, in_lists=True),
    Attribute("source_run_id", _STRING, in_lists=True),
    Attribute("status_message", _STRING, in_lists=True),
    Attribute("status", _STRING, Scope.EXTENSION, in_lists=True),
    Attribute("lifecycle_stage", _STRING, in_lists=True),
    Attribute("creation_timestamp", _NUMBER),
    Attribute("last_updated_timestamp", _NUMBER),
)

ATTRIBUTES: dict[str, tuple[Attribute, ...]] = {
    "runs": RUN_ATTRIBUTES,
    "experiments": EXPERIMENT_ATTRIBUTES,
    "registered_models": REGISTERED_MODEL_ATTRIBUTES,
    "model_versions": MODEL_VERSION_ATTRIBUTES,
    "logged_models": LOGGED_MODEL_ATTRIBUTES,
}
"""The attributes of each entity, by the entity's name (``runs``, ``experiments``, ``registered_models``,
``model_versions``, ``logged_models``)."""

ATTRIBUTE_ALIASES: dict[str, str] = {
    alias: attribute.name
    for attributes in ATTRIBUTES.values()
    for attribute in attributes
    for alias in attribute.aliases + attribute.filter_aliases
}
"""Every alias spelling and the attribute it stands for, as the parser resolves them."""

DATASET_KEYS = frozenset({"name", "digest", "context"})
"""The keys after ``datasets.`` (``SearchUtils.DATASET_ATTRIBUTES``)."""


def _names(attributes: tuple[Attribute, ...], kind: ValueKind) -> frozenset[str]:
    return frozenset(a.name for a in attributes if a.kind is kind)


# Every attribute the evaluators read, whichever profiles search by it.
RUN_STRING_ATTRIBUTES = _names(RUN_ATTRIBUTES, _STRING)
RUN_NUMERIC_ATTRIBUTES = _names(RUN_ATTRIBUTES, _NUMBER)
EXPERIMENT_STRING_ATTRIBUTES = _names(EXPERIMENT_ATTRIBUTES, _STRING)
EXPERIMENT_NUMERIC_ATTRIBUTES = _names(EXPERIMENT_ATTRIBUTES, _NUMBER)
ENTITY_NUMERIC_ATTRIBUTES = {entity: _names(attributes, _NUMBER) for entity, attributes in ATTRIBUTES.items()}
ENTITY_STRING_ATTRIBUTES = {entity: _names(attributes, _STRING) for entity, attributes in ATTRIBUTES.items()}
