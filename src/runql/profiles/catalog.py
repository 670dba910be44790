"""What each backend accepts: one plain record per (profile, entity).

A profile is data, not behaviour: ``validate.py`` reads these fields, ``docs/profiles.md`` is generated
from them by :mod:`runql.profiles.matrix` (``runql profiles > docs/profiles.md``), and a test keeps the two
equal. The ``mlflow`` profile is written out in full; every other profile is its base with the fields
that differ (``dataclasses.replace``), and the attribute fields come from the one attribute schema,
:mod:`runql.language.attributes`.

Three profiles ship, each for ``runs`` and ``experiments``:

* ``mlflow``: what MLflow 3.18 accepts (the field comments cite the constants of MLflow's
  ``mlflow/utils/search_utils.py`` and the messages it refuses with).
* ``azureml``: what Azure Machine Learning's MLflow endpoint accepts, from its document "Query & compare
  experiments and runs with MLflow" (its support matrix rows are quoted as "matrix: ..."), its prose,
  and a few rules observed in the field (marked *observed*, with the public issue that reports them).
* ``extended``: everything runql can answer in memory: OR, NOT, parentheses, IN and IS NULL on every
  key, and everything the other two accept.

and ``mlflow-2.0`` to ``mlflow-3.17``, MLflow's earlier versions: each is the next newer profile less
what its versions had not yet, checked against their own parsers by scripts/mlflow_versions.py.

Derive your own profile with :func:`dataclasses.replace`::

    from dataclasses import replace
    from runql import Op, get_profile, validate

    strict = replace(get_profile("mlflow"), name="no-like", param_ops=frozenset({Op.EQ, Op.NE}))
    validate("params.model LIKE 'lr%'", strict)    # raises UnsupportedQueryError
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any

from runql.language.ast import ENTITY_ALIASES, Entity, Op
from runql.language.attributes import ATTRIBUTE_ALIASES, ATTRIBUTES, DATASET_KEYS, KeyKind, Scope, ValueKind
from runql.profiles.matrix import markdown

__all__ = [
    "ALL_PROFILE_NAMES",
    "ENTITIES",
    "MLFLOW_STATUSES",
    "MLFLOW_VERSION_PROFILES",
    "MLFLOW_VERSION_SINCE",
    "MODEL_ENTITIES",
    "MODEL_PROFILES",
    "PROFILES",
    "PROFILE_NAMES",
    "KeyKind",
    "Profile",
    "get_profile",
    "matrix_markdown",
    "mlflow_profile_for",
]

ENTITIES = ("runs", "experiments")
MODEL_ENTITIES = ("registered_models", "model_versions", "logged_models")
"""The models' entities: the registry's registered models and model versions, and MLflow 3's logged
models. Their profiles are ``mlflow``, ``azureml`` (the registry only) and ``extended``."""

# The run statuses MLflow stores (RunStatus), in upper case; values are not validated by MLflow.
MLFLOW_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class Profile:
    """What one backend accepts for one entity (``runs`` or ``experiments``).

    Every field is plain data; derive a profile with ``dataclasses.replace(profile, field=...)``.
    """

    name: str
    """The profile's name: ``mlflow``, ``azureml``, ``extended``, ``mlflow-X.Y`` or your own."""

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

    filter_aliases: frozenset[str]
    """Alias spellings accepted in filters: MLflow takes ``created``/``Created`` (``start_time``) and
    ``run name``/``Run name``/``Run Name`` (``run_name``) since 2.1; MLflow 2.0 takes none."""

    rename_experiments: bool
    """Matrix: "Renaming experiments": MLflow yes, Azure ML no. Meaningful for the experiments record."""

    dates: bool = False
    """Dates for time attributes (``attributes.start_time >= '2026-11-01'``, an ISO 8601 datetime with an
    optional zone, UTC without one, or ``'now-7d'``), lowered to milliseconds since the epoch:
    runql's extension (docs/syntax.md). MLflow and Azure ML compare times with milliseconds only."""

    metric_histories: bool = False
    """Functions of a metric's whole history in filters and order_by (``min(metrics.loss) < 0.1``,
    ``max``, ``avg``, ``count``, ``first``, ``last``, ``at_step(metrics.loss, 10)``): runql's extension
    for runs (docs/syntax.md). MLflow and Azure ML search only a metric's latest value."""

    case_folding: str = "unicode"
    """How the backend's ILIKE folds case: ``"unicode"``, every letter Python's ``re.IGNORECASE`` folds
    (runql's engines, MLflow's in-memory search), or ``"ascii"``, ASCII letters only. An MLflow server
    answers with its SQL store, whose ILIKE is ``lower(value) LIKE lower(pattern)``: SQLite's
    ``lower()``, and PostgreSQL's in the C locale, fold ASCII letters only, so there ``run_name ILIKE
    'RÉSUMÉ%'`` finds no ``résumé``. The planner sends an ``"ascii"`` target an ILIKE only when both
    foldings read its pattern alike (:mod:`runql.engines.planner`)."""

    whole_attributes: frozenset[str] = frozenset()
    """String attributes compared whole only (``=``, ``!=`` and lists where they are accepted): LIKE and
    ILIKE on them are refused. MLflow's SQL store refuses a pattern on an experiment's ``experiment_id``
    ("Invalid comparator for experiment_id: LIKE"), which its in-memory search takes."""

    database_patterns: bool = False
    """Whether a SQL store (``runql.connect`` on a database, the ``runql+`` server plugin) hands LIKE and
    ILIKE to the database as MLflow's SQL store does, so they answer as MLflow answers on that database:
    there ``%`` and ``_`` cross newlines, SQLite's ILIKE (``lower(value) LIKE lower(pattern)``) folds ASCII
    letters only, and PostgreSQL reads a backslash in the pattern as an escape. Otherwise a pattern means
    what it means in MLflow's in-memory search, on every database (runql's one meaning, every other
    engine's). Only ``mlflow`` (and its earlier versions) sets it: its reference on a database is MLflow's
    SQL store there."""

    whole_times: bool = False
    """Whether numeric attributes compare with whole numbers only: MLflow before 3.17 reads the value
    of a run's time with ``int()`` and refuses ``start_time >= 1.5`` or ``1e3`` (an experiment's times
    take fractions in every version)."""

    plain_lists: bool = False
    """Whether an IN list must be single-quoted strings as MLflow before 3.0 reads it (sqlparse's
    grouping): no leading space, no double quotes or string prefixes, no newline; a list of one item is
    exactly ``('x')``, so ``('a',)`` and ``( 'a')`` are refused. MLflow 3.0 reads the list with
    ``ast.literal_eval``."""

    # The size limits: what a query may cost is bounded before any row is read (docs/security.md).
    # MLflow refuses a filter past 10,000 sqlparse tokens (whitespace included), about 1,250 clauses
    # or 5,000 list items at the most; the defaults are above that, so every profile accepts what
    # MLflow accepts.

    max_filter_length: int = 100_000
    """The longest filter_string, in characters."""

    max_clauses: int = 2_000
    """The most conditions (comparisons, IN lists, IS NULL tests) in one filter."""

    duplicate_order_by: bool = True
    """Whether order_by may name a key twice (the first wins, with a warning): MLflow's registry stores
    refuse it ("`order_by` contains duplicate fields")."""

    order_by_prefixes: bool = True
    """Whether an attribute in order_by may carry a prefix (``attribute.name``): MLflow's SQL registry
    store compares a registered model's order_by key as written, so there only the bare name is known;
    its logged-model search takes a bare attribute or ``metrics.<name>``."""

    bare_attributes: frozenset[str] = frozenset()
    """Attribute spellings a filter may write only without a prefix. MLflow's SQL store resolves a logged
    model's ``creation_timestamp``, ``creation_time`` and ``last_updated_timestamp`` to their columns only
    when bare; after ``attributes.`` it fails on them ("SqlLoggedModel has no attribute")."""

    single_quoted_values: bool = False
    """Whether values and quoted key names must be written as MLflow's SQL store reads a logged model's
    filter: it strips single quotes only, so a double-quoted value (``name = "m"``) or a quoted key
    keeps its quotes and matches nothing. Such a query is refused rather than answered empty."""

    max_in_items: int = 10_000
    """The most items in one IN or NOT IN list."""

    max_order_by: int = 100
    """The most order_by clauses."""

    @property
    def noun(self) -> str:
        """What the entity's rows are called in messages: runs, experiments, registered models..."""
        return self.entity.replace("_", " ")

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
        """Whether ``IN`` and ``NOT IN`` lists work on the key ``name`` of ``kind``: every key of a kind in
        ``list_kinds``, an attribute only when it is in ``list_attributes``."""
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


# -- the attribute fields, drawn from the attribute schema (runql.language.attributes) -------------------


def _searched(entity: str, kind: ValueKind, extensions: bool) -> frozenset[str]:
    return frozenset(a.name for a in ATTRIBUTES[entity] if a.kind is kind and a.searched(extensions))


def _with_attributes(base: Profile, extensions: bool) -> Profile:
    """``base`` with the attribute fields of its entity: MLflow's attributes, and with ``extensions``
    those the profiles beyond MLflow add (``duration``, ``creation_time`` for runs)."""
    attributes = ATTRIBUTES[base.entity]
    strings = _searched(base.entity, ValueKind.STRING, extensions)
    numbers = _searched(base.entity, ValueKind.NUMBER, extensions)
    return replace(
        base,
        string_attributes=strings,
        numeric_attributes=numbers,
        duration_attributes=frozenset(a.name for a in attributes if a.duration and a.searched(extensions)),
        attribute_renames=tuple(
            (alias, a.name) for a in attributes if extensions for alias in a.extension_aliases
        ),
        list_attributes=frozenset(a.name for a in attributes if a.in_lists),
        order_by_attributes=strings | numbers,
        order_by_aliases=frozenset(alias for a in attributes for alias in a.aliases),
        filter_aliases=frozenset(alias for a in attributes for alias in a.aliases + a.filter_aliases),
    )


# -- mlflow: the base every other profile differs from -----------------------------------------

MLFLOW_RUNS = _with_attributes(
    Profile(
        name="mlflow",
        entity="runs",
        title="MLflow",
        prefixes=frozenset(ENTITY_ALIASES),
        filter_kinds=frozenset(Entity),
        # The attribute fields (these, list_attributes and order_by_*) are filled in by _with_attributes.
        string_attributes=frozenset(),
        numeric_attributes=frozenset(),
        duration_attributes=frozenset(),
        attribute_renames=(),
        dataset_keys=DATASET_KEYS,
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
        list_attributes=frozenset(),
        list_kinds=frozenset({KeyKind.DATASET}),
        null_kinds=frozenset({KeyKind.PARAM, KeyKind.TAG}),
        quoted_numbers=False,
        quoted_metric_names=True,
        status_names=(),
        order_by_kinds=frozenset({Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.ATTRIBUTE}),
        order_by_attributes=frozenset(),
        order_by_aliases=frozenset(),
        filter_aliases=frozenset(),
        rename_experiments=True,
        # MLflow's server answers with its SQL store (see the field); Azure ML, derived from this
        # profile, documents no folding, and keeps this one: what both foldings read alike.
        case_folding="ascii",
        database_patterns=True,
    ),
    extensions=False,
)

# Experiments have attributes and tags only, sort by attributes only ("Invalid order_by entity: tag").
MLFLOW_EXPERIMENTS = _with_attributes(
    replace(
        MLFLOW_RUNS,
        entity="experiments",
        prefixes=frozenset({"attribute", "attributes", "tag", "tags"}),
        filter_kinds=frozenset({Entity.ATTRIBUTE, Entity.TAG}),
        dataset_keys=frozenset(),
        metric_ops=frozenset(),
        param_ops=frozenset(),
        dataset_ops=frozenset(),
        list_kinds=frozenset(),
        null_kinds=frozenset({KeyKind.TAG}),
        order_by_kinds=frozenset({Entity.ATTRIBUTE}),
        whole_attributes=frozenset({"experiment_id"}),
    ),
    extensions=False,
)


# -- azureml: the rules of Azure ML's server, alike for runs and experiments --------------------


def _azureml(base: Profile) -> Profile:
    # The document's experiment examples (experiment_id IN, creation_time >, tags =) are MLflow's; the
    # rules that come from Azure ML's server (no != on tags, quoted numbers, no IS NULL) apply alike.
    return replace(
        _with_attributes(base, extensions=True),
        name="azureml",
        title="Azure ML",
        tag_ops=frozenset({Op.EQ, Op.LIKE, Op.ILIKE}),
        tag_ops_observed_refused=frozenset({Op.LIKE, Op.ILIKE}),
        null_kinds=frozenset(),
        quoted_numbers=True,
        quoted_metric_names=False,
        rename_experiments=False,
        database_patterns=False,
    )


AZUREML_RUNS = replace(
    _azureml(MLFLOW_RUNS),
    filter_kinds=frozenset({Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.ATTRIBUTE}),
    dataset_keys=frozenset(),
    param_ops=frozenset({Op.EQ, Op.NE, Op.LIKE}),
    dataset_ops=frozenset(),
    list_kinds=frozenset(),
    status_names=_AZURE_STATUS_NAMES,
    order_by_kinds=frozenset({Entity.ATTRIBUTE}),
)

AZUREML_EXPERIMENTS = _azureml(MLFLOW_EXPERIMENTS)


# -- extended: everything runql answers in memory ------------------------------------------------


def _patterns(ops: frozenset[Op]) -> frozenset[Op]:
    """``ops`` with NOT LIKE and NOT ILIKE beside LIKE and ILIKE, and RLIKE and NOT RLIKE wherever
    LIKE is: a regular expression may be searched wherever a LIKE pattern may."""
    added = {Op.LIKE: (Op.NOT_LIKE, Op.RLIKE, Op.NOT_RLIKE), Op.ILIKE: (Op.NOT_ILIKE,)}
    return ops | {more for op in ops for more in added.get(op, ())}


def _extended(base: Profile) -> Profile:
    # Every kind of key the entity has takes IN and IS NULL.
    kinds = frozenset(_ENTITY_KINDS[e] for e in base.filter_kinds if e in _ENTITY_KINDS)
    if Entity.ATTRIBUTE in base.filter_kinds:
        kinds |= {KeyKind.STRING_ATTRIBUTE, KeyKind.NUMERIC_ATTRIBUTE}
    return replace(
        _with_attributes(base, extensions=True),
        whole_attributes=frozenset(),
        name="extended",
        title="the extended profile",
        allow_or=True,
        allow_not=True,
        allow_parentheses=True,
        param_ops=_patterns(base.param_ops),
        tag_ops=_patterns(base.tag_ops),
        string_attribute_ops=_patterns(base.string_attribute_ops),
        dataset_ops=_patterns(base.dataset_ops),
        list_attributes=frozenset(),
        list_kinds=kinds,
        null_kinds=kinds,
        quoted_numbers=True,
        dates=True,
        case_folding="unicode",
        database_patterns=False,
    )


EXTENDED_RUNS = replace(
    _extended(MLFLOW_RUNS), order_by_aliases=frozenset(ATTRIBUTE_ALIASES), metric_histories=True
)
EXTENDED_EXPERIMENTS = _extended(MLFLOW_EXPERIMENTS)


# -- the model registry: registered models and model versions ---------------------------------------
#
# SearchModelUtils and SearchModelVersionUtils, and MLflow's SQL registry store: clauses joined by AND
# only; the prefixes attribute, tag and tags; tags compared with = != LIKE ILIKE and never IS NULL; an IN
# list on name (and run_id for versions). A tag clause needs the tag, != too, as for runs.


def _registry(entity: str, order_by: frozenset[str], quoted_numbers: bool) -> Profile:
    base = replace(
        MLFLOW_EXPERIMENTS,
        entity=entity,
        prefixes=frozenset({"attribute", "tag", "tags"}),
        null_kinds=frozenset(),
        whole_attributes=frozenset(),
        quoted_numbers=quoted_numbers,
        rename_experiments=False,
    )
    attributes = _with_attributes(base, extensions=False)
    return replace(attributes, order_by_attributes=order_by, duplicate_order_by=False)


# The SQL store orders registered models by name and last_updated_timestamp, also spelled timestamp
# (the file store takes creation_timestamp instead of timestamp: docs/compatibility.md).
MLFLOW_REGISTERED_MODELS = replace(
    _registry("registered_models", frozenset({"name", "last_updated_timestamp"}), quoted_numbers=False),
    attribute_renames=(("timestamp", "last_updated_timestamp"),),
    order_by_prefixes=False,
)
# version_number = '2' is read as 2 (the SQL store converts a quoted integer).
# version_number > 1.5 is refused ("Invalid value for numeric attribute").
MLFLOW_MODEL_VERSIONS = replace(
    _registry(
        "model_versions",
        frozenset({"name", "version_number", "creation_timestamp", "last_updated_timestamp"}),
        quoted_numbers=True,
    ),
    whole_times=True,
)


def _azureml_registry(base: Profile) -> Profile:
    # Azure ML's registry searches models and versions by name alone, with = and no LIKE, and no tags
    # (how-to-manage-models-mlflow's matrix); a tag != is refused there (spec/azureml.md, observed). Its
    # prose orders registered models by name, creation_timestamp or last_updated_timestamp.
    orders = base.order_by_attributes
    if base.entity == "registered_models":
        orders |= {"creation_timestamp"}
    return replace(
        _azureml(base),
        filter_kinds=frozenset({Entity.ATTRIBUTE}),
        string_attributes=frozenset({"name"}),
        numeric_attributes=frozenset(),
        string_attribute_ops=frozenset({Op.EQ}),
        tag_ops=frozenset(),
        tag_ops_observed_refused=frozenset(),
        list_attributes=frozenset(),
        order_by_attributes=orders,
        attribute_renames=base.attribute_renames,
        quoted_numbers=False,
    )


def _extended_registry(base: Profile) -> Profile:
    extended = _extended(base)
    orders = extended.order_by_attributes | base.order_by_attributes
    return replace(
        extended,
        order_by_attributes=orders,
        attribute_renames=base.attribute_renames,
        whole_times=False,
        order_by_prefixes=True,
        duplicate_order_by=True,
    )


# MLflow's SQL store's logged-model search (search_logged_model_utils): the prefixes attributes, metrics,
# params and tags, a bare key an attribute; AND only; IN on text keys; metrics and times compared with
# numbers; no IS NULL; order_by by attributes and metrics (MLflow's list of dicts, read into keys).
MLFLOW_LOGGED_MODELS = replace(
    _with_attributes(
        replace(
            MLFLOW_RUNS,
            entity="logged_models",
            prefixes=frozenset({"attributes", "metrics", "params", "tags"}),
            filter_kinds=frozenset({Entity.ATTRIBUTE, Entity.METRIC, Entity.PARAM, Entity.TAG}),
            dataset_keys=frozenset(),
            dataset_ops=frozenset(),
            list_kinds=frozenset({KeyKind.PARAM, KeyKind.TAG}),
            null_kinds=frozenset(),
            order_by_kinds=frozenset({Entity.ATTRIBUTE, Entity.METRIC}),
            rename_experiments=False,
        ),
        extensions=False,
    ),
    attribute_renames=(
        ("creation_time", "creation_timestamp"),
        ("creation_timestamp_ms", "creation_timestamp"),
        ("last_updated_timestamp_ms", "last_updated_timestamp"),
    ),
    # The status sorts by its integer code, as the table stores it; an experiment id is an integer
    # there, which LIKE does not take on PostgreSQL.
    order_by_attributes=frozenset(a.name for a in ATTRIBUTES["logged_models"] if a.scope is not Scope.NONE),
    whole_attributes=frozenset({"experiment_id"}),
    bare_attributes=frozenset({"creation_timestamp", "creation_time", "last_updated_timestamp"}),
    # An order_by entry's field_name is an attribute's bare name or metrics.<name>.
    order_by_prefixes=False,
    single_quoted_values=True,
)

EXTENDED_LOGGED_MODELS = replace(
    _extended(MLFLOW_LOGGED_MODELS),
    attribute_renames=MLFLOW_LOGGED_MODELS.attribute_renames,
    prefixes=frozenset(ENTITY_ALIASES),
    order_by_kinds=frozenset({Entity.ATTRIBUTE, Entity.METRIC, Entity.PARAM, Entity.TAG}),
    bare_attributes=frozenset(),
    order_by_prefixes=True,
    single_quoted_values=False,
)

MODEL_PROFILES: dict[tuple[str, str], Profile] = {
    (p.name, p.entity): p
    for p in (
        *(
            profile
            for mlflow in (MLFLOW_REGISTERED_MODELS, MLFLOW_MODEL_VERSIONS)
            for profile in (mlflow, _azureml_registry(mlflow), _extended_registry(mlflow))
        ),
        MLFLOW_LOGGED_MODELS,
        EXTENDED_LOGGED_MODELS,
    )
}
"""The shipped profiles of the model registry's entities, by (name, entity)."""


# -- mlflow-X.Y: MLflow's earlier versions -------------------------------------------------------
#
# Each profile is the next newer one less what its version had not yet: ``mlflow-X.Y`` describes MLflow
# X.Y and the versions back to the one after the previous profile (mlflow_profile_for). The versions are
# those at which what a search accepts changed; scripts/mlflow_versions.py checks every profile against
# the parser of the versions it describes (docs/conformance.md). MLflow 2.0 is the oldest described.


def _older(newer: Profile, version: str, **lacking: Any) -> Profile:
    """``newer`` as MLflow ``version`` accepted it: renamed, with the fields in ``lacking``."""
    return replace(newer, name=f"mlflow-{version}", title=f"MLflow {version}", **lacking)


# 3.18 takes the prefix ``attributes.`` on experiments too.
MLFLOW_3_17 = (
    _older(MLFLOW_RUNS, "3.17"),
    _older(MLFLOW_EXPERIMENTS, "3.17", prefixes=MLFLOW_EXPERIMENTS.prefixes - {"attributes"}),
)
# 3.17 compares the times of runs with fractions (experiments' always did), and searches experiments by
# experiment_id (IN lists too).
MLFLOW_3_16 = (
    _older(MLFLOW_3_17[0], "3.16", whole_times=True),
    _older(
        MLFLOW_3_17[1],
        "3.16",
        string_attributes=MLFLOW_3_17[1].string_attributes - {"experiment_id"},
        list_attributes=frozenset(),
    ),
)
# 3.11 takes IS NULL and IS NOT NULL on params and tags of runs.
MLFLOW_3_10 = (_older(MLFLOW_3_16[0], "3.10", null_kinds=frozenset()), _older(MLFLOW_3_16[1], "3.10"))
# 3.10 takes IS NULL and IS NOT NULL on experiment tags.
MLFLOW_3_9 = (_older(MLFLOW_3_10[0], "3.9"), _older(MLFLOW_3_10[1], "3.9", null_kinds=frozenset()))
# 3.0 reads IN lists with ast.literal_eval: trailing commas, double quotes, string prefixes.
MLFLOW_2_22 = (
    _older(MLFLOW_3_9[0], "2.22", plain_lists=True),
    _older(MLFLOW_3_9[1], "2.22", plain_lists=True),
)
# 2.4 searches runs by datasets (name, digest, context; IN lists too).
MLFLOW_2_3 = (
    _older(
        MLFLOW_2_22[0],
        "2.3",
        filter_kinds=MLFLOW_2_22[0].filter_kinds - {Entity.DATASET},
        dataset_keys=frozenset(),
        dataset_ops=frozenset(),
        list_kinds=frozenset(),
    ),
    _older(MLFLOW_2_22[1], "2.3"),
)
# 2.3 takes IN and NOT IN on run_id.
MLFLOW_2_2 = (_older(MLFLOW_2_3[0], "2.2", list_attributes=frozenset()), _older(MLFLOW_2_3[1], "2.2"))
# 2.1 takes the aliases created/Created (start_time) and run name/Run name/Run Name (run_name).
MLFLOW_2_0 = (
    _older(MLFLOW_2_2[0], "2.0", filter_aliases=frozenset(), order_by_aliases=frozenset()),
    _older(MLFLOW_2_2[1], "2.0"),
)

_MLFLOW_VERSIONS = (
    MLFLOW_2_0,
    MLFLOW_2_2,
    MLFLOW_2_3,
    MLFLOW_2_22,
    MLFLOW_3_9,
    MLFLOW_3_10,
    MLFLOW_3_16,
    MLFLOW_3_17,
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
        *(p for pair in _MLFLOW_VERSIONS for p in pair),
    )
}
"""The shipped profiles by (name, entity)."""

PROFILE_NAMES = ("mlflow", "azureml", "extended")
"""The three backends of the support matrix; every name of :data:`PROFILES` is in
:data:`ALL_PROFILE_NAMES`."""

MLFLOW_VERSION_PROFILES = tuple(runs.name for runs, _ in _MLFLOW_VERSIONS)
"""The ``mlflow-X.Y`` profiles, oldest first: MLflow's earlier versions (:func:`mlflow_profile_for`)."""

MLFLOW_VERSION_SINCE = dict(
    zip(MLFLOW_VERSION_PROFILES, ("2.0", "2.1", "2.3", "2.4", "3.0", "3.10", "3.11", "3.17"), strict=True)
)
"""Each ``mlflow-X.Y`` profile and the first MLflow version it describes (X.Y is the last)."""

ALL_PROFILE_NAMES = PROFILE_NAMES + MLFLOW_VERSION_PROFILES
"""Every shipped profile's name."""


def mlflow_profile_for(version: str, entity: str = "runs") -> Profile:
    """The profile describing MLflow ``version`` ("2.9.2", "3.5"): the oldest ``mlflow-X.Y`` whose
    version is ``version`` or newer (each covers the versions back to the one after the previous
    profile), else ``mlflow``; MLflow before 2.0 is not described."""
    wanted = _minor(version)
    if wanted < (2, 0):
        raise ValueError(f"MLflow {version} is older than 2.0, the oldest version runql describes")
    for name in MLFLOW_VERSION_PROFILES:
        if _minor(name.removeprefix("mlflow-")) >= wanted:
            return get_profile(name, entity)
    return get_profile("mlflow", entity)


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def get_profile(name: str, entity: str = "runs") -> Profile:
    """The shipped profile ``name`` for ``entity`` (``runs``, ``experiments``, ``registered_models``,
    ``model_versions`` or ``logged_models``)."""
    if entity not in ENTITIES + MODEL_ENTITIES:
        raise ValueError(f"unknown entity {entity!r}: expected one of {', '.join(ENTITIES + MODEL_ENTITIES)}")
    profile = PROFILES.get((name, entity)) or MODEL_PROFILES.get((name, entity))
    if profile is None and entity == "logged_models" and name == "azureml":
        raise ValueError(
            "Azure ML documents no search of logged models: search logged_models with mlflow or extended"
        )
    if profile is None and entity in MODEL_ENTITIES and name in MLFLOW_VERSION_PROFILES:
        raise ValueError(
            f"the profile {name!r} describes runs and experiments only: search {entity} with "
            f"{', '.join(PROFILE_NAMES)}"
        )
    if profile is None:
        close = difflib.get_close_matches(name, ALL_PROFILE_NAMES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown profile {name!r}: expected one of {', '.join(PROFILE_NAMES)}, "
            f"or one of MLflow's earlier versions, {', '.join(MLFLOW_VERSION_PROFILES)}{hint}"
        )
    return profile


def matrix_markdown() -> str:
    """The text of ``docs/profiles.md``: the support matrix of the shipped profiles."""
    return markdown(PROFILES, MLFLOW_VERSION_SINCE)
