"""The embedding entry point: MLflow's in-memory search over any run- or experiment-shaped objects.

A tracking store that holds its own runs replaces ``SearchUtils.filter``, ``sort`` and ``paginate``
with one call to :func:`search`. A store that iterates its own data takes the two halves apart:
:func:`compile_predicate` for the filter and :func:`sort_key` for ``sorted()``; a store that answers
the same query many times keeps the :class:`~runql.profiles.compiled.CompiledQuery` of ``runql.compile``.

Objects need only the attributes ``mlflow.entities.Run`` has (``info.run_id``, ``info.start_time``,
..., ``data.metrics``, ``data.params``, ``data.tags``, ``inputs.dataset_inputs``), or those of
``mlflow.entities.Experiment``. Every query is validated against the profile before any row is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from runql.language.ast import Expr, Query
from runql.profiles.catalog import Profile
from runql.profiles.compiled import OrderBy, compile_quietly

__all__ = ["compile_predicate", "search", "search_experiments", "sort_key"]

T = TypeVar("T")


def search(
    runs: Iterable[T],
    filter_string: str | None = "",
    order_by: OrderBy = None,
    max_results: int | None = None,
    page_token: str | bytes | None = None,
    profile: str | Profile = "mlflow",
) -> tuple[list[T], str | None]:
    """The runs ``filter_string`` selects, in ``order_by`` order, one page at a time.

    ``runs`` are any objects shaped like ``mlflow.entities.Run``; ``order_by`` is a list of clauses (a
    single string is one clause); ``max_results`` is the page size (None: every remaining run);
    ``page_token`` is None for the first page, then the token returned; ``profile`` is the name of a
    shipped profile or a :class:`Profile`. Returns the page and the token of the next one (None after
    the last page), as ``SearchUtils.paginate`` does.
    """
    compiled = compile_quietly(filter_string, order_by, profile=profile, entity="runs")
    compiled.warn(stacklevel=2)
    return compiled.search(runs, max_results, page_token)


def search_experiments(
    experiments: Iterable[T],
    filter_string: str | None = "",
    order_by: OrderBy = None,
    max_results: int | None = None,
    page_token: str | bytes | None = None,
    profile: str | Profile = "mlflow",
) -> tuple[list[T], str | None]:
    """The experiments ``filter_string`` selects, by default newest first, one page at a time."""
    compiled = compile_quietly(filter_string, order_by, profile=profile, entity="experiments")
    compiled.warn(stacklevel=2)
    return compiled.search(experiments, max_results, page_token)


def compile_predicate(
    query: str | Query | Expr | None, profile: str | Profile = "mlflow", entity: str = "runs"
) -> Callable[[Any], bool]:
    """A test ``row -> bool`` for the filter of ``query``; a row for which it is unknown is not selected."""
    compiled = compile_quietly(query, profile=profile, entity=entity)
    compiled.warn(stacklevel=2)
    return compiled.predicate


def sort_key(
    order_by: OrderBy, profile: str | Profile = "mlflow", entity: str = "runs"
) -> Callable[[Any], tuple[Any, ...]]:
    """A key for ``sorted()`` that puts rows in MLflow's order for ``order_by``.

    Each clause sorts values first, then NaN, then missing, in both directions; runs are tie-broken
    by start_time DESC then run_id ASC, experiments as :func:`search_experiments` orders them.
    """
    compiled = compile_quietly(None, order_by, profile=profile, entity=entity)
    compiled.warn(stacklevel=2)
    return compiled.sort_key
