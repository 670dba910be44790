"""A query compiled once: parsed, checked against a profile, lowered, ready for any engine.

:func:`compile` is the one place a query enters runql. The :class:`CompiledQuery` it returns carries the
lowered AST and the profile's warnings; the engines (the reference evaluator, the column store, SQL)
read ``.query`` and never parse or validate again. The object is immutable and safe to share between
threads and to reuse for many searches.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, TypeVar

from runql.engines.reference import (
    experiment_sort_key,
    logged_model_sort_key,
    predicate,
    registry_sort_key,
    run_sort_key,
)
from runql.errors import Diagnostic, QueryWarning
from runql.language.ast import Expr, Query
from runql.model.arguments import check_page_size
from runql.model.paging import paginate
from runql.profiles.catalog import Profile
from runql.profiles.checker import analyse

__all__ = ["CompiledQuery", "OrderBy", "compile"]

T = TypeVar("T")
Target = Literal["runs", "experiments", "registered_models", "model_versions", "logged_models"]
OrderBy = str | Sequence[str] | None


@dataclass(frozen=True, eq=False)
class CompiledQuery:
    """A query checked against ``profile`` and lowered to MLflow's meaning, for ``entity`` rows.

    ``query`` is the lowered AST (filter and order_by, with the texts they came from for error carets);
    ``warnings`` the non-fatal diagnostics the profile found.
    """

    query: Query
    profile: Profile
    entity: Target
    warnings: tuple[Diagnostic, ...] = ()
    _test: Callable[[Any], bool] = field(init=False, repr=False)
    _key: Callable[[Any], Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Compiling the row functions here makes a problem only evaluation finds (an unknown attribute
        # in a hand-built tree) an error of compile(), before any row is read.
        q = self.query
        object.__setattr__(self, "_test", predicate(q.filter, self.entity, q.filter_string))
        if self.entity == "runs":
            key = run_sort_key(q.order_by, q.order_by_strings)
        elif self.entity == "experiments":
            key = experiment_sort_key(q.order_by, q.order_by_strings)
        elif self.entity == "logged_models":
            key = logged_model_sort_key(q.order_by, q.order_by_strings)
        else:
            key = registry_sort_key(self.entity, q.order_by, q.order_by_strings)
        object.__setattr__(self, "_key", key)

    def predicate(self, row: Any) -> bool:
        """Whether the filter selects ``row`` (a row for which it is unknown is not selected)."""
        return self._test(row)

    def sort_key(self, row: Any) -> Any:
        """A key for ``sorted()`` that puts rows in MLflow's order for this query's order_by."""
        return self._key(row)

    def search(
        self, rows: Iterable[T], max_results: int | None = None, page_token: str | bytes | None = None
    ) -> tuple[list[T], str | None]:
        """The rows the filter selects, in order, one page at a time, with the next page's token
        (None after the last page); ``max_results=None`` returns every remaining row, and otherwise it is
        a page size as MLflow's stores take it (1 to 50,000; ``bad-max-results`` else)."""
        check_page_size(max_results, allow_none=True)
        try:
            ordered = sorted(filter(self._test, rows), key=self._key)
        except AttributeError as error:
            shape = (
                "runs must be shaped like mlflow.entities.Run (run.info.run_id, run.info.start_time, ..., "
                "run.data.metrics, run.data.params, run.data.tags)"
                if self.entity == "runs"
                else "experiments must be shaped like mlflow.entities.Experiment"
            )
            raise TypeError(f"{shape}: {error}") from None
        return paginate(ordered, page_token, max_results)

    def warn(self, stacklevel: int = 2) -> None:
        """Emit the warnings as :class:`QueryWarning`, ``stacklevel`` frames above the caller."""
        for diagnostic in self.warnings:
            warnings.warn(QueryWarning(diagnostic), stacklevel=stacklevel + 1)


def compile(
    filter_string: str | Query | Expr | None = "",
    order_by: OrderBy = None,
    *,
    profile: str | Profile = "mlflow",
    entity: str = "runs",
) -> CompiledQuery:
    """Parse, check against ``profile`` and lower once; emits the warnings as :class:`QueryWarning`.

    ``filter_string`` may also be a parsed :class:`Query` or a filter expression. Raises
    ``QuerySyntaxError`` for text outside the language and ``UnsupportedQueryError`` (with every
    problem) when the profile refuses the query.
    """
    compiled = compile_quietly(filter_string, order_by, profile=profile, entity=entity)
    compiled.warn(stacklevel=2)
    return compiled


def compile_quietly(
    filter_string: str | Query | Expr | None = "",
    order_by: OrderBy = None,
    *,
    profile: str | Profile = "mlflow",
    entity: str = "runs",
) -> CompiledQuery:
    """:func:`compile` without emitting the warnings, for callers that report them from elsewhere."""
    target = _entity(entity)
    if order_by is not None and not isinstance(order_by, str):
        order_by = tuple(order_by)  # an iterator is read once, and a tuple can key the cache
    # Only texts key the cache: a parsed tree equals another that was written otherwise (with
    # parentheses, say), which a profile may judge differently.
    if not (filter_string is None or isinstance(filter_string, str)):
        return _compile(filter_string, order_by, profile, target)
    if filter_string is not None and _NOW.search(filter_string):
        # A relative date ('now-7d') is read when compiled: a cached query would keep an old "now".
        return _compile(filter_string, order_by, profile, target)
    try:
        hash((order_by, profile))
    except TypeError:  # a list inside order_by, say: compile it without the cache
        return _compile(filter_string, order_by, profile, target)
    return _cached(filter_string, order_by, profile, target)


def _compile(
    filter_string: str | Query | Expr | None, order_by: OrderBy, profile: str | Profile, entity: Target
) -> CompiledQuery:
    query, diagnostics, resolved = analyse(filter_string, profile, entity, order_by)
    return CompiledQuery(query, resolved, entity, tuple(diagnostics))


# A quoted text starting with "now": possibly a relative date (runql.profiles.dates). Over-matching costs a
# cache miss.
_NOW = re.compile(r"""['"]\s*now""", re.IGNORECASE)

# Parsing is cached by text already; this also saves checking and lowering a query a store repeats.
_cached = lru_cache(maxsize=256)(_compile)


_TARGETS: dict[str, Target] = {
    "runs": "runs",
    "experiments": "experiments",
    "registered_models": "registered_models",
    "model_versions": "model_versions",
    "logged_models": "logged_models",
}


def _entity(entity: str) -> Target:
    found = _TARGETS.get(entity)
    if found is None:
        raise ValueError(f"entity must be one of {', '.join(_TARGETS)}, not {entity!r}")
    return found
