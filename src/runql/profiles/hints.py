"""What to write instead: the hint texts of the diagnostics :mod:`runql.validate` reports.

The rules in validate.py decide whether a query breaks one of a profile's rules and where; the
functions here word the way out, given the profile and the node at fault.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from datetime import datetime, timezone

from runql.errors import QueryError
from runql.language.ast import Compare, Entity, Expr, In, IsNull, Key, Op, Or
from runql.language.attributes import KeyKind
from runql.language.unparser import unparse, unparse_key, unparse_literal
from runql.profiles.catalog import MLFLOW_STATUSES, PROFILES, Profile

ELSEWHERE = "filter the DataFrame, or use the extended profile, which runs in memory"
PARENTHESES = "conditions are joined with AND only: remove the parentheses, or use the extended profile"
DUPLICATE_ORDER_BY = "remove the repeated key"
DATASET_ORDER = "runs cannot be sorted by datasets: a run may have several"
METRIC_NUMBERS = "metrics hold numbers"
TIMES = "times are milliseconds since the epoch, e.g. int(datetime(2024, 1, 1).timestamp() * 1000)"
_OR_ELSEWHERE = (
    "run one search per alternative and concatenate the results (pd.concat), or use the extended profile"
)
_NOT_ELSEWHERE = "negate each comparison instead, or use the extended profile"

# Attribute names people reach for, and where the thing they want lives.
_RUN_ATTRIBUTE_HINTS = {
    "experiment_id": "runs are searched per experiment: pass experiment_ids=[...] to search_runs",
    "lifecycle_stage": "choose deleted or active runs with run_view_type=ViewType.DELETED_ONLY / ALL",
    "creation_time": "MLflow calls a run's creation time start_time (alias created); "
    "the azureml and extended profiles also accept creation_time",
    "duration": "MLflow has no duration: use the azureml or extended profile, "
    "or compute df['end_time'] - df['start_time']",
    "name": "did you mean run_name?",
    "run_uuid": "did you mean run_id?",
}
_EXPERIMENT_ATTRIBUTE_HINTS = {
    "start_time": "did you mean creation_time?",
    "experiment_name": "did you mean name?",
    "created": "did you mean creation_time?",
    "lifecycle_stage": "choose deleted or active experiments with view_type=ViewType.DELETED_ONLY / ALL",
}

_NEGATED = {
    Op.EQ: Op.NE,
    Op.NE: Op.EQ,
    Op.LT: Op.GE,
    Op.GE: Op.LT,
    Op.GT: Op.LE,
    Op.LE: Op.GT,
    Op.LIKE: Op.NOT_LIKE,
    Op.NOT_LIKE: Op.LIKE,
    Op.ILIKE: Op.NOT_ILIKE,
    Op.NOT_ILIKE: Op.ILIKE,
}


# -- how values and keys are shown -------------------------------------------------------------


def number_text(value: int | float) -> str:
    """A number as a message shows it: whole floats without ``.0``, very long integers cut short."""
    if isinstance(value, int):
        text = str(value)
        return text if len(text) <= 40 else f"{text[:12]}... ({len(text.lstrip('-'))} digits)"
    return str(int(value)) if value.is_integer() else repr(value)


def date_text(ms: float) -> str:
    """The UTC date and time ``ms`` milliseconds after the epoch stands for."""
    try:
        moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "out of range"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def key_text(key: Key) -> str:
    """The key in canonical form, or ``prefix.name`` when it has none (a name no text can write)."""
    try:
        return unparse_key(key)
    except QueryError:
        return f"{key.entity.prefix}.{key.name}"


def column(key: Key) -> str:
    """The DataFrame column of ``key``: ``metrics.auc``, or the bare attribute name."""
    return f"{key.entity.prefix}.{key.name}" if key.entity is not Entity.ATTRIBUTE else key.name


# -- structure ---------------------------------------------------------------------------------


def instead_of_or(profile: Profile, node: Or) -> str:
    """An IN list when every term compares one key for equality and the profile lists it, else
    one search per alternative."""
    compares = [t for t in node.terms if isinstance(t, Compare) and t.op is Op.EQ]
    if len(compares) == len(node.terms) and len({c.key for c in compares}) == 1:
        key = compares[0].key
        kind = profile.kind_of(key.entity, key.name)
        if kind is not None and profile.accepts_list(kind, key.name):
            items = ", ".join(unparse_literal(c.value, in_list=True) for c in compares)
            return f"write {key_text(key)} IN ({items})"
    return _OR_ELSEWHERE


def instead_of_not(profile: Profile, term: Expr) -> str:
    """The negated comparison when the profile accepts it, else the opposite test."""
    if isinstance(term, Compare) and term.op in _NEGATED:
        negated = replace(term, op=_NEGATED[term.op])
        kind = profile.kind_of(term.key.entity, term.key.name)
        try:
            text = unparse(negated)
        except QueryError:
            text = ""
        if kind is not None and negated.op in profile.ops_for(kind) and text:
            return f"negate the comparison instead: {text}"
    if isinstance(term, In):
        return f"write {key_text(term.key)} {'IN' if term.negated else 'NOT IN'} (...)"
    if isinstance(term, IsNull):
        return f"write {key_text(term.key)} IS {'NULL' if term.negated else 'NOT NULL'}"
    return _NOT_ELSEWHERE


# -- keys --------------------------------------------------------------------------------------


def unsearched_entity(profile: Profile) -> str:
    """For a kind of key ``profile`` cannot filter or sort by: for experiments, the keys their filters
    use; for runs, searching elsewhere (the DataFrame, the extended profile)."""
    if profile.entity != "runs":
        names = ", ".join(sorted(profile.attributes))
        return f"{profile.noun[:-1]} filters use the attributes {names} and tags.<name>"
    return ELSEWHERE


def prefix(profile: Profile, key: Key) -> str:
    """For a prefix ``profile`` does not accept: the key with its canonical prefix, and the prefixes it
    accepts."""
    canonical = "attributes" if key.entity is Entity.ATTRIBUTE else key.entity.prefix
    return (
        f"write {canonical}.{key.alias or key.name}; "
        f"{profile.noun} accept the prefixes {', '.join(sorted(profile.prefixes))}"
    )


def unsortable(profile: Profile, key: Key) -> str:
    """For an order_by key ``profile`` cannot sort by: sorting the result instead (the DataFrame, or the
    list of experiments); runs cannot be sorted by datasets at all."""
    if key.entity is Entity.DATASET:
        return DATASET_ORDER
    if profile.entity != "runs":
        noun = profile.noun.replace(" ", "_")
        return f"sort the result instead: sorted({noun}, key=lambda e: e.tags.get({key.name!r}))"
    return f"sort the result instead: df.sort_values({column(key)!r}, ascending=False)"


def dataset_key(profile: Profile, name: str) -> str:
    """For an unknown ``datasets.<name>``: the closest dataset key, and every one there is."""
    close = difflib.get_close_matches(name, sorted(profile.dataset_keys), n=1)
    keys = ", ".join(sorted(profile.dataset_keys))
    return (f"did you mean datasets.{close[0]}? " if close else "") + f"dataset keys are {keys}"


def quoted_metric(key: Key) -> str:
    """For a metric whose name needs quoting, which the profile cannot filter by: filtering its DataFrame
    column in pandas instead."""
    # The rule sees the key alone, not the comparison: name the column, not a made-up comparison.
    return (
        f"search without this condition, then filter the DataFrame's column 'metrics.{key.name}' "
        "with the same comparison in pandas, or use the extended profile"
    )


def filter_only_alias(alias: str, name: str) -> str:
    """For an attribute alias (``created``) in order_by, which takes only the attribute ``name`` itself."""
    return f"the alias {alias!r} works in filters only: in order_by write {name}"


PLAIN_LISTS = "write the list as ('a', 'b'): single-quoted strings, one space after each comma"


def whole_milliseconds(number: float) -> str:
    """For a time compared with a fraction or an exponent (MLflow before 3.17 reads only whole numbers)."""
    return f"write a whole number of milliseconds, such as {int(number)}"


def unknown_alias(profile: Profile, alias: str, name: str) -> str:
    """For an attribute alias (``created``, ``run name``) the profile does not know (MLflow 2.0)."""
    return f"{profile.title} does not know the alias {alias!r}: write {name}"


def unknown_attribute(
    profile: Profile, name: str, valid: frozenset[str], node: Compare | In | IsNull | None, in_order_by: bool
) -> str:
    """What the user may have meant by the attribute ``name``: a known confusion, a spelling of a
    valid attribute, or a metric, param or tag of that name."""
    special = {"runs": _RUN_ATTRIBUTE_HINTS, "experiments": _EXPERIMENT_ATTRIBUTE_HINTS}.get(
        profile.entity, {}
    ).get(name)
    if special and not (name == "creation_time" and profile.entity == "experiments"):
        return special
    folded = {v.casefold(): v for v in valid}
    if name.casefold() in folded:
        return f"attribute names are case-sensitive: write {folded[name.casefold()]}"
    close = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.75)
    if close:
        return f"did you mean {close[0]}?"
    guess = _other_key(profile, name, node, in_order_by)
    return f"{f'did you mean {guess}? ' if guess else ''}attribute keys are {', '.join(sorted(valid))}"


def _other_key(profile: Profile, name: str, node: Compare | In | IsNull | None, in_order_by: bool) -> str:
    """The metric, param or tag keys ``name`` may have meant, judged by how the clause uses it."""
    if profile.entity != "runs":
        return key_text(Key(Entity.TAG, name))
    if in_order_by or (isinstance(node, Compare) and not isinstance(node.value.value, str)):
        return key_text(Key(Entity.METRIC, name))
    if isinstance(node, IsNull):
        return key_text(Key(Entity.TAG, name))
    if node is not None:
        return f"{key_text(Key(Entity.PARAM, name))} or {key_text(Key(Entity.TAG, name))}"
    return ""


# -- operators ---------------------------------------------------------------------------------


def operator(profile: Profile, node: Compare, kind: KeyKind) -> str:
    """For a comparator ``profile`` refuses on keys of ``kind``: the comparators it accepts, and how to
    compare in pandas instead (numbers held in params and tags, ``!=`` on tags)."""
    allowed = " ".join(o.value for o in Op if o in profile.ops_for(kind))
    base = f"{kind.plural} accept {allowed}" if allowed else f"{kind.plural} accept no comparator here"
    if kind in (KeyKind.PARAM, KeyKind.TAG) and node.op.is_ordering:
        return (
            f"{base}; {kind.plural} are strings: compare numbers in pandas, "
            f"df['{column(node.key)}'].astype(float)"
        )
    if node.op is Op.NE and kind is KeyKind.TAG:
        return (
            f"filter the DataFrame: df[df['{column(node.key)}'] != ...], "
            "or use the extended profile, which runs in memory"
        )
    return f"{base}; or {ELSEWHERE}"


def observed_refused(key: Key) -> str:
    """For a comparison on tag ``key`` that some paths of the backend are reported to refuse: filtering
    the DataFrame if it does."""
    return f"if the backend refuses it, filter the DataFrame: df[df['tags.{key.name}'].str.contains(...)]"


def lists(profile: Profile, word: str) -> str:
    """For an IN or NOT IN list (``word``) on a key ``profile`` takes no list for: the keys that take one."""
    keys = sorted(profile.list_attributes) + [
        f"{k.plural}.*" for k in sorted(profile.list_kinds, key=list(KeyKind).index)
    ]
    allowed = ", ".join(keys) or "no key"
    return f"{word} lists work on {allowed}; otherwise join = conditions, or use the extended profile"


def null_test(profile: Profile, key: Key) -> str:
    """For IS NULL or IS NOT NULL on a key ``profile`` cannot test: the kinds of keys it can, or
    ``isna()`` on the DataFrame."""
    kinds = ", ".join(k.plural for k in KeyKind if k in profile.null_kinds) or "no key"
    return (
        f"IS NULL works on {kinds}; otherwise filter the DataFrame: "
        f"df[df['{column(key)}'].isna()], or use the extended profile"
    )


# -- values ------------------------------------------------------------------------------------


def unquote(number: int | float) -> str:
    """For a number written in quotes where a number is compared: the number without them."""
    return f"remove the quotes: {number_text(number)}"


def quote(kind: KeyKind, value: int | float) -> str:
    """For a number compared with keys of ``kind``, which hold text: the number in quotes."""
    kind_name = "attributes" if kind is KeyKind.STRING_ATTRIBUTE else kind.plural
    return f"{kind_name} compare as text: write '{number_text(value)}'"


def duration_units(number: int | float) -> str:
    """For a duration below 1000 milliseconds, probably meant as seconds: the milliseconds ``number``
    seconds are."""
    return f"for {number_text(number)} seconds write {number_text(number * 1000)}"


def seconds(number: int | float) -> str:
    """For a time that reads as seconds since the epoch: the milliseconds it would be, and their date."""
    return f"if you meant seconds, did you mean {number_text(number * 1000)} ({date_text(number * 1000)})?"


def profile_statuses(profile: Profile) -> str:
    """For a status ``profile`` does not know: the statuses it knows."""
    return f"statuses are {', '.join(dict.fromkeys(s for s, _ in profile.status_names))}"


def mlflow_status(value: str) -> str:
    """The MLflow status ``value`` was likely meant to be: in upper case, or Azure ML's name for it."""
    azure = PROFILES[("azureml", "runs")].status_for(value)
    if value.upper() in MLFLOW_STATUSES:
        return f"MLflow's statuses are upper case: did you mean {value.upper()!r}?"
    if azure is not None:
        return f"{value!r} is an Azure ML job status; MLflow's is {azure!r} (or use the azureml profile)"
    return f"statuses are {', '.join(MLFLOW_STATUSES)}"
