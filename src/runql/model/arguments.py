"""The arguments of MLflow's search calls, checked and resolved as MLflow does, for every store.

The Workspace and the SQL store take the same arguments with the same defaults; this module holds
their rules once: page sizes, the experiments a search covers, where a query's warnings point, and
the experiment searches themselves (experiments are few: every store searches them in memory).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from runql.errors import ArgumentError, Diagnostic
from runql.language.ast import Entity, Key, clauses
from runql.model.keys import KeySets, absent_keys
from runql.model.paging import paginate
from runql.model.records import Experiment, LifecycleStage, Run, ViewType
from runql.profiles.catalog import Profile
from runql.profiles.checker import QueryWarning
from runql.profiles.compiled import CompiledQuery, OrderBy, compile_quietly

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "SEARCH_MAX_RESULTS_DEFAULT",
    "SEARCH_MAX_RESULTS_PANDAS",
    "SEARCH_MAX_RESULTS_THRESHOLD",
    "ExperimentSearches",
    "check_page_size",
    "check_total",
    "id_list",
    "resolve_experiments",
    "warn_at_caller",
]

_log = logging.getLogger("runql")

DEFAULT_EXPERIMENT_ID = "0"
SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50000
SEARCH_MAX_RESULTS_PANDAS = 100000


def _max_results_error(value: Any, message: str) -> ArgumentError:
    return ArgumentError(
        message,
        code="bad-max-results",
        where="max_results",
        source=repr(value),
        hint=f"pass an integer from 1 to {SEARCH_MAX_RESULTS_THRESHOLD}, and page with page_token",
    )


def check_page_size(max_results: Any, allow_none: bool) -> None:
    """MLflow's store rule for one page: a positive integer, at most 50000."""
    if max_results is None and allow_none:
        return
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
        raise _max_results_error(
            max_results,
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            "It must be a positive integer",
        )
    if max_results > SEARCH_MAX_RESULTS_THRESHOLD:
        raise _max_results_error(
            max_results,
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            f"It must be at most {SEARCH_MAX_RESULTS_THRESHOLD}",
        )


def check_total(max_results: Any) -> int | None:
    """The fluent API's rule: None is everything, an int caps the result (0 or less: nothing)."""
    if max_results is None:
        return None
    if not isinstance(max_results, int) or isinstance(max_results, bool):
        raise _max_results_error(
            max_results, f"Invalid value {max_results!r} for parameter 'max_results'. It must be an integer"
        )
    return max(max_results, 0)


def id_list(given: Any) -> list[str]:
    """``experiment_ids`` as a list of strings (one id may be given alone)."""
    if given is None:
        return []
    if isinstance(given, (str, int)):
        return [str(given)]
    return [str(i) for i in given]


def resolve_experiments(
    given_ids: Any,
    given_names: Sequence[str] | str | None,
    search_all_experiments: bool,
    experiments: Callable[[], Iterable[Experiment]],
    active_experiment_id: str,
) -> list[str]:
    """The experiments ``mlflow.search_runs`` searches: the ids given, or the named experiments (an
    unknown name is skipped with a warning), or every active one with ``search_all_experiments``, or
    else the active experiment. ``experiments`` reads the store's experiments, only when needed."""
    ids = id_list(given_ids)
    names = [given_names] if isinstance(given_names, str) else list(given_names or [])
    if ids and names:
        raise ArgumentError(
            "Only experiment_ids or experiment_names can be used, but not both",
            code="experiment-ids-and-names",
            where="experiment_ids",
            hint="pass experiment_ids or experiment_names, not both",
        )
    if ids:
        return ids
    if names:
        by_name = {e.name: e.experiment_id for e in experiments()}
        resolved = []
        for name in names:
            if name in by_name:
                resolved.append(by_name[name])
            else:
                _log.warning("Cannot retrieve experiment by name %s", name)
        return resolved
    if search_all_experiments:
        return [e.experiment_id for e in experiments() if e.lifecycle_stage == LifecycleStage.ACTIVE]
    return [active_experiment_id]


def warn_at_caller(diagnostics: Iterable[Diagnostic]) -> None:
    """Issue the warnings as :class:`QueryWarning` from the first frame outside runql: the user's line."""
    diagnostics = list(diagnostics)
    if not diagnostics:
        return
    frame = sys._getframe(1)
    package = os.path.dirname(os.path.abspath(__file__))
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame = frame.f_back
    where = (frame.f_code.co_filename, frame.f_lineno)
    for diagnostic in diagnostics:
        warnings.warn_explicit(QueryWarning(diagnostic), QueryWarning, *where)


# Where a run keeps each kind of key the absent-key warnings look at.
_DATA = {Entity.METRIC: "metrics", Entity.PARAM: "params", Entity.TAG: "tags"}


def held_by_any(runs: Sequence[Run]) -> Callable[[Key], bool]:
    """Whether some run of ``runs`` (a page of an answer) has a metric, param or tag ``key``."""
    return lambda key: any(key.name in getattr(run.data, _DATA[key.entity]) for run in runs)


class ExperimentSearches(ABC):
    """``search_experiments`` and ``search_experiments_paged`` over a store's ``experiments``, and the
    compiling of a query against the store's default ``profile``."""

    profile: str | Profile

    @property
    @abstractmethod
    def experiments(self) -> list[Experiment]:
        """Every experiment of the store, active and deleted."""

    def _compile(
        self, filter_string: str | None, profile: str | Profile | None, entity: str, order_by: OrderBy
    ) -> CompiledQuery:
        chosen = self.profile if profile is None else profile
        compiled = compile_quietly(filter_string, order_by, profile=chosen, entity=entity)
        warn_at_caller(compiled.warnings)
        return compiled

    @abstractmethod
    def key_sets(self, experiment_ids: Iterable[str], lifecycle_stages: Iterable[str]) -> KeySets | None:
        """The metric, param and tag keys of the runs searched, or None when only reading every run
        would tell."""

    def _warn_absent_keys(
        self,
        compiled: CompiledQuery,
        experiment_ids: Iterable[str],
        view_type: int | str | ViewType,
        answered: Callable[[Key], bool],
    ) -> None:
        """Warn of the query's keys that no searched run has (``metrics.acc`` for ``accuracy``).
        ``answered(key)`` says whether some run of the answer has the key; the store's keys are read
        only when one is absent from the whole answer."""
        q = compiled.query
        keys = [c.key for c in clauses(q.filter)] + [s.key for s in q.order_by]
        if all(answered(key) for key in keys if key.entity in _DATA):
            return
        present = self.key_sets(experiment_ids, ViewType.coerce(view_type).stages)
        if present is not None:
            warn_at_caller(absent_keys(compiled.query, present))

    def _search_experiments(
        self,
        view_type: int | str | ViewType,
        filter_string: str | None,
        order_by: OrderBy,
        profile: str | Profile | None,
    ) -> list[Experiment]:
        compiled = self._compile(filter_string, profile, "experiments", order_by)
        stages = ViewType.coerce(view_type).stages
        return compiled.search([e for e in self.experiments if e.lifecycle_stage in stages])[0]

    def search_experiments(
        self,
        view_type: int | str | ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | str | None = None,
        profile: str | Profile | None = None,
    ) -> list[Experiment]:
        """Experiments matching ``filter_string``, by default newest first (``mlflow.search_experiments``).

        ``view_type`` chooses active, deleted or all experiments; ``max_results`` caps the list (None:
        all); ``order_by`` lists ``name``, ``experiment_id``, ``creation_time`` or ``last_update_time``
        clauses; ``profile`` overrides the store's.
        """
        limit = check_total(max_results)
        found = self._search_experiments(view_type, filter_string, order_by, profile)
        return found if limit is None else found[:limit]

    def search_experiments_paged(
        self,
        view_type: int | str | ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | str | None = None,
        page_token: str | bytes | None = None,
        profile: str | Profile | None = None,
    ) -> tuple[list[Experiment], str | None]:
        """One page of experiments and the next page's token, like ``MlflowClient.search_experiments``;
        the arguments are :meth:`search_experiments`'s, with ``page_token`` (None for the first page)."""
        check_page_size(max_results, allow_none=False)
        found = self._search_experiments(view_type, filter_string, order_by, profile)
        return paginate(found, page_token, max_results)
