"""The arguments of MLflow's search calls, checked and resolved as MLflow does, for every store.

Every store (:class:`runql.stores.base.RunStore`) takes the same arguments with the same defaults;
this module holds their rules once: page sizes, the experiments a search covers, and where a
query's warnings point.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from runql.common.redact import shown
from runql.errors import ArgumentError, Diagnostic, QueryWarning
from runql.model.entities import Experiment, LifecycleStage

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "SEARCH_MAX_RESULTS_DEFAULT",
    "SEARCH_MAX_RESULTS_PANDAS",
    "SEARCH_MAX_RESULTS_THRESHOLD",
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


# MLflow writes an experiment id as an integer's own decimal spelling; its schema keys them as BIGINT.
_EXPERIMENT_ID = re.compile(r"0|-?[1-9][0-9]*")
_BIGINT = 2**63


def experiment_number(text: object) -> int | None:
    """The experiment an id names, as the integer MLflow's schema keys it by; None when it names none.

    An id names an experiment only as MLflow writes it, the integer's own decimal spelling in ASCII
    digits, within BIGINT: a store in front of which ids are refused by their text (a server's deny-list)
    must not be got round with ``"07"``, ``" 7"``, ``"+7"`` or ``"٧"``, which ``int()`` reads as 7.
    """
    if not isinstance(text, str) or not _EXPERIMENT_ID.fullmatch(text):
        return None
    number = int(text)
    return number if -_BIGINT <= number < _BIGINT else None


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
                _log.warning("Cannot retrieve experiment by name %s", shown(name))
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
    # runql's folder: this module is one package down in it.
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame = frame.f_back
    where = (frame.f_code.co_filename, frame.f_lineno)
    for diagnostic in diagnostics:
        warnings.warn_explicit(QueryWarning(diagnostic), QueryWarning, *where)
