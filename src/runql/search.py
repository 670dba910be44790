"""The embedding entry point: MLflow's in-memory search over any run- or experiment-shaped objects.

A tracking store that holds its own runs replaces ``SearchUtils.filter``, ``sort`` and ``paginate``
with one call to :func:`search`. A store that iterates its own data takes the two halves apart:
:func:`compile_predicate` for the filter and :func:`sort_key` for ``sorted()``.

Objects need only the attributes ``mlflow.entities.Run`` has (``info.run_id``, ``info.start_time``,
..., ``data.metrics``, ``data.params``, ``data.tags``, ``inputs.dataset_inputs``), or those of
``mlflow.entities.Experiment``. Every query is validated against the profile before any row is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeVar

from .ast import Entity, Expr, Key, Query, SortKey
from .evaluate.reference import (
    DEFAULT_EXPERIMENT_ORDER,
    filter_experiments,
    filter_runs,
    paginate,
    predicate,
    sort_experiments,
    sort_runs,
    sort_value,
)
from .profiles import Profile
from .validate import validate

__all__ = ["compile_predicate", "search", "search_experiments", "sort_key"]

T = TypeVar("T")
OrderBy = str | Sequence[str] | None


def search(
    runs: Iterable[T],
    filter_string: str | None = "",
    order_by: OrderBy = None,
    max_results: int | None = None,
    page_token: str | bytes | None = None,
    profile: str | Profile = "mlflow",
) -> tuple[list[T], str | None]:
    """The runs ``filter_string`` selects, in ``order_by`` order, one page at a time.

    Returns the page and the token of the next one (None after the last page), as
    ``SearchUtils.paginate`` does; ``max_results=None`` returns every remaining run.
    """
    query = validate(filter_string, profile, "runs", order_by)
    # One pass over the runs: a column store pays for itself only when it answers many searches.
    try:
        selected = filter_runs(runs, query.filter, query.filter_string)
        ordered = sort_runs(selected, query.order_by, query.order_by_strings)
    except AttributeError as error:
        raise TypeError(
            "runs must be shaped like mlflow.entities.Run (run.info.run_id, run.info.start_time, ..., "
            f"run.data.metrics, run.data.params, run.data.tags): {error}"
        ) from None
    return paginate(ordered, page_token, max_results)


def search_experiments(
    experiments: Iterable[T],
    filter_string: str | None = "",
    order_by: OrderBy = None,
    max_results: int | None = None,
    page_token: str | bytes | None = None,
    profile: str | Profile = "mlflow",
) -> tuple[list[T], str | None]:
    """The experiments ``filter_string`` selects, by default newest first, one page at a time."""
    query = validate(filter_string, profile, "experiments", order_by)
    selected = filter_experiments(experiments, query.filter, query.filter_string)
    ordered = sort_experiments(selected, query.order_by, query.order_by_strings)
    return paginate(ordered, page_token, max_results)


def compile_predicate(
    query: str | Query | Expr | None, profile: str | Profile = "mlflow", entity: str = "runs"
) -> Callable[[Any], bool]:
    """A test ``row -> bool`` for the filter of ``query``; a row for which it is unknown is not selected."""
    target = _entity(entity)
    validated = validate(query, profile, target)
    return predicate(validated.filter, target, validated.filter_string)


def sort_key(
    order_by: OrderBy, profile: str | Profile = "mlflow", entity: str = "runs"
) -> Callable[[Any], tuple[Any, ...]]:
    """A key for ``sorted()`` that puts rows in MLflow's order for ``order_by``.

    Each clause sorts values first, then NaN, then missing, in both directions; runs are tie-broken
    by start_time DESC then run_id ASC, experiments as :func:`search_experiments` orders them.
    """
    target = _entity(entity)
    keys = validate(None, profile, target, order_by).order_by
    if target == "experiments":
        return _experiment_key(keys)
    getters = [(sort_value(k.key, "runs"), k.descending) for k in keys]

    def key(run: Any) -> tuple[Any, ...]:
        parts: list[Any] = [_tiered(get(run), descending) for get, descending in getters]
        start = run.info.start_time
        parts.append((start is None, -(start or 0), run.info.run_id))
        return tuple(parts)

    return key


# -- sort keys ----------------------------------------------------------------------------------


class _Descending:
    """Reverses the order of any comparable value, so one tuple key can mix directions."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and bool(self.value == other.value)

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.value < self.value)

    def __hash__(self) -> int:
        return hash(self.value)


def _tiered(value: Any, descending: bool) -> tuple[int, Any]:
    # Tier 0 holds values, 1 NaN, 2 missing: the tier is never reversed, so both directions end alike.
    if value is None:
        return (2, 0)
    if value != value:
        return (1, 0)
    return (0, _Descending(value) if descending else value)


def _experiment_key(order_by: Sequence[SortKey]) -> Callable[[Any], tuple[Any, ...]]:
    keys = tuple(order_by) or DEFAULT_EXPERIMENT_ORDER
    experiment_id = Key(Entity.ATTRIBUTE, "experiment_id")
    if not any(k.key == experiment_id for k in keys):
        keys = (*keys, SortKey(experiment_id, descending=True))
    getters = [(sort_value(k.key, "experiments"), k.descending) for k in keys]

    def key(experiment: Any) -> tuple[Any, ...]:
        return tuple(_tiered(get(experiment), descending) for get, descending in getters)

    return key


# -- helpers ------------------------------------------------------------------------------------


def _entity(entity: str) -> Literal["runs", "experiments"]:
    if entity == "runs":
        return "runs"
    if entity == "experiments":
        return "experiments"
    raise ValueError(f"entity must be 'runs' or 'experiments', not {entity!r}")
