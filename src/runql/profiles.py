"""What each backend accepts: one plain record per (profile, entity), and the matrix drawn from them.

A profile is data, not behaviour: ``validate.py`` reads these fields, ``docs/profiles.md`` is generated
from them (``runql profiles > docs/profiles.md``), and a test keeps the two equal.

Three profiles ship, each for ``runs`` and ``experiments``:

* ``mlflow``: what MLflow 3.18 accepts (the field comments cite the constants of MLflow's
  ``mlflow/utils/search_utils.py`` and the messages it refuses with).
* ``azureml``: what Azure Machine Learning's MLflow endpoint accepts, from its document "Query & compare
  experiments and runs with MLflow" (its support matrix rows are quoted as "matrix: ..."), its prose,
  and a few rules observed in the field (marked *observed*, with the public issue that reports them).
* ``extended``: everything runql can answer in memory: OR, NOT, parentheses, IN and IS NULL on every
  key, and everything the other two accept.

Derive your own profile with :func:`dataclasses.replace`::

    from dataclasses import replace
    from runql import Op, get_profile, validate

    strict = replace(get_profile("mlflow"), name="no-like", param_ops=frozenset({Op.EQ, Op.NE}))
    validate("params.model LIKE 'lr%'", strict)    # raises UnsupportedQueryError
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from .ast import ATTRIBUTE_ALIASES, ENTITY_ALIASES, Entity, Op

__all__ = [
    "ENTITIES",
    "MLFLOW_STATUSES",
    "PROFILES",
    "KeyKind",
    "Profile",
    "get_profile",
    "matrix_markdown",
]

ENTITIES = ("runs", "experiments")

# The run statuses MLflow stores (RunStatus), in upper case; values are not validated by MLflow.
MLFLOW_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


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
        return _PLURALS[self]


_PLURALS = {
    KeyKind.METRIC: "metrics",
    KeyKind.PARAM: "params",
    KeyKind.TAG: "tags",
    KeyKind.STRING_ATTRIBUTE: "string attributes",
    KeyKind.NUMERIC_ATTRIBUTE: "numeric attributes",
    KeyKind.DATASET: "datasets",
}

ALL_KINDS = frozenset(KeyKind)


@dataclass(frozen=True)
class Profile:
    """What one backend accepts for one entity (``runs`` or ``experiments``).

    Every field is plain data; derive a profile with ``dataclasses.replace(profile, field=...)``.
    """

    name: str
    """The profile's name: ``mlflow``, ``azureml``, ``extended`` or your own."""

    entity: str
    """``runs`` (``search_runs``) or ``experiments`` (``search_experiments``)."""

    title: str
    """How messages name the backend: "MLflow does not support ...", "Azure ML cannot ..."."""

    prefixes: frozenset[str]
    """Spellings accepted before the dot of a key (``metrics.``, ``attr.``...). MLflow runs: every alias
    of the five types; experiments: ``attribute(s)``, ``tag(s)`` (``_VALID_IDENTIFIERS`` in MLflow)."""

    filter_kinds: frozenset[Entity]
    """Entity types a filter may name. Matrix: "Filtering runs by attributes / metrics / parameters / tags";
    datasets: MLflow yes, Azure ML no (*observed*)."""

    string_attributes: frozenset[str]
    """Attribute keys holding text, usable in filters (``RunInfo.get_searchable_attributes()``: run_id,
    run_name, status, user_id, artifact_uri; experiments: name, experiment_id)."""

    numeric_attributes: frozenset[str]
    """Attribute keys holding milliseconds, usable in filters: start_time, end_time (experiments:
    creation_time, last_update_time); Azure ML adds ``duration`` (prose: "attributes.duration")."""

    duration_attributes: frozenset[str]
    """Which numeric attributes are durations rather than times since the epoch (Azure ML prose:
    duration is end_time - start_time, in milliseconds); the rest are timestamps."""

    attribute_renames: tuple[tuple[str, str], ...]
    """(spelling, attribute) pairs rewritten before evaluation. Azure ML's examples filter runs by
    ``attributes.creation_time``, which is MLflow's ``start_time`` (prose)."""

    dataset_keys: frozenset[str]
    """Keys after ``datasets.``: name, digest, context (``SearchUtils.DATASET_ATTRIBUTES``)."""

    allow_or: bool
    """Matrix: "Filtering runs with comparators OR": no in MLflow and Azure ML."""

    allow_not: bool
    """``NOT <condition>``: MLflow refuses it ("Invalid clause(s) in filter string: 'NOT'")."""

    allow_parentheses: bool
    """Parenthesised groups: MLflow refuses them ("Invalid clause(s) in filter string")."""

    metric_ops: frozenset[Op]
    """Matrix: "numeric comparators (metrics) including =, !=, >, >=, <, <=": yes in both."""

    param_ops: frozenset[Op]
    """MLflow: = != LIKE ILIKE (``VALID_PARAM_COMPARATORS``). Azure ML prose: "Only operators =, like,
    and != are supported for filtering parameters", stricter than the matrix's LIKE/ILIKE row, so the
    prose wins."""

    tag_ops: frozenset[Op]
    """MLflow: = != LIKE ILIKE (``VALID_TAG_COMPARATORS``). Azure ML matrix footnote 2: "!= for tags not
    supported"."""

    tag_ops_observed_refused: frozenset[Op]
    """Tag comparators accepted, with a warning, because some paths of the backend are reported to
    refuse them. Azure ML: LIKE and ILIKE (*observed*, Azure/azure-sdk-for-python#41453)."""

    string_attribute_ops: frozenset[Op]
    """Matrix: string comparators =, != and LIKE/ILIKE on attributes (MLflow adds IN, see lists)."""

    numeric_attribute_ops: frozenset[Op]
    """MLflow: = != > >= < <= on start_time and end_time (``VALID_NUMERIC_ATTRIBUTE_COMPARATORS``)."""

    dataset_ops: frozenset[Op]
    """MLflow: = != LIKE ILIKE on datasets.name, digest, context (plus IN, see lists)."""

    list_attributes: frozenset[str]
    """Attribute keys accepting ``IN (...)`` and ``NOT IN (...)``: run_id for runs (Azure ML example
    ``attributes.run_id IN (...)``), experiment_id for experiments (``LIST_SUPPORTED_KEYS``)."""

    list_kinds: frozenset[KeyKind]
    """Kinds whose every key accepts IN and NOT IN: datasets in MLflow runs; every kind in extended."""

    null_kinds: frozenset[KeyKind]
    """Kinds accepting IS NULL / IS NOT NULL: params and tags for MLflow runs, tags for experiments
    ("IS NULL / IS NOT NULL is only supported for tags and params"); Azure ML's document has no such
    operator."""

    quoted_numbers: bool
    """Whether a numeric attribute accepts a quoted number (``start_time > '1655703168000'``). Azure ML
    prose: "For the key attributes, values should always be strings"; MLflow refuses them
    ("Expected numeric value type for numeric attribute")."""

    quoted_metric_names: bool
    """Matrix: "Filtering runs by metrics with special characters (escaped)": a metric name in
    backticks or double quotes. MLflow yes, Azure ML no."""

    status_names: tuple[tuple[str, str], ...]
    """(spelling, MLflow status) pairs; when not empty, status values match case-insensitively through
    this table (Azure ML's job status table). When empty, status is an exact, case-sensitive string."""

    order_by_kinds: frozenset[Entity]
    """Entity types order_by may name. Matrix: "Ordering runs by attributes / metrics / parameters /
    tags": all in MLflow, attributes only in Azure ML (footnote 1); datasets parse in MLflow but fail to
    sort; experiments sort by attributes only ("Invalid order_by entity: tag")."""

    order_by_attributes: frozenset[str]
    """Attribute keys order_by may name (``VALID_ORDER_BY_ATTRIBUTE_KEYS``); Azure ML adds ``duration``."""

    order_by_aliases: frozenset[str]
    """Alias spellings accepted in order_by: MLflow takes ``created``/``Created`` but not the
    ``run name`` spellings it accepts in filters (``VALID_ORDER_BY_ATTRIBUTE_KEYS``)."""

    rename_experiments: bool
    """Matrix: "Renaming experiments": MLflow yes, Azure ML no. Meaningful for the experiments record."""

    def kind_of(self, entity: Entity, name: str) -> KeyKind | None:
        """The kind of ``entity.name`` in this profile; ``None`` for an attribute it does not know."""
        if entity is Entity.ATTRIBUTE:
            name = dict(self.attribute_renames).get(name, name)
            if name in self.string_attributes:
                return KeyKind.STRING_ATTRIBUTE
            if name in self.numeric_attributes:
                return KeyKind.NUMERIC_ATTRIBUTE
            return None
        return _ENTITY_KINDS[entity]

    def ops_for(self, kind: KeyKind) -> frozenset[Op]:
        """The comparators ``kind`` accepts (``IN`` and ``IS NULL`` are governed by their own fields)."""
        return {
            KeyKind.METRIC: self.metric_ops,
            KeyKind.PARAM: self.param_ops,
            KeyKind.TAG: self.tag_ops,
            KeyKind.STRING_ATTRIBUTE: self.string_attribute_ops,
            KeyKind.NUMERIC_ATTRIBUTE: self.numeric_attribute_ops,
            KeyKind.DATASET: self.dataset_ops,
        }[kind]

    def accepts_list(self, kind: KeyKind, name: str) -> bool:
        return kind in self.list_kinds or (
            kind in (KeyKind.STRING_ATTRIBUTE, KeyKind.NUMERIC_ATTRIBUTE) and name in self.list_attributes
        )

    @property
    def attributes(self) -> frozenset[str]:
        """Every attribute key usable in a filter, renamed spellings included."""
        return self.string_attributes | self.numeric_attributes | {a for a, _ in self.attribute_renames}

    def status_for(self, value: str) -> str | None:
        """The MLflow status ``value`` names under ``status_names``, or ``None``."""
        folded = value.casefold()
        for spelling, status in self.status_names:
            if spelling.casefold() == folded:
                return status
        return None


_ENTITY_KINDS = {
    Entity.METRIC: KeyKind.METRIC,
    Entity.PARAM: KeyKind.PARAM,
    Entity.TAG: KeyKind.TAG,
    Entity.DATASET: KeyKind.DATASET,
}

_NUMERIC = frozenset({Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE})
_STRING = frozenset({Op.EQ, Op.NE, Op.LIKE, Op.ILIKE})
_STRING_EXTENDED = _STRING | {Op.NOT_LIKE, Op.NOT_ILIKE}

_RUN_STRING_ATTRIBUTES = frozenset({"run_id", "run_name", "status", "user_id", "artifact_uri"})
_RUN_TIMES = frozenset({"start_time", "end_time"})
_EXPERIMENT_STRING_ATTRIBUTES = frozenset({"name", "experiment_id"})
_EXPERIMENT_TIMES = frozenset({"creation_time", "last_update_time"})

# Azure ML's job status table, plus MLflow's own names (the document writes them in title case).
_AZURE_STATUS_NAMES = (
    ("Not started", "SCHEDULED"),
    ("Queue", "SCHEDULED"),
    ("Preparing", "SCHEDULED"),
    ("Scheduled", "SCHEDULED"),
    ("Running", "RUNNING"),
    ("Completed", "FINISHED"),
    ("Finished", "FINISHED"),
    ("Failed", "FAILED"),
    ("Canceled", "KILLED"),
    ("Killed", "KILLED"),
)

MLFLOW_RUNS = Profile(
    name="mlflow",
    entity="runs",
    title="MLflow",
    prefixes=frozenset(ENTITY_ALIASES),
    filter_kinds=frozenset(Entity),
    string_attributes=_RUN_STRING_ATTRIBUTES,
    numeric_attributes=_RUN_TIMES,
    duration_attributes=frozenset(),
    attribute_renames=(),
    dataset_keys=frozenset({"name", "digest", "context"}),
    allow_or=False,
    allow_not=False,
    allow_parentheses=False,
    metric_ops=_NUMERIC,
    param_ops=_STRING,
    tag_ops=_STRING,
    tag_ops_observed_refused=frozenset(),
    string_attribute_ops=_STRING,
    numeric_attribute_ops=_NUMERIC,
    dataset_ops=_STRING,
    list_attributes=frozenset({"run_id"}),
    list_kinds=frozenset({KeyKind.DATASET}),
    null_kinds=frozenset({KeyKind.PARAM, KeyKind.TAG}),
    quoted_numbers=False,
    quoted_metric_names=True,
    status_names=(),
    order_by_kinds=frozenset({Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.ATTRIBUTE}),
    order_by_attributes=_RUN_STRING_ATTRIBUTES | _RUN_TIMES,
    order_by_aliases=frozenset({"created", "Created"}),
    rename_experiments=True,
)

MLFLOW_EXPERIMENTS = Profile(
    name="mlflow",
    entity="experiments",
    title="MLflow",
    prefixes=frozenset({"attribute", "attributes", "tag", "tags"}),
    filter_kinds=frozenset({Entity.ATTRIBUTE, Entity.TAG}),
    string_attributes=_EXPERIMENT_STRING_ATTRIBUTES,
    numeric_attributes=_EXPERIMENT_TIMES,
    duration_attributes=frozenset(),
    attribute_renames=(),
    dataset_keys=frozenset(),
    allow_or=False,
    allow_not=False,
    allow_parentheses=False,
    metric_ops=frozenset(),
    param_ops=frozenset(),
    tag_ops=_STRING,
    tag_ops_observed_refused=frozenset(),
    string_attribute_ops=_STRING,
    numeric_attribute_ops=_NUMERIC,
    dataset_ops=frozenset(),
    list_attributes=frozenset({"experiment_id"}),
    list_kinds=frozenset(),
    null_kinds=frozenset({KeyKind.TAG}),
    quoted_numbers=False,
    quoted_metric_names=True,
    status_names=(),
    order_by_kinds=frozenset({Entity.ATTRIBUTE}),
    order_by_attributes=_EXPERIMENT_STRING_ATTRIBUTES | _EXPERIMENT_TIMES,
    order_by_aliases=frozenset(),
    rename_experiments=True,
)

AZUREML_RUNS = Profile(
    name="azureml",
    entity="runs",
    title="Azure ML",
    prefixes=MLFLOW_RUNS.prefixes,
    filter_kinds=frozenset({Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.ATTRIBUTE}),
    string_attributes=_RUN_STRING_ATTRIBUTES,
    numeric_attributes=_RUN_TIMES | {"duration"},
    duration_attributes=frozenset({"duration"}),
    attribute_renames=(("creation_time", "start_time"),),
    dataset_keys=frozenset(),
    allow_or=False,
    allow_not=False,
    allow_parentheses=False,
    metric_ops=_NUMERIC,
    param_ops=frozenset({Op.EQ, Op.NE, Op.LIKE}),
    tag_ops=frozenset({Op.EQ, Op.LIKE, Op.ILIKE}),
    tag_ops_observed_refused=frozenset({Op.LIKE, Op.ILIKE}),
    string_attribute_ops=_STRING,
    numeric_attribute_ops=_NUMERIC,
    dataset_ops=frozenset(),
    list_attributes=frozenset({"run_id"}),
    list_kinds=frozenset(),
    null_kinds=frozenset(),
    quoted_numbers=True,
    quoted_metric_names=False,
    status_names=_AZURE_STATUS_NAMES,
    order_by_kinds=frozenset({Entity.ATTRIBUTE}),
    order_by_attributes=_RUN_STRING_ATTRIBUTES | _RUN_TIMES | {"duration"},
    order_by_aliases=frozenset({"created", "Created"}),
    rename_experiments=False,
)

# The document's experiment examples (experiment_id IN, creation_time >, tags =) are MLflow's; the
# run rules that come from Azure ML's server (no != on tags, quoted numbers, no IS NULL) apply alike.
AZUREML_EXPERIMENTS = Profile(
    name="azureml",
    entity="experiments",
    title="Azure ML",
    prefixes=MLFLOW_EXPERIMENTS.prefixes,
    filter_kinds=MLFLOW_EXPERIMENTS.filter_kinds,
    string_attributes=_EXPERIMENT_STRING_ATTRIBUTES,
    numeric_attributes=_EXPERIMENT_TIMES,
    duration_attributes=frozenset(),
    attribute_renames=(),
    dataset_keys=frozenset(),
    allow_or=False,
    allow_not=False,
    allow_parentheses=False,
    metric_ops=frozenset(),
    param_ops=frozenset(),
    tag_ops=AZUREML_RUNS.tag_ops,
    tag_ops_observed_refused=AZUREML_RUNS.tag_ops_observed_refused,
    string_attribute_ops=_STRING,
    numeric_attribute_ops=_NUMERIC,
    dataset_ops=frozenset(),
    list_attributes=frozenset({"experiment_id"}),
    list_kinds=frozenset(),
    null_kinds=frozenset(),
    quoted_numbers=True,
    quoted_metric_names=False,
    status_names=(),
    order_by_kinds=frozenset({Entity.ATTRIBUTE}),
    order_by_attributes=MLFLOW_EXPERIMENTS.order_by_attributes,
    order_by_aliases=frozenset(),
    rename_experiments=False,
)

EXTENDED_RUNS = Profile(
    name="extended",
    entity="runs",
    title="the extended profile",
    prefixes=MLFLOW_RUNS.prefixes,
    filter_kinds=frozenset(Entity),
    string_attributes=_RUN_STRING_ATTRIBUTES,
    numeric_attributes=_RUN_TIMES | {"duration"},
    duration_attributes=frozenset({"duration"}),
    attribute_renames=(("creation_time", "start_time"),),
    dataset_keys=MLFLOW_RUNS.dataset_keys,
    allow_or=True,
    allow_not=True,
    allow_parentheses=True,
    metric_ops=_NUMERIC,
    param_ops=_STRING_EXTENDED,
    tag_ops=_STRING_EXTENDED,
    tag_ops_observed_refused=frozenset(),
    string_attribute_ops=_STRING_EXTENDED,
    numeric_attribute_ops=_NUMERIC,
    dataset_ops=_STRING_EXTENDED,
    list_attributes=frozenset(),
    list_kinds=ALL_KINDS,
    null_kinds=ALL_KINDS,
    quoted_numbers=True,
    quoted_metric_names=True,
    status_names=(),
    order_by_kinds=MLFLOW_RUNS.order_by_kinds,
    order_by_attributes=AZUREML_RUNS.order_by_attributes,
    order_by_aliases=frozenset(ATTRIBUTE_ALIASES),
    rename_experiments=True,
)

EXTENDED_EXPERIMENTS = Profile(
    name="extended",
    entity="experiments",
    title="the extended profile",
    prefixes=MLFLOW_EXPERIMENTS.prefixes,
    filter_kinds=MLFLOW_EXPERIMENTS.filter_kinds,
    string_attributes=_EXPERIMENT_STRING_ATTRIBUTES,
    numeric_attributes=_EXPERIMENT_TIMES,
    duration_attributes=frozenset(),
    attribute_renames=(),
    dataset_keys=frozenset(),
    allow_or=True,
    allow_not=True,
    allow_parentheses=True,
    metric_ops=frozenset(),
    param_ops=frozenset(),
    tag_ops=_STRING_EXTENDED,
    tag_ops_observed_refused=frozenset(),
    string_attribute_ops=_STRING_EXTENDED,
    numeric_attribute_ops=_NUMERIC,
    dataset_ops=frozenset(),
    list_attributes=frozenset(),
    list_kinds=frozenset({KeyKind.TAG, KeyKind.STRING_ATTRIBUTE, KeyKind.NUMERIC_ATTRIBUTE}),
    null_kinds=frozenset({KeyKind.TAG, KeyKind.STRING_ATTRIBUTE, KeyKind.NUMERIC_ATTRIBUTE}),
    quoted_numbers=True,
    quoted_metric_names=True,
    status_names=(),
    order_by_kinds=frozenset({Entity.ATTRIBUTE}),
    order_by_attributes=MLFLOW_EXPERIMENTS.order_by_attributes,
    order_by_aliases=frozenset(),
    rename_experiments=True,
)

PROFILES: dict[tuple[str, str], Profile] = {
    (p.name, p.entity): p
    for p in (
        MLFLOW_RUNS,
        MLFLOW_EXPERIMENTS,
        AZUREML_RUNS,
        AZUREML_EXPERIMENTS,
        EXTENDED_RUNS,
        EXTENDED_EXPERIMENTS,
    )
}
"""The shipped profiles by (name, entity)."""

PROFILE_NAMES = ("mlflow", "azureml", "extended")


def get_profile(name: str, entity: str = "runs") -> Profile:
    """The shipped profile ``name`` for ``entity`` (``runs`` or ``experiments``)."""
    if entity not in ENTITIES:
        raise ValueError(f"unknown entity {entity!r}: expected one of {', '.join(ENTITIES)}")
    profile = PROFILES.get((name, entity))
    if profile is None:
        close = difflib.get_close_matches(name, PROFILE_NAMES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown profile {name!r}: expected one of {', '.join(PROFILE_NAMES)}{hint}")
    return profile


# -- the capability matrix ---------------------------------------------------------------------

Cell = Callable[[Profile, Profile], str]
_KIND_NAMES = {
    KeyKind.METRIC: "metrics",
    KeyKind.PARAM: "params",
    KeyKind.TAG: "tags",
    KeyKind.STRING_ATTRIBUTE: "attributes",
    KeyKind.NUMERIC_ATTRIBUTE: "attributes",
    KeyKind.DATASET: "datasets",
}


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _ops_cell(kinds: Iterable[KeyKind], ops: Iterable[Op]) -> Cell:
    """'yes', 'no', or 'yes, except ...' for the comparators ``ops`` on ``kinds``."""

    def cell(runs: Profile, _: Profile) -> str:
        missing: list[str] = []
        warned: list[str] = []
        total = 0
        for op in ops:
            for kind in kinds:
                total += 1
                text = f"`{op.value}` on {_KIND_NAMES[kind]}"
                if op not in runs.ops_for(kind):
                    missing.append(text)
                elif kind is KeyKind.TAG and op in runs.tag_ops_observed_refused:
                    warned.append(text)
        if len(missing) == total:
            return "no"
        parts = ["yes"]
        if missing:
            parts.append("except " + ", ".join(dict.fromkeys(missing)))
        if warned:
            parts.append("warns on " + ", ".join(warned) + " (observed)")
        return ", ".join(parts)

    return cell


def _kinds_text(kinds: frozenset[KeyKind], order: Iterable[KeyKind]) -> str:
    names = [_KIND_NAMES[k] for k in order if k in kinds]
    return ", ".join(dict.fromkeys(names)) or "no"


def _lists_cell(profile: Profile, kinds: Iterable[KeyKind]) -> str:
    kinds = tuple(kinds)
    if all(k in profile.list_kinds for k in kinds):
        return "every key"
    keys = sorted(profile.list_attributes) + [f"{_KIND_NAMES[k]}.*" for k in kinds if k in profile.list_kinds]
    return ", ".join(keys) or "no"


_RUN_KINDS = (KeyKind.METRIC, KeyKind.PARAM, KeyKind.TAG, KeyKind.STRING_ATTRIBUTE, KeyKind.DATASET)
_EXP_KINDS = (KeyKind.TAG, KeyKind.STRING_ATTRIBUTE, KeyKind.NUMERIC_ATTRIBUTE)
_STRING_KINDS = (KeyKind.PARAM, KeyKind.TAG, KeyKind.STRING_ATTRIBUTE)

# The seed document's support matrix, row for row.
DOCUMENT_ROWS: tuple[tuple[str, Cell], ...] = (
    ("Ordering runs by attributes", lambda r, _: _yes(Entity.ATTRIBUTE in r.order_by_kinds)),
    ("Ordering runs by metrics", lambda r, _: _yes(Entity.METRIC in r.order_by_kinds)),
    ("Ordering runs by parameters", lambda r, _: _yes(Entity.PARAM in r.order_by_kinds)),
    ("Ordering runs by tags", lambda r, _: _yes(Entity.TAG in r.order_by_kinds)),
    ("Filtering runs by attributes", lambda r, _: _yes(Entity.ATTRIBUTE in r.filter_kinds)),
    ("Filtering runs by metrics", lambda r, _: _yes(Entity.METRIC in r.filter_kinds)),
    (
        "Filtering runs by metrics with special characters (escaped)",
        lambda r, _: _yes(Entity.METRIC in r.filter_kinds and r.quoted_metric_names),
    ),
    ("Filtering runs by parameters", lambda r, _: _yes(Entity.PARAM in r.filter_kinds)),
    ("Filtering runs by tags", lambda r, _: _yes(Entity.TAG in r.filter_kinds)),
    (
        "Filtering runs with numeric comparators (metrics) `=`, `!=`, `>`, `>=`, `<`, `<=`",
        _ops_cell([KeyKind.METRIC], sorted(_NUMERIC, key=lambda o: o.value)),
    ),
    (
        "Filtering runs with string comparators (params, tags, attributes): `=` and `!=`",
        _ops_cell(_STRING_KINDS, [Op.EQ, Op.NE]),
    ),
    (
        "Filtering runs with string comparators (params, tags, attributes): `LIKE`/`ILIKE`",
        _ops_cell(_STRING_KINDS, [Op.LIKE, Op.ILIKE]),
    ),
    ("Filtering runs with comparators `AND`", lambda r, _: "yes"),
    ("Filtering runs with comparators `OR`", lambda r, _: _yes(r.allow_or)),
    ("Renaming experiments", lambda _, e: _yes(e.rename_experiments)),
)

# What runql adds: the rules from the document's prose, the observed ones, and the extended features.
RUNQL_ROWS: tuple[tuple[str, Cell], ...] = (
    ("Filtering runs with `NOT`", lambda r, _: _yes(r.allow_not)),
    ("Filtering runs with parentheses", lambda r, _: _yes(r.allow_parentheses)),
    ("Comparators on params", lambda r, _: " ".join(f"`{o.value}`" for o in _sorted_ops(r.param_ops))),
    ("Comparators on tags", lambda r, _: " ".join(f"`{o.value}`" for o in _sorted_ops(r.tag_ops))),
    (
        "`NOT LIKE` / `NOT ILIKE` (params, tags, attributes)",
        _ops_cell(_STRING_KINDS, [Op.NOT_LIKE, Op.NOT_ILIKE]),
    ),
    ("`IN` / `NOT IN` (runs)", lambda r, _: _lists_cell(r, _RUN_KINDS)),
    ("`IS NULL` / `IS NOT NULL` (runs)", lambda r, _: _kinds_text(r.null_kinds, _RUN_KINDS)),
    ("Filtering runs by datasets", lambda r, _: _yes(Entity.DATASET in r.filter_kinds)),
    ("Ordering runs by datasets", lambda r, _: _yes(Entity.DATASET in r.order_by_kinds)),
    ("`attributes.duration` (milliseconds)", lambda r, _: _yes("duration" in r.numeric_attributes)),
    (
        "`attributes.creation_time` (means `start_time`)",
        lambda r, _: _yes(("creation_time", "start_time") in r.attribute_renames),
    ),
    (
        "Quoted numbers on time attributes (`start_time > '1655703168000'`)",
        lambda r, _: _yes(r.quoted_numbers),
    ),
    (
        "Status names case-insensitive, Azure ML job statuses accepted",
        lambda r, _: _yes(bool(r.status_names)),
    ),
    (
        "`run name` aliases in order_by",
        lambda r, _: _yes(bool(r.order_by_aliases & {"run name", "Run name", "Run Name"})),
    ),
    ("`IN` / `NOT IN` (experiments)", lambda _, e: _lists_cell(e, _EXP_KINDS)),
    ("`IS NULL` / `IS NOT NULL` (experiments)", lambda _, e: _kinds_text(e.null_kinds, _EXP_KINDS)),
    ("`!=` on experiment tags", lambda _, e: _yes(Op.NE in e.tag_ops)),
    ("Ordering experiments by tags", lambda _, e: _yes(Entity.TAG in e.order_by_kinds)),
    (
        "`OR` / `NOT` / parentheses (experiments)",
        lambda _, e: _yes(e.allow_or and e.allow_not and e.allow_parentheses),
    ),
)

_OP_ORDER = list(Op)


def _sorted_ops(ops: Iterable[Op]) -> list[Op]:
    return sorted(ops, key=_OP_ORDER.index)


_HEADER = """\
# Profiles

<!-- Generated from src/runql/profiles.py by `runql profiles > docs/profiles.md`: edit the data -->

A profile says what a backend accepts. `runql.check(query, profile)` lists every problem and
`runql.validate(query, profile)` raises `UnsupportedQueryError` with all of them. Three profiles ship,
each for `runs` and `experiments`: `mlflow` (MLflow 3.18), `azureml` (Azure Machine Learning's MLflow
endpoint, from its document "Query & compare experiments and runs with MLflow" and rules observed in the
field) and `extended` (everything runql answers in memory).

Derive your own with `dataclasses.replace`:

```python
from dataclasses import replace
from runql import Op, get_profile, validate

strict = replace(get_profile("mlflow"), name="no-like", param_ops=frozenset({Op.EQ, Op.NE}))
validate("params.model LIKE 'lr%'", strict)   # raises UnsupportedQueryError
```
"""

_NOTES = """\
Notes:

- Azure ML cannot order by metrics, params or tags: sort the DataFrame instead,
  `df.sort_values("metrics.auc", ascending=False)`.
- Azure ML filters params with `=`, `!=` and `LIKE` only (its prose is stricter than its matrix).
- *Observed*: some Azure ML paths refuse `LIKE` on tags (Azure/azure-sdk-for-python#41453); the `azureml`
  profile accepts it with a warning. Filtering by `datasets.*` is refused.
- Azure ML status values are matched case-insensitively and may use its job status names: `Failed`,
  `Completed`, `Canceled`, `Queue`, `Preparing`, `Not started`, `Running` (mapped to `FAILED`, `FINISHED`,
  `KILLED`, `SCHEDULED`, `RUNNING`). In `mlflow` and `extended` status is an exact, case-sensitive string.
- Warnings (never refusals): a time literal between 10^8 and 10^11 (as seconds it spans 1973 to 5138; as
  milliseconds, January 1970 to March 1973); a duration below 1000 ms; a status value that matches no
  status; a tag comparator some backend paths refuse; a repeated order_by key.
"""


def _table(title: str, rows: tuple[tuple[str, Cell], ...]) -> list[str]:
    lines = [f"## {title}", "", "| Feature | mlflow | azureml | extended |", "| --- | --- | --- | --- |"]
    for label, cell in rows:
        cells = [cell(get_profile(n, "runs"), get_profile(n, "experiments")) for n in PROFILE_NAMES]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _keys_section() -> list[str]:
    lines = [
        "## Keys",
        "",
        "| Profile | Entity | Filter attributes | order_by attributes |",
        "| --- | --- | --- | --- |",
    ]
    for (name, entity), p in PROFILES.items():
        filters = ", ".join(f"`{a}`" for a in sorted(p.attributes))
        orders = ", ".join(
            f"`{a}`" for a in sorted(p.order_by_attributes | {a for a, _ in p.attribute_renames})
        )
        lines.append(f"| {name} | {entity} | {filters} | {orders} |")
    return [*lines, ""]


def matrix_markdown() -> str:
    """The text of ``docs/profiles.md``: the capability matrix generated from the profiles."""
    lines = [
        _HEADER,
        *_table("The support matrix (runs), as the Azure ML document lists it", DOCUMENT_ROWS),
        *_table("What runql adds", RUNQL_ROWS),
        *_keys_section(),
        _NOTES,
    ]
    return "\n".join(lines)
