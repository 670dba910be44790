"""Searching logged models as MLflow's SQL store does: its ``order_by`` of dicts read into the language,
``datasets`` scoping the metric clauses, MLflow's order and tie-breaks, and its page tokens.

A filter's metric clause matches a model when any of its points of that metric does, on one of the
``datasets`` when the search names some; with ``datasets`` and no metric clause, a model needs a point on
one of them. An order_by entry on a metric reads its latest point (on the entry's own dataset, when it
names one). Deleted models and models of other experiments are never found.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runql.engines.reference import Place, sort_value
from runql.engines.semantics import logged_model_order, row_sort_key
from runql.errors import ArgumentError
from runql.language.ast import Entity, SortKey, clauses
from runql.model.logged_models import DatasetFilter, LoggedModel
from runql.model.registry import PagedList
from runql.profiles.compiled import CompiledQuery

__all__ = [
    "LOGGED_MODEL_PAGE",
    "LoggedModelSearch",
    "OrderEntry",
    "needs_a_point",
    "order_by_entries",
    "page_size",
    "search_logged_models",
]

LOGGED_MODEL_PAGE = 100
"""MLflow's default page of logged models (SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT); it sets no most."""

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(frozen=True, slots=True)
class OrderEntry:
    """One entry of a logged-model search's ``order_by``, checked: its key as order_by text, and the
    dataset its metric is read on."""

    text: str
    dataset_name: str | None = None
    dataset_digest: str | None = None


def _bad_order(index: int, message: str) -> ArgumentError:
    return ArgumentError(
        message,
        code="bad-datasets",
        where=f"order_by[{index}]",
        hint='order_by=[{"field_name": "metrics.accuracy", "ascending": False, "dataset_name": "eval"}]',
    )


def order_by_entries(order_by: Sequence[Mapping[str, Any]] | None) -> tuple[OrderEntry, ...]:
    """MLflow's ``order_by`` of dicts (``field_name``, ``ascending``, ``dataset_name``,
    ``dataset_digest``) as order_by texts runql parses (``metrics.`f1 score` DESC``)."""
    if isinstance(order_by, (str, Mapping)):
        raise _bad_order(0, "`order_by` must be a list of dictionaries.")
    entries = []
    for index, entry in enumerate(order_by or ()):
        if not isinstance(entry, Mapping):
            raise _bad_order(index, "`order_by` must be a list of dictionaries.")
        field_name = entry.get("field_name")
        if not isinstance(field_name, str) or not field_name.strip():
            raise _bad_order(index, "`field_name` in the `order_by` clause must be specified.")
        ascending = entry.get("ascending", True)
        if not isinstance(ascending, bool):
            raise _bad_order(
                index,
                f"Value of `ascending` in the `order_by` clause must be a boolean, got {type(ascending)} "
                f"for field {field_name}.",
            )
        prefix, dot, name = field_name.partition(".")
        key = f"{prefix}.{_quoted(name)}" if dot else field_name.strip()
        entries.append(
            OrderEntry(
                key if ascending else f"{key} DESC",
                entry.get("dataset_name") or None,
                entry.get("dataset_digest") or None,
            )
        )
    return tuple(entries)


def _quoted(name: str) -> str:
    return name if name and set(name) <= _PLAIN and not name[0].isdigit() else f"`{name}`"


# -- page tokens: MLflow's SearchLoggedModelsPaginationToken, so a token continues on either side


def _page_token(offset: int, experiment_ids: list[str], filter_string: str | None, order_by: Any) -> str:
    """MLflow's token of the page from ``offset`` of a search with these arguments, as given."""
    fields = {"experiment_ids": experiment_ids, "filter_string": filter_string, "order_by": order_by}
    return base64.b64encode(json.dumps({**fields, "offset": offset}).encode("utf-8")).decode("utf-8")


def _token_error(message: str) -> ArgumentError:
    return ArgumentError(
        message,
        code="bad-page-token",
        where="page_token",
        hint="pass the token of the previous page with the same experiment_ids, filter_string and order_by",
    )


def _start_offset(
    token: str | None, experiment_ids: list[str], filter_string: str | None, order_by: Any
) -> int:
    """Where the page ``token`` names starts (0 without one), once it is checked to be a token of a
    search with the same experiment ids, filter and order_by (``""`` and ``[]`` read as none)."""
    if not token:
        return 0
    try:
        fields = json.loads(base64.b64decode(token.encode("utf-8"), validate=True).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        raise _token_error(f"Invalid page token: {token[:200]!r}") from None
    if not isinstance(fields, dict):
        raise _token_error(f"Invalid page token: {token[:200]!r}")
    for name, given in (
        ("experiment_ids", experiment_ids),
        ("filter_string", filter_string or None),
        ("order_by", _without_defaults(order_by)),
    ):
        found = fields.get(name) if name == "experiment_ids" else fields.get(name) or None
        if name == "order_by":
            found = _without_defaults(found)
        if found != given:
            raise _token_error(
                f"{name} in the page token does not match the search's: expected {given!r}, found {found!r}"
            )
    offset = fields.get("offset") or 0
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise _token_error(f"Invalid page token, offset={offset!r}")
    return offset


_ORDER_DEFAULTS = {"ascending": True, "dataset_name": None, "dataset_digest": None}


def _without_defaults(order_by: Any) -> Any:
    """``order_by`` without the fields an entry holds by default: MLflow's server writes them into its
    tokens (``"ascending": true``, the dataset fields null) where its store leaves them out."""
    if not order_by or not isinstance(order_by, (list, tuple)):
        return order_by or None
    return [
        {k: v for k, v in entry.items() if k not in _ORDER_DEFAULTS or v != _ORDER_DEFAULTS[k]}
        if isinstance(entry, dict)
        else entry
        for entry in order_by
    ]


def page_size(max_results: object) -> int:
    """``max_results`` as MLflow's SQL store reads it: none (or 0) is 100, and there is no most."""
    if max_results is not None and (
        isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0
    ):
        raise ArgumentError(
            f"max_results must be a positive integer, not {max_results!r}",
            code="bad-max-results",
            where="max_results",
        )
    return max_results or LOGGED_MODEL_PAGE


# -- the search


class _Scoped:
    """A model as a search with ``datasets`` reads it: its metrics only on those datasets."""

    __slots__ = ("datasets", "model")

    def __init__(self, model: LoggedModel, datasets: Sequence[DatasetFilter]) -> None:
        self.model = model
        self.datasets = datasets

    def metric_values(self, key: str) -> tuple[float, ...]:
        return self.model.metric_values(key, self.datasets)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def _sort_key(query: CompiledQuery, entries: Sequence[OrderEntry]) -> Any:
    """MLflow's order: each entry (a metric on its dataset), then the tie-breaks."""
    getters = []
    sources = query.query.order_by_strings
    for index, sort_key in enumerate(logged_model_order(query.query.order_by)):
        entry = entries[index] if index < len(entries) else OrderEntry("")
        getters.append(
            (_value(sort_key, entry, sources[index] if index < len(sources) else ""), sort_key.descending)
        )
    return row_sort_key(getters)


def _value(sort_key: SortKey, entry: OrderEntry, source: str) -> Any:
    key = sort_key.key
    if key.entity is Entity.METRIC and (entry.dataset_name or entry.dataset_digest):
        name, dataset, digest = key.name, entry.dataset_name, entry.dataset_digest
        return lambda m: m.latest_metric(name, dataset, digest)
    return sort_value(key, "logged_models", sort_key.span, Place(source, "order_by"))


def needs_a_point(query: CompiledQuery, datasets: Sequence[DatasetFilter]) -> bool:
    """Whether a model must have a point on one of ``datasets``: they are given and no clause names a
    metric, as MLflow's store reads a search's datasets."""
    return bool(datasets) and not any(c.key.entity is Entity.METRIC for c in clauses(query.query.filter))


@dataclass(frozen=True)
class LoggedModelSearch:
    """One call of ``search_logged_models``, read and checked: what every store answers from."""

    query: CompiledQuery
    """The filter and the order_by entries' texts, compiled."""
    experiment_ids: list[str]
    datasets: tuple[DatasetFilter, ...]
    entries: tuple[OrderEntry, ...]
    """``order_by`` as :func:`order_by_entries` read it."""
    filter_string: str | None
    order_by: Any
    """``order_by`` as given: it goes into the page token, as MLflow's does."""
    size: int
    token: str | None
    offset: int = field(init=False)
    """Where the page starts: the token, checked against this search when the search is made."""

    def __post_init__(self) -> None:
        offset = _start_offset(self.token, self.experiment_ids, self.filter_string, self.order_by)
        object.__setattr__(self, "offset", offset)

    def next_token(self, found: int) -> str | None:
        """The next page's token, when ``found`` rows are more than this page reaches."""
        end = self.offset + self.size
        return (
            _page_token(end, self.experiment_ids, self.filter_string, self.order_by) if found > end else None
        )


def search_logged_models(search: LoggedModelSearch, models: Sequence[LoggedModel]) -> PagedList:
    """One page of ``models`` (those of the search's experiments, not deleted) that ``search`` selects, in
    MLflow's order."""
    query, scope = search.query, search.datasets
    offset = search.offset
    wanted = set(search.experiment_ids)
    rows = [_Scoped(m, scope) for m in models if m.experiment_id in wanted and m.lifecycle_stage != "deleted"]
    if needs_a_point(query, scope):
        rows = [row for row in rows if any(d.holds(m) for m in row.model.metrics for d in scope)]
    found = list(filter(query.predicate, rows))
    end = offset + search.size
    key = _sort_key(query, search.entries)
    # The first pages of many models: the least end rows, as sorted() would order them, without a sort.
    ordered = heapq.nsmallest(end, found, key=key) if end < len(found) // 4 else sorted(found, key=key)
    return PagedList([row.model for row in ordered[offset:end]], search.next_token(len(found)))
