"""Searching the model registry as MLflow's SQL registry store does: the reference evaluator over
registered models and model versions, prompts left out unless the filter asks for them, and MLflow's
page sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

from runql.errors import ArgumentError
from runql.language.ast import And, Compare, Entity, Expr, In, IsNull, Key, Op
from runql.model.paging import paginate
from runql.model.registry import PROMPT_TAG, ModelVersion, PagedList, RegisteredModel, is_prompt_tag_set
from runql.profiles.compiled import CompiledQuery

__all__ = [
    "MODEL_PAGE",
    "VERSION_PAGE",
    "asks_for_prompts",
    "check_registry_page",
    "prompt_scope",
    "search_models",
    "search_versions",
]

T = TypeVar("T")

# (default, most) results per page: SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT and _THRESHOLD, and the
# same for model versions (mlflow/store/model_registry/__init__.py).
MODEL_PAGE = (100, 1000)
VERSION_PAGE = (10_000, 200_000)


def check_registry_page(max_results: object, most: int, least: int) -> int:
    """``max_results`` as MLflow's registry store checks it: an integer from ``least`` to ``most``."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < least:
        raise ArgumentError(
            f"Invalid value for max_results. It must be a positive integer, but got {max_results!r}",
            code="bad-max-results",
            where="max_results",
        )
    if max_results > most:
        raise ArgumentError(
            "Invalid value for request parameter max_results. It must be at most "
            f"{most}, but got value {max_results}",
            code="bad-max-results",
            where="max_results",
        )
    return max_results


def _terms(expr: Expr | None) -> tuple[Expr, ...]:
    return expr.terms if isinstance(expr, And) else () if expr is None else (expr,)


def _on_prompt_tag(term: Expr) -> bool:
    return isinstance(term, (Compare, In, IsNull)) and term.key == Key(Entity.TAG, PROMPT_TAG)


def asks_for_prompts(expr: Expr | None) -> bool:
    """Whether a filter asks for prompts, as MLflow's registry store reads it: its first clause on the
    prompt tag is ``= 'true'`` or ``!= 'false'`` (in any case)."""
    for term in _terms(expr):
        if _on_prompt_tag(term):
            if not isinstance(term, Compare):
                return False
            value = str(term.value.value).lower()
            return (term.op is Op.EQ and value == "true") or (term.op is Op.NE and value == "false")
    return False


def _without_prompt_clauses(query: CompiledQuery) -> CompiledQuery:
    """``query`` without its clauses on the prompt tag: MLflow's store drops them from a filter that does
    not ask for prompts, and leaves the prompts out instead."""
    terms = _terms(query.query.filter)
    kept = tuple(term for term in terms if not _on_prompt_tag(term))
    if len(kept) == len(terms):
        return query
    expr = None if not kept else kept[0] if len(kept) == 1 else And(kept)
    return CompiledQuery(replace(query.query, filter=expr), query.profile, query.entity, query.warnings)


def prompt_scope(query: CompiledQuery, prompts: bool = False) -> tuple[CompiledQuery, bool | None]:
    """What a registry search evaluates and which models it keeps, as MLflow's store reads the query:
    ``(query, True)``, prompts alone (``prompts``: search_prompts); ``(query, None)``, every model, when
    the filter asks for prompts; else ``(the query without its clauses on the prompt tag, False)``, no
    prompt (nor a version of one)."""
    if prompts:
        return query, True
    if asks_for_prompts(query.query.filter):
        return query, None
    return _without_prompt_clauses(query), False


def search_models(
    query: CompiledQuery,
    models: Sequence[RegisteredModel],
    max_results: int,
    page_token: str | bytes | None,
    prompts: bool = False,
) -> PagedList:
    """One page of the registered models ``query`` selects in its order; prompts only when it asks for
    them, or ``prompts`` (then prompts alone)."""
    query, keep = prompt_scope(query, prompts)
    kept = [m for m in models if keep is None or m.is_prompt == keep]
    return _page(query, kept, max_results, page_token)


def search_versions(
    query: CompiledQuery, versions: Sequence[ModelVersion], max_results: int, page_token: str | bytes | None
) -> PagedList:
    """One page of the model versions ``query`` selects in its order. Unless it asks for prompts, every
    version of a model one of whose versions is tagged as a prompt is left out, as MLflow does."""
    query, keep = prompt_scope(query)
    if keep is None:
        return _page(query, versions, max_results, page_token)
    prompts = {v.name for v in versions if is_prompt_tag_set(v.tags)}
    return _page(query, [v for v in versions if v.name not in prompts], max_results, page_token)


def _page(
    query: CompiledQuery, rows: Sequence[T], max_results: int, page_token: str | bytes | None
) -> PagedList:
    found = sorted(filter(query.predicate, rows), key=query.sort_key)
    items, token = paginate(found, page_token, max_results)
    return PagedList(items, token)
