"""The conformance kit: drive any backend's search against runql's reference evaluator.

:func:`check_backend` generates runs and valid queries (:mod:`runql.testing.strategies`), asks the
backend, and raises :class:`ConformanceError` with hypothesis's smallest failing example when an answer
differs from the reference evaluator's. It needs hypothesis (``pip install runql[strategies]``), which
is imported when a check runs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from runql.engines.logged_models import LoggedModelSearch, search_logged_models
from runql.engines.reference import filter_experiments, filter_runs, sort_experiments, sort_runs
from runql.engines.registry import search_models, search_versions
from runql.errors import QueryWarning, RunqlError
from runql.language.ast import Query
from runql.model.entities import DATASET_CONTEXT_TAG
from runql.model.logged_models import LoggedModel
from runql.model.registry import ModelVersion, RegisteredModel
from runql.profiles.checker import validate
from runql.profiles.compiled import compile_quietly

__all__ = [
    "DEFAULT_EXAMPLES",
    "ConformanceError",
    "check_backend",
    "disagreement_report",
    "examples",
    "expected_ids",
    "row_id",
]

SearchFn = Callable[[list[Any], str, list[str]], Sequence[str]]
"""A backend's search: ``search_fn(rows, filter_string, order_by)`` returns the ids it selects, in order."""
DEFAULT_EXAMPLES = 200
"""Generated searches per check when neither ``max_examples`` nor the variable below says otherwise."""
EXAMPLES_VARIABLE = "RUNQL_CONFORMANCE_EXAMPLES"


def _examples(default: int) -> int:
    return int(os.environ.get(EXAMPLES_VARIABLE, default))


class ConformanceError(RunqlError, AssertionError):
    """A backend's answer differs from the reference evaluator's; ``str()`` is a readable report."""

    def __init__(
        self,
        rows: Sequence[Any],
        query: Query,
        expected: Sequence[str],
        got: Sequence[str] | BaseException,
        profile: str,
        entity: str,
    ) -> None:
        self.rows, self.query, self.expected, self.got = list(rows), query, list(expected), got
        self.filter_string = query.filter_string
        self.order_by = list(query.order_by_strings)
        super().__init__(disagreement_report(self.rows, query, self.expected, got, profile, entity))


def disagreement_report(
    rows: Sequence[Any],
    query: Query,
    expected: Sequence[str],
    got: Sequence[str] | BaseException,
    profile: str,
    entity: str,
) -> str:
    """The report of a disagreement: the query, both answers, and every row searched."""
    lines = [
        f"the backend disagrees with runql's reference evaluator ({profile} profile, {entity})",
        f"  filter_string: {query.filter_string!r}",
        f"  order_by:      {list(query.order_by_strings)!r}",
        f"  expected:      {_answer_text(expected)}",
        f"  got:           {_answer_text(got)}",
        f"  {entity} ({len(rows)}):",
    ]
    lines += [f"    {_describe(row)}" for row in rows]
    return "\n".join(lines)


def _answer_text(answer: Sequence[str] | BaseException) -> str:
    if isinstance(answer, BaseException):
        return f"raised {type(answer).__name__}: {answer}"
    return answer if isinstance(answer, str) else repr(list(answer))


def _describe(row: Any) -> str:
    if isinstance(row, (RegisteredModel, ModelVersion, LoggedModel)):
        return repr(row)
    if not hasattr(row, "data"):
        return (
            f"{row.experiment_id}: name={row.name!r} creation_time={row.creation_time} "
            f"last_update_time={row.last_update_time} tags={dict(row.tags)!r}"
        )
    info, data = row.info, row.data
    inputs = getattr(getattr(row, "inputs", None), "dataset_inputs", None) or []
    datasets = [
        (d.dataset.name, d.dataset.digest, *[t.value for t in d.tags if t.key == DATASET_CONTEXT_TAG])
        for d in inputs
    ]
    parts = [
        f"{info.run_id}: run_name={info.run_name!r} status={info.status} user_id={info.user_id!r}",
        f"start_time={info.start_time} end_time={info.end_time}",
        f"metrics={dict(data.metrics)!r} params={dict(data.params)!r} tags={dict(data.tags)!r}",
    ]
    if datasets:
        parts.append(f"datasets={datasets!r}")
    return " ".join(parts)


def row_id(row: Any) -> str:
    """The id of a run (``run.info.run_id``), an experiment (``experiment_id``), a registered model (its
    name), a model version (``name/version``) or a logged model (``model_id``)."""
    if isinstance(row, ModelVersion):
        return f"{row.name}/{row.version}"
    if isinstance(row, RegisteredModel):
        return row.name
    if isinstance(row, LoggedModel):
        return row.model_id
    return str(row.info.run_id) if hasattr(row, "info") else str(row.experiment_id)


def expected_ids(
    rows: Sequence[Any], query: Query, entity: str = "runs", profile: str = "mlflow"
) -> list[str]:
    """The ids the reference evaluator returns for ``query`` (already validated for ``profile``) over
    ``rows``. The model registry leaves prompts out unless the filter asks for them, and a logged-model
    search deleted models, as MLflow's stores do."""
    if entity == "runs":
        found = sort_runs(filter_runs(rows, query.filter), query.order_by)
    elif entity == "experiments":
        found = sort_experiments(filter_experiments(rows, query.filter), query.order_by)
    else:
        compiled = compile_quietly(query, profile=profile, entity=entity)
        everything = max(len(rows), 1)
        if entity == "registered_models":
            found = search_models(compiled, rows, everything, None)
        elif entity == "model_versions":
            found = search_versions(compiled, rows, everything, None)
        else:
            experiment_ids = sorted({row.experiment_id for row in rows})
            search = LoggedModelSearch(compiled, experiment_ids, (), (), None, None, everything, None)
            found = search_logged_models(search, rows)
    return [row_id(row) for row in found]


def check_backend(
    search_fn: SearchFn,
    *,
    profile: str = "mlflow",
    entity: str = "runs",
    max_examples: int | None = None,
    seed: int | None = 0,
    shrink: bool = True,
) -> None:
    """Drive ``search_fn`` with generated data and queries; raise :class:`ConformanceError` on a difference.

    ``search_fn(rows, filter_string, order_by)`` gets a list of runql ``Run`` objects (shaped like
    ``mlflow.entities.Run``; ``Experiment``, ``RegisteredModel``, ``ModelVersion`` or ``LoggedModel``
    objects with ``entity="experiments"``, ``"registered_models"``, ``"model_versions"`` or
    ``"logged_models"``), a filter string and a list of order_by clauses the profile accepts (for logged
    models, each ``metrics.<name> DESC`` stands for MLflow's ``{"field_name": "metrics.<name>",
    "ascending": False}``), and returns the ids of the rows it selects, in its order (:func:`row_id`). The
    report shows hypothesis's smallest failing example. ``max_examples`` defaults to
    ``$RUNQL_CONFORMANCE_EXAMPLES`` or 200; ``seed`` fixes the examples (``None`` explores anew on every
    call). ``shrink=False`` reports the first failing example as found: shrinking a generated workspace can
    take minutes.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fix_seed

    from runql.testing.query_strategies import search_cases

    count = _examples(DEFAULT_EXAMPLES) if max_examples is None else max_examples

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[phase for phase in Phase if shrink or phase is not Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(search_cases(profile, entity))
    def conforms(case: tuple[list[Any], Query]) -> None:
        rows, query = case
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lowered = validate(query, profile, entity)
        expected = expected_ids(rows, lowered, entity, profile)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", QueryWarning)
                got = [
                    str(i) for i in search_fn(list(rows), query.filter_string, list(query.order_by_strings))
                ]
        except Exception as error:  # any failure of the backend is a finding, reported like a wrong answer
            raise ConformanceError(rows, query, expected, error, profile, entity) from error
        if got != expected:
            raise ConformanceError(rows, query, expected, got, profile, entity)

    if seed is not None:
        conforms = fix_seed(seed)(conforms)
    conforms()


def examples(strategy: Any, count: int, seed: int = 0) -> list[Any]:
    """``count`` values of a hypothesis ``strategy``, the same ones for the same ``seed`` (no shrinking)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fix_seed

    found: list[Any] = []

    @fix_seed(seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found[:count]
