"""The reference evaluator: the executable specification of what a query selects and in which order.

It works row by row over run- and experiment-shaped objects (``run.info``, ``run.data``,
``run.inputs``; ``experiment.tags``), and it is written to be read. The semantics are MLflow's
in-memory ones (its FileStore), extended with SQL's three-valued logic for OR and NOT:

* a clause on a key the row lacks is *unknown*; only rows whose filter is true are returned, so
  ``tags.t != 'x'`` and ``NOT tags.t = 'x'`` both leave out runs without ``t`` (IS NULL never is
  unknown);
* a metric compares its latest value; NaN follows Python (only ``!=`` holds), infinities are kept;
  a function of a metric's history (``min(metrics.loss)``) is computed from ``run.data.history(key)``
  by :mod:`runql.engines.aggregates`;
* LIKE, ordering, NaN and missing values follow :mod:`runql.engines.semantics`;
* strings compare by code point; a dataset clause holds when any one input matches it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, Literal, NamedTuple, TypeVar

from runql.engines.aggregates import history_value
from runql.engines.semantics import (
    as_float,
    experiment_order,
    logged_model_order,
    natural_run_key,
    pattern_matcher,
    registry_order,
    row_sort_key,
)
from runql.errors import EvaluationError
from runql.language.ast import (
    Aggregate,
    And,
    Compare,
    Entity,
    Expr,
    In,
    IsNull,
    Key,
    Not,
    Op,
    Or,
    SortKey,
    assert_never,
)
from runql.language.ast import Literal as LiteralNode
from runql.language.attributes import (
    DATASET_KEYS,
    ENTITY_NUMERIC_ATTRIBUTES,
    ENTITY_STRING_ATTRIBUTES,
    RUN_NUMERIC_ATTRIBUTES,
    RUN_STRING_ATTRIBUTES,
)
from runql.model.entities import DATASET_CONTEXT_TAG

__all__ = [
    "dataset_clause_matches",
    "experiment_sort_key",
    "filter_experiments",
    "filter_runs",
    "logged_model_sort_key",
    "predicate",
    "registry_sort_key",
    "run_attribute",
    "run_sort_key",
    "sort_experiments",
    "sort_runs",
    "truth",
]

T = TypeVar("T")
Truth = bool | None
Target = Literal["runs", "experiments", "registered_models", "model_versions", "logged_models"]
# What each target is called in messages.
_NOUNS = {
    "experiments": "experiments",
    "registered_models": "registered models",
    "model_versions": "model versions",
    "logged_models": "logged models",
}
_Getter = Callable[[Any], Any]
_Predicate = Callable[[Any], Truth]


class Place(NamedTuple):
    """The text a node was parsed from and what it is (``filter_string``, ``order_by[0]``), for errors;
    empty for a tree built by hand."""

    source: str = ""
    where: str = ""

    def error(self, message: str, *, code: str, span: Any, hint: str) -> EvaluationError:
        """An :class:`EvaluationError` located in this text (unlocated for a tree built by hand)."""
        where = self.where if self.source else ""
        return EvaluationError(message, code=code, span=span, hint=hint, source=self.source, where=where)


NOWHERE = Place()

_COMPARE: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


# -- values --------------------------------------------------------------------------------


def run_attribute(run: Any, name: str) -> Any:
    """The value of ``attributes.<name>`` for ``run``; ``duration`` is ``end_time - start_time``."""
    info = run.info
    if name == "duration":
        if info.end_time is None or info.start_time is None:
            return None
        return info.end_time - info.start_time
    if name in RUN_STRING_ATTRIBUTES or name in RUN_NUMERIC_ATTRIBUTES:
        return getattr(info, name)
    raise _unknown_run_attribute(name)


def _unknown_run_attribute(name: str, span: Any = None, place: Place = NOWHERE) -> EvaluationError:
    return place.error(
        f"runs have no attribute {name!r}",
        code="unknown-attribute",
        span=span,
        hint=f"run attributes are {', '.join(sorted(RUN_STRING_ATTRIBUTES | RUN_NUMERIC_ATTRIBUTES))}",
    )


def dataset_values(run: Any, name: str) -> list[str]:
    """The values of ``datasets.<name>`` over the dataset inputs of ``run``, one per input that has it;
    ``context`` is read from each input's ``mlflow.data.context`` tag."""
    inputs = getattr(getattr(run, "inputs", None), "dataset_inputs", None) or ()
    if name == "context":
        return [tag.value for item in inputs for tag in (item.tags or ()) if tag.key == DATASET_CONTEXT_TAG]
    return [value for item in inputs if (value := getattr(item.dataset, name, None)) is not None]


def _string_test(op: Op, value: str) -> Callable[[str], bool]:
    if op.is_pattern:
        return pattern_matcher(op, value)
    compare = _COMPARE[op]
    return lambda lhs: compare(lhs, value)


def dataset_clause_matches(run: Any, name: str, op: Op | None, value: Any, negated: bool = False) -> bool:
    """Whether any dataset input of ``run`` satisfies the clause on ``datasets.<name>``.

    ``op`` is the comparison; ``None`` means membership in the collection ``value`` (NOT IN when
    ``negated``). A run without dataset inputs satisfies no dataset clause.
    """
    candidates = dataset_values(run, name)
    if op is None:
        return any((candidate in value) != negated for candidate in candidates)
    test = _string_test(op, value)
    return any(test(candidate) for candidate in candidates)


# -- compiling a filter into a predicate ----------------------------------------------------


def _type_error(key: Key, kind: str, value: Any, span: Any, place: Place) -> EvaluationError:
    return place.error(
        f"{key.entity.prefix}.{key.name} holds {kind}s, so it cannot be compared with {value!r}",
        code="bad-value-type",
        span=span,
        hint="quote strings ('text'); write numbers bare (0.5)",
    )


def _getter(key: Key, target: Target, place: Place = NOWHERE) -> tuple[_Getter, str]:
    """How to read ``key`` from a row, and whether it holds numbers or strings."""
    name = key.name
    if target == "logged_models" and key.entity is Entity.METRIC:
        # Every value of the metric (within the search's datasets): a clause matches when one does.
        return (lambda m: m.metric_values(name)), "numbers"
    if target == "logged_models" and key.entity is Entity.PARAM:
        return (lambda m: m.params.get(name)), "string"
    if target != "runs":
        # Experiments, registered models, model versions and logged models: attributes (fields of the
        # row) and tags.
        noun = _NOUNS[target]
        if key.entity is Entity.TAG:
            return (lambda e: e.tags.get(name)), "string"
        if key.entity is Entity.ATTRIBUTE:
            if name in ENTITY_NUMERIC_ATTRIBUTES[target]:
                return (lambda e: getattr(e, name)), "number"
            if name in ENTITY_STRING_ATTRIBUTES[target]:
                return (lambda e: getattr(e, name)), "string"
            known = sorted(ENTITY_STRING_ATTRIBUTES[target] | ENTITY_NUMERIC_ATTRIBUTES[target])
            raise place.error(
                f"{noun} have no attribute {name!r}",
                code="unknown-attribute",
                span=key.span,
                hint=f"the attributes of {noun} are {', '.join(known)}",
            )
        raise place.error(
            f"{noun} have no {key.entity.prefix}",
            code="unknown-key-type",
            span=key.span,
            hint=f"{noun} are searched by attributes and tags",
        )
    match key.entity:
        case Entity.METRIC if key.aggregate is not None and key.aggregate is not Aggregate.LAST:
            # A function of the whole history; last() is the latest value, read as a plain metric is.
            return (lambda r: history_value(_history(r, name, key, place), key)), "number"
        case Entity.METRIC:
            return (lambda r: r.data.metrics.get(name)), "number"
        case Entity.PARAM:
            return (lambda r: r.data.params.get(name)), "string"
        case Entity.TAG:
            return (lambda r: r.data.tags.get(name)), "string"
        case Entity.ATTRIBUTE:
            if name == "duration":
                return (lambda r: run_attribute(r, "duration")), "number"
            if name in RUN_NUMERIC_ATTRIBUTES or name in RUN_STRING_ATTRIBUTES:
                kind = "number" if name in RUN_NUMERIC_ATTRIBUTES else "string"
                return (lambda r: getattr(r.info, name)), kind
            raise _unknown_run_attribute(name, key.span, place)
        case Entity.DATASET:
            raise AssertionError("dataset keys are compiled apart")  # pragma: no cover
        case _:
            assert_never(key.entity)


def _history(run: Any, name: str, key: Key, place: Place) -> Any:
    read = getattr(run.data, "history", None)
    if read is None:
        raise place.error(
            f"these runs carry no metric histories, so {key.aggregate and key.aggregate.value}() "
            "cannot be computed",
            code="unsupported-aggregate",
            span=key.span,
            hint="search runs read by runql (a workspace, runql.model.records.run_from_record), whose "
            "data.history(key) gives every point, or filter by the latest value",
        )
    return read(name)


def _operand(key: Key, kind: str, literal: LiteralNode, target: Target, place: Place) -> Any:
    value = literal.value
    if kind in ("number", "numbers"):
        if isinstance(value, (str, bool)):
            raise _type_error(key, "number", value, literal.span, place)
        # MLflow compares a metric (and an experiment's or a model's time) with float(value), run times
        # as given.
        if key.entity is Entity.METRIC or target in ("experiments", "registered_models", "logged_models"):
            return as_float(value)
        return value
    if not isinstance(value, str):
        raise _type_error(key, "string", value, literal.span, place)
    return value


def _dataset_key(key: Key, place: Place) -> None:
    if key.name not in DATASET_KEYS:
        raise place.error(
            f"datasets have no key {key.name!r}",
            code="unknown-attribute",
            span=key.span,
            hint="dataset keys are name, digest, context",
        )


def _compile_clause(expr: Compare | In | IsNull, target: Target, place: Place) -> _Predicate:
    key = expr.key
    if key.entity is Entity.DATASET and target == "runs":
        _dataset_key(key, place)
        name = key.name
        if isinstance(expr, IsNull):
            negated = expr.negated
            return lambda r: bool(dataset_values(r, name)) == negated
        if isinstance(expr, In):
            wanted = frozenset(_operand(key, "string", lit, target, place) for lit in expr.values)
            negated = expr.negated
            return lambda r: dataset_clause_matches(r, name, None, wanted, negated)
        op, value = expr.op, _operand(key, "string", expr.value, target, place)
        return lambda r: dataset_clause_matches(r, name, op, value)

    get, kind = _getter(key, target, place)
    if kind == "numbers" and isinstance(expr, IsNull):
        negated = expr.negated
        return lambda row: bool(get(row)) == negated
    if kind == "numbers":
        return _any_value(_compile_value_test(expr, lambda row: row, "number", target, place), get)
    return _compile_value_test(expr, get, kind, target, place)


def _any_value(test: _Predicate, get: _Getter) -> _Predicate:
    """``test`` of one value made a test of a row holding many (a logged model's metric points): true
    when it holds for one of them, unknown when there are none."""

    def any_value(row: Any) -> Truth:
        values = get(row)
        if not values:
            return None
        return any(test(value) for value in values)

    return any_value


def _compile_value_test(
    expr: Compare | In | IsNull, get: _Getter, kind: str, target: Target, place: Place
) -> _Predicate:
    key = expr.key
    if isinstance(expr, IsNull):
        if expr.negated:
            return lambda row: get(row) is not None
        return lambda row: get(row) is None
    if isinstance(expr, In):
        values = frozenset(_operand(key, kind, lit, target, place) for lit in expr.values)
        if expr.negated:
            return lambda row: None if (lhs := get(row)) is None else lhs not in values
        return lambda row: None if (lhs := get(row)) is None else lhs in values
    value = _operand(key, kind, expr.value, target, place)
    test: Callable[[Any], bool]
    if expr.op.is_pattern:
        if kind != "string":
            raise place.error(
                f"{expr.op.value} needs a string key, and {key.entity.prefix}.{key.name} holds numbers",
                code="bad-value-type",
                span=expr.span,
                hint="compare numbers with =, !=, <, <=, >, >=",
            )
        test = pattern_matcher(expr.op, value)
    else:
        compare, rhs = _COMPARE[expr.op], value
        test = lambda lhs: compare(lhs, rhs)  # noqa: E731
    return lambda row: None if (lhs := get(row)) is None else test(lhs)


def _all(predicates: Sequence[_Predicate]) -> _Predicate:
    def conjunction(row: Any) -> Truth:
        unknown = False
        for predicate in predicates:
            result = predicate(row)
            if result is False:
                return False
            if result is None:
                unknown = True
        return None if unknown else True

    return conjunction


def _any(predicates: Sequence[_Predicate]) -> _Predicate:
    def disjunction(row: Any) -> Truth:
        unknown = False
        for predicate in predicates:
            result = predicate(row)
            if result is True:
                return True
            if result is None:
                unknown = True
        return None if unknown else False

    return disjunction


def _negate(predicate: _Predicate) -> _Predicate:
    def negation(row: Any) -> Truth:
        result = predicate(row)
        return None if result is None else not result

    return negation


@lru_cache(maxsize=512)
def _compile(expr: Expr, target: Target, place: Place = NOWHERE) -> _Predicate:
    match expr:
        case And(terms):
            return _all([_compile(t, target, place) for t in terms])
        case Or(terms):
            return _any([_compile(t, target, place) for t in terms])
        case Not(term):
            return _negate(_compile(term, target, place))
        case Compare() | In() | IsNull():
            return _compile_clause(expr, target, place)
        case _:
            assert_never(expr)


def truth(row: Any, expr: Expr | None, entity: Target = "runs") -> Truth:
    """True, False, or None (unknown) for ``expr`` on one run or experiment."""
    if expr is None:
        return True
    return _compile(expr, entity)(row)


def predicate(expr: Expr | None, target: Target = "runs", source: str = "") -> Callable[[Any], bool]:
    """``expr`` compiled once into a test ``row -> bool`` (an unknown result is not selected).

    A problem that only evaluation finds (an unknown attribute in a hand-built tree) is raised here.
    """
    if expr is None:
        return lambda row: True
    compiled = _compile(expr, target, Place(source, "filter_string"))
    return lambda row: compiled(row) is True


def _filter(rows: Iterable[T], expr: Expr | None, target: Target, source: str) -> list[T]:
    test = predicate(expr, target, source)
    return [row for row in rows if test(row)]


def filter_runs(runs: Iterable[T], expr: Expr | None, source: str = "") -> list[T]:
    """The runs ``expr`` selects, in their input order. ``source`` is the filter text, for errors."""
    return _filter(runs, expr, "runs", source)


def filter_experiments(experiments: Iterable[T], expr: Expr | None, source: str = "") -> list[T]:
    """The experiments ``expr`` selects, in their input order. ``source`` is the filter text, for errors."""
    return _filter(experiments, expr, "experiments", source)


# -- ordering --------------------------------------------------------------------------------


def sort_value(key: Key, target: Target, span: Any = None, place: Place = NOWHERE) -> _Getter:
    """How to read the value ``key`` sorts ``target`` rows by (None when the row lacks it)."""
    if target == "runs" and key.entity is Entity.DATASET:
        raise place.error(
            "runs cannot be ordered by datasets",
            code="unsupported-order-by",
            span=span,
            hint="order by an attribute, a metric, a param or a tag",
        )
    if target == "logged_models":
        return _logged_model_sort_value(key, place)
    if target != "runs" and key.entity is not Entity.ATTRIBUTE:
        raise place.error(
            f"{_NOUNS[target]} cannot be ordered by {key.entity.prefix}",
            code="unsupported-order-by",
            span=span,
            hint=f"order {_NOUNS[target]} by their attributes",
        )
    return _getter(key, target, place)[0]


def _logged_model_sort_value(key: Key, place: Place) -> _Getter:
    """A logged model sorts by a metric's latest value and by its status's code, as MLflow's SQL store
    reads them from its tables."""
    name = key.name
    if key.entity is Entity.METRIC:
        return lambda m: m.latest_metric(name)
    if key.entity is Entity.ATTRIBUTE and name == "status":
        return lambda m: m.status_code
    return _getter(key, "logged_models", place)[0]


def _run_tie_break(run: Any) -> tuple[bool, float, str]:
    return natural_run_key(run.info.start_time, run.info.run_id)


def _sort_key(keys: Sequence[SortKey], target: Target, sources: Sequence[str]) -> Callable[[Any], Any]:
    getters = []
    for index, sort_key in enumerate(keys):
        place = Place(sources[index] if index < len(sources) else "", f"order_by[{index}]")
        getters.append((sort_value(sort_key.key, target, sort_key.span, place), sort_key.descending))
    return row_sort_key(getters, _run_tie_break if target == "runs" else None)


def run_sort_key(order_by: Sequence[SortKey] = (), sources: Sequence[str] = ()) -> Callable[[Any], Any]:
    """A ``sorted()`` key for MLflow's run order: ``order_by`` (first key primary), then start_time
    DESC, run_id ASC. ``sources`` are the order_by texts, for errors."""
    return _sort_key(order_by, "runs", sources)


def experiment_sort_key(
    order_by: Sequence[SortKey] = (), sources: Sequence[str] = ()
) -> Callable[[Any], Any]:
    """A ``sorted()`` key for MLflow's experiment order (see :func:`semantics.experiment_order`)."""
    return _sort_key(experiment_order(order_by), "experiments", sources)


def registry_sort_key(
    entity: Literal["registered_models", "model_versions"],
    order_by: Sequence[SortKey] = (),
    sources: Sequence[str] = (),
) -> Callable[[Any], Any]:
    """A ``sorted()`` key for MLflow's order of registered models or model versions (see
    :func:`semantics.registry_order`)."""
    return _sort_key(registry_order(order_by, entity), entity, sources)


def logged_model_sort_key(
    order_by: Sequence[SortKey] = (), sources: Sequence[str] = ()
) -> Callable[[Any], Any]:
    """A ``sorted()`` key for MLflow's order of logged models (see :func:`semantics.logged_model_order`)."""
    return _sort_key(logged_model_order(order_by), "logged_models", sources)


def sort_runs(runs: Iterable[T], order_by: Sequence[SortKey] = (), source: Sequence[str] = ()) -> list[T]:
    """``runs`` in MLflow's order: by ``order_by`` (first key primary), then start_time DESC, run_id ASC."""
    return sorted(runs, key=run_sort_key(order_by, source))


def sort_experiments(
    experiments: Iterable[T], order_by: Sequence[SortKey] = (), source: Sequence[str] = ()
) -> list[T]:
    """Experiments by ``order_by``; by default creation_time DESC, experiment_id ASC. Ids compare as
    strings."""
    return sorted(experiments, key=experiment_sort_key(order_by, source))
