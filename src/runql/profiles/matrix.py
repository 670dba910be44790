"""The support matrix of profiles, as Markdown: the text of ``docs/profiles.md``.

``runql.profiles.matrix_markdown()`` renders the shipped profiles with it, ``runql profiles`` prints that,
and a test keeps docs/profiles.md equal to it. Each row reads the profiles' fields, so the page follows
the data in :mod:`runql.profiles.catalog` and :mod:`runql.language.attributes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from runql.language.ast import Entity, Op
from runql.language.attributes import KeyKind

if TYPE_CHECKING:
    from runql.profiles.catalog import Profile

__all__ = ["DOCUMENT_ROWS", "RUNQL_ROWS", "markdown"]

Profiles = Mapping[tuple[str, str], "Profile"]

Cell = Callable[["Profile", "Profile"], str]
"""One cell of a row: its text for a profile's runs and experiments records."""
_KIND_NAMES = {
    KeyKind.METRIC: "metrics",
    KeyKind.PARAM: "params",
    KeyKind.TAG: "tags",
    KeyKind.STRING_ATTRIBUTE: "attributes",
    KeyKind.NUMERIC_ATTRIBUTE: "attributes",
    KeyKind.DATASET: "datasets",
}


# The document's numeric comparators, in the order a missing one is named.
_NUMERIC_OPS = (Op.NE, Op.LT, Op.LE, Op.EQ, Op.GT, Op.GE)


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
        _ops_cell([KeyKind.METRIC], _NUMERIC_OPS),
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
    (
        "`RLIKE` / `NOT RLIKE`: regular expressions (params, tags, attributes)",
        _ops_cell(_STRING_KINDS, [Op.RLIKE, Op.NOT_RLIKE]),
    ),
    (
        "The backend's `ILIKE` folds the case of (runql's own folds every letter, in every profile)",
        lambda r, _: "every letter" if r.case_folding == "unicode" else "ASCII letters only",
    ),
    (
        "`LIKE` / `ILIKE` on a database (`runql.connect`, the `runql+` server plugin)",
        lambda r, _: "the database's own (MLflow's SQL store)" if r.database_patterns else "in-memory",
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
        "Attribute aliases: `created` (filters and order_by), `run name` (filters)",
        lambda r, _: _yes(bool(r.filter_aliases)),
    ),
    (
        "`IN` lists written as Python reads them (`('a',)`, `(\"a\", 'b')`, `(r'a')`)",
        lambda r, _: _yes(not r.plain_lists and bool(r.list_attributes or r.list_kinds)),
    ),
    (
        "Fractions on run times (`start_time >= 1.5`, `1e3`)",
        lambda r, _: _yes(not r.whole_times),
    ),
    (
        "`run name` aliases in order_by",
        lambda r, _: _yes(bool(r.order_by_aliases & {"run name", "Run name", "Run Name"})),
    ),
    (
        "Dates on time attributes (`start_time >= '2026-11-01'`, `'now-7d'`)",
        lambda r, _: _yes(r.dates),
    ),
    (
        "Functions of a metric's history: `min(metrics.loss)`, `max`, `avg`, `count`, `first`, `last`, "
        "`at_step(metrics.loss, 10)`",
        lambda r, _: _yes(r.metric_histories),
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

<!-- Generated from src/runql/profiles.py and attributes.py by `runql profiles > docs/profiles.md` -->

A profile says what a backend accepts. `runql.check(query, profile)` lists every problem and
`runql.validate(query, profile)` raises `UnsupportedQueryError` with all of them. Three profiles ship,
each for `runs` and `experiments`: `mlflow` (MLflow 3.18), `azureml` (Azure Machine Learning's MLflow
endpoint, from its document "Query & compare experiments and runs with MLflow" and rules observed in the
field) and `extended` (everything runql answers in memory). `mlflow-2.0` to `mlflow-3.17` describe
MLflow's earlier versions ([the last section](#mlflows-earlier-versions)).

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


def _table(title: str, rows: tuple[tuple[str, Cell], ...], profiles: Profiles) -> list[str]:
    names = list(dict.fromkeys(name for name, _ in profiles))
    lines = [
        f"## {title}",
        "",
        "| Feature | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for label, cell in rows:
        cells = [cell(profiles[(n, "runs")], profiles[(n, "experiments")]) for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _keys_section(profiles: Profiles) -> list[str]:
    lines = [
        "## Keys",
        "",
        "| Profile | Entity | Filter attributes | order_by attributes |",
        "| --- | --- | --- | --- |",
    ]
    for (name, entity), p in profiles.items():
        filters = ", ".join(f"`{a}`" for a in sorted(p.attributes))
        orders = ", ".join(
            f"`{a}`" for a in sorted(p.order_by_attributes | {a for a, _ in p.attribute_renames})
        )
        lines.append(f"| {name} | {entity} | {filters} | {orders} |")
    return [*lines, ""]


def _limits_section(profiles: Profiles) -> list[str]:
    lines = [
        "## Limits",
        "",
        "A query past a limit is refused with `query-too-large` before any row is read; the caret points",
        "where the limit is passed. Change a limit with `dataclasses.replace(profile, max_clauses=...)`",
        "(docs/security.md).",
        "",
        "| Profile | Entity | filter_string characters | Conditions | Items in one list | order_by clauses |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for (name, entity), p in profiles.items():
        numbers = (p.max_filter_length, p.max_clauses, p.max_in_items, p.max_order_by)
        lines.append(f"| {name} | {entity} | " + " | ".join(f"{n:,}" for n in numbers) + " |")
    return [*lines, ""]


_VERSIONS_INTRO = """\
## MLflow's earlier versions

`mlflow` describes MLflow 3.18. Each `mlflow-X.Y` profile describes MLflow X.Y and the versions back to
the one after the next older profile: for MLflow 3.5 use `mlflow-3.9` (`runql check --profile
mlflow-3.9`), for 2.15 `mlflow-2.22`; `runql.profiles.catalog.mlflow_profile_for("3.5.1")` picks it.
MLflow before 2.0 is not described. Each is the next newer profile less what its versions had not yet;
scripts/mlflow_versions.py checks every one against the parser of each version it describes
(docs/conformance.md).
"""


def _versions_section(profiles: Profiles, versions: Mapping[str, str], latest: str) -> list[str]:
    lines = [
        _VERSIONS_INTRO,
        "| Profile | MLflow | Differs from the next newer profile in |",
        "| --- | --- | --- |",
    ]
    names = list(versions)
    for name, newer in zip(names, [*names[1:], latest], strict=True):
        last, first = name.removeprefix(f"{latest}-"), versions[name]
        span = last if first == last else f"{first} to {last}"
        lines.append(f"| `{name}` | {span} | {'; '.join(_differences(profiles, name, newer))} |")
    return [*lines, ""]


def _differences(profiles: Profiles, name: str, newer: str) -> list[str]:
    """The rows of the matrix whose cell differs between the profiles ``name`` and ``newer``, and the
    prefixes and filter attributes one lacks on each entity."""
    older_runs, older_experiments = profiles[(name, "runs")], profiles[(name, "experiments")]
    newer_runs, newer_experiments = profiles[(newer, "runs")], profiles[(newer, "experiments")]
    found = []
    for label, cell in DOCUMENT_ROWS + RUNQL_ROWS:
        was, now = cell(older_runs, older_experiments), cell(newer_runs, newer_experiments)
        if was != now:
            found.append(f"{label}: {was} (`{newer}`: {now})")
    for entity in ("runs", "experiments"):
        older, newest = profiles[(name, entity)], profiles[(newer, entity)]
        for what, lacking in (
            ("prefixes", newest.prefixes - older.prefixes),
            ("filter attributes", newest.attributes - older.attributes),
        ):
            if lacking:
                found.append(f"no {what} " + ", ".join(f"`{k}`" for k in sorted(lacking)) + f" on {entity}")
    return found


def markdown(profiles: Profiles, versions: Mapping[str, str] | None = None, latest: str = "mlflow") -> str:
    """The matrix of ``profiles`` (by name and entity, each name for runs and experiments), with the
    page's introduction and notes. The profiles named in ``versions`` (``mlflow-X.Y`` to the first
    version it describes, oldest first; each is compared with the next, the last with ``latest``) are
    left out of the matrix and listed by what they lack."""
    versions = versions or {}
    main = {key: p for key, p in profiles.items() if key[0] not in versions}
    lines = [
        _HEADER,
        *_table("The support matrix (runs), as the Azure ML document lists it", DOCUMENT_ROWS, main),
        *_table("What runql adds", RUNQL_ROWS, main),
        *_keys_section(main),
        *_limits_section(main),
        *(_versions_section(profiles, versions, latest) if versions else []),
        _NOTES,
    ]
    return "\n".join(lines)
