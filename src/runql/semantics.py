"""MLflow's value semantics, written once for every engine: how values order, where NaN and missing
values go, the natural order that breaks ties, and what LIKE means.

* Ordering puts values first (ascending or descending), then NaN, then missing, in both directions:
  each sort key is a pair (tier, value) whose tier is never reversed.
* Runs tie-break on start_time DESC (a run without a start time last), then run_id ASC.
* Experiments sort by creation_time DESC, experiment_id ASC by default; an explicit ordering that does
  not name experiment_id is tie-broken by experiment_id DESC.
* LIKE and ILIKE are MLflow's regular expressions: ``%`` is ``.*`` and ``_`` is ``.``, anchored with
  ``^`` and ``$`` unless the pattern starts or ends with ``%``; there is no escape character, the
  wildcards do not match a newline, and ``$`` also matches before a final newline (so ``'a'`` matches
  ``'a\\n'``); ILIKE folds case the Unicode way.

The reference evaluator applies these rules row by row, the column store as arrays, the SQL compiler as
expressions; all three read the constants and functions here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from .ast import Entity, Key, Op, SortKey

__all__ = [
    "DEFAULT_EXPERIMENT_ORDER",
    "TIER_MISSING",
    "TIER_NAN",
    "TIER_VALUE",
    "experiment_order",
    "like_matcher",
    "natural_run_key",
    "row_sort_key",
    "tier",
]

TIER_VALUE, TIER_NAN, TIER_MISSING = 0, 1, 2

EXPERIMENT_ID = Key(Entity.ATTRIBUTE, "experiment_id")
DEFAULT_EXPERIMENT_ORDER = (
    SortKey(Key(Entity.ATTRIBUTE, "creation_time"), descending=True),
    SortKey(EXPERIMENT_ID),
)


def tier(value: Any) -> int:
    """Where ``value`` sorts relative to other values: a value, NaN, or missing (None)."""
    if value is None:
        return TIER_MISSING
    if value != value:
        return TIER_NAN
    return TIER_VALUE


def natural_run_key(start_time: float | None, run_id: str) -> tuple[bool, float, str]:
    """The key of MLflow's natural run order: start_time DESC (missing last), then run_id ASC."""
    return (start_time is None, -(start_time or 0), run_id)


def experiment_order(order_by: Sequence[SortKey]) -> tuple[SortKey, ...]:
    """The sort keys experiments are really ordered by: the default, or ``order_by`` tie-broken by
    experiment_id DESC when it does not name experiment_id."""
    keys = tuple(order_by) or DEFAULT_EXPERIMENT_ORDER
    if not any(k.key == EXPERIMENT_ID for k in keys):
        keys = (*keys, SortKey(EXPERIMENT_ID, descending=True))
    return keys


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
    rank = tier(value)
    if rank != TIER_VALUE:
        return (rank, 0)
    return (rank, _Descending(value) if descending else value)


def row_sort_key(
    getters: Sequence[tuple[Callable[[Any], Any], bool]],
    tie_break: Callable[[Any], Any] | None = None,
) -> Callable[[Any], tuple[Any, ...]]:
    """A key for ``sorted()``: each ``(getter, descending)`` pair in turn, then ``tie_break``."""

    def key(row: Any) -> tuple[Any, ...]:
        parts = [_tiered(get(row), descending) for get, descending in getters]
        if tie_break is not None:
            parts.append(tie_break(row))
        return tuple(parts)

    return key


@lru_cache(maxsize=1024)
def _like_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # re.escape leaves % and _ alone, so they can become the wildcards afterwards.
    body = re.escape(pattern).replace("%", ".*").replace("_", ".")
    if not pattern.startswith("%"):
        body = "^" + body
    if not pattern.endswith("%"):
        body += "$"
    return re.compile(body, re.IGNORECASE if ignore_case else 0)


def like_matcher(op: Op, pattern: str) -> Callable[[str], bool]:
    """A test for one of LIKE, ILIKE, NOT LIKE, NOT ILIKE against ``pattern``."""
    regex = _like_regex(pattern, op in (Op.ILIKE, Op.NOT_ILIKE))
    if op in (Op.NOT_LIKE, Op.NOT_ILIKE):
        return lambda value: regex.match(value) is None
    return lambda value: regex.match(value) is not None
