"""MLflow's value semantics, written once for every engine: how values order, where NaN and missing
values go, the natural order that breaks ties, and what LIKE and RLIKE mean.

* Ordering puts values first (ascending or descending), then NaN, then missing, in both directions:
  each sort key is a pair (tier, value) whose tier is never reversed.
* Runs tie-break on start_time DESC (a run without a start time last), then run_id ASC.
* Experiments sort by creation_time DESC, experiment_id ASC by default; an explicit ordering that does
  not name experiment_id is tie-broken by experiment_id DESC.
* LIKE and ILIKE are MLflow's regular expressions: ``%`` is ``.*`` and ``_`` is ``.``, anchored with
  ``^`` and ``$`` unless the pattern starts or ends with ``%``; there is no escape character, the
  wildcards do not match a newline, and ``$`` also matches before a final newline (so ``'a'`` matches
  ``'a\\n'``); ILIKE folds case the Unicode way.
* RLIKE searches a regular expression anywhere in the value with RE2's meaning (:mod:`runql.common.regex`).

The reference evaluator applies these rules row by row, the column store as arrays, the SQL compiler as
expressions; all three read the constants and functions here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from runql.common.bounded import sized_cache
from runql.common.regex import regex_search
from runql.errors import EvaluationError
from runql.language.ast import Entity, Key, Op, SortKey, Span

__all__ = [
    "DEFAULT_EXPERIMENT_ORDER",
    "DEFAULT_MODEL_VERSION_ORDER",
    "MAX_SENT_VALUES",
    "TIER_MISSING",
    "TIER_NAN",
    "TIER_VALUE",
    "SentValues",
    "as_float",
    "exact_float",
    "experiment_order",
    "logged_model_order",
    "natural_run_key",
    "pattern_matcher",
    "registry_order",
    "row_sort_key",
    "tier",
]

TIER_VALUE, TIER_NAN, TIER_MISSING = 0, 1, 2

EXPERIMENT_ID = Key(Entity.ATTRIBUTE, "experiment_id")
DEFAULT_EXPERIMENT_ORDER = (
    SortKey(Key(Entity.ATTRIBUTE, "creation_time"), descending=True),
    SortKey(EXPERIMENT_ID),
)


_NAME = Key(Entity.ATTRIBUTE, "name")
_VERSION = Key(Entity.ATTRIBUTE, "version_number")
DEFAULT_MODEL_VERSION_ORDER = (
    SortKey(Key(Entity.ATTRIBUTE, "last_updated_timestamp"), descending=True),
    SortKey(_NAME),
    SortKey(_VERSION, descending=True),
)


def registry_order(order_by: Sequence[SortKey], entity: str) -> tuple[SortKey, ...]:
    """The sort keys MLflow's SQL registry store really orders by. Registered models: ``order_by`` (by
    default name), then name ASC when it does not name name. Model versions: ``order_by`` (by default
    last_updated_timestamp DESC), then name ASC and version_number DESC when it does not name them."""
    if entity == "registered_models":
        keys = tuple(order_by) or (SortKey(_NAME),)
        breaks: tuple[SortKey, ...] = (SortKey(_NAME),)
    else:
        keys = tuple(order_by) or DEFAULT_MODEL_VERSION_ORDER
        breaks = (SortKey(_NAME), SortKey(_VERSION, descending=True))
    named = {k.key for k in keys}
    return keys + tuple(k for k in breaks if k.key not in named)


_CREATED = Key(Entity.ATTRIBUTE, "creation_timestamp")
_MODEL_ID = Key(Entity.ATTRIBUTE, "model_id")


def logged_model_order(order_by: Sequence[SortKey]) -> tuple[SortKey, ...]:
    """The sort keys MLflow's SQL store orders logged models by: ``order_by``, then creation_timestamp
    DESC and model_id ASC, each unless ``order_by`` names it."""
    named = {k.key for k in order_by}
    breaks = (SortKey(_CREATED, descending=True), SortKey(_MODEL_ID))
    return tuple(order_by) + tuple(k for k in breaks if k.key not in named)


def as_float(value: float | int) -> float:
    """``value`` as MLflow reads a number it compares as a float: an integer literal too large for a
    float is infinity (``float("1" + "0" * 400)``), never an OverflowError."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def exact_float(value: float | int) -> bool:
    """Whether ``value`` is a float, or an integer a float holds exactly (every one up to 2**53)."""
    if isinstance(value, float):
        return True
    try:
        return float(value) == value
    except OverflowError:
        return False


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


# The compiled patterns kept: their memory grows with the pattern's length, so the cache is bounded by
# the summed length of the patterns (about 13 bytes of compiled pattern per character), not by count.
# The cache reads it at each miss, so rebinding it takes effect.
LIKE_CACHE_BUDGET = 1_000_000


def _fixed(text: str, flags: int) -> re.Pattern[str]:
    """A piece of a LIKE pattern without ``%``: each character itself, ``_`` any but a newline.
    re.escape leaves ``_`` alone, so it can become the wildcard afterwards."""
    return re.compile(re.escape(text).replace("_", "."), flags)


class _LikePattern:
    """A LIKE pattern matched in one left-to-right pass, with MLflow's regular-expression meaning.

    The pattern is cut at each ``%`` into segments of fixed length (a literal character or ``_``, one
    character each). MLflow's regex ``^S0.*S1.*...Sn$`` matches exactly when S0 matches at the start,
    each middle segment can be placed after the previous one, Sn ends where ``$`` allows, and no gap
    that a ``.*`` spans holds a newline. Placing each middle segment at its leftmost position is never
    worse than a later one (a later placement leaves less text, and its gap holds every character of
    the leftmost one's that is not matched by the segment itself), so one left-to-right pass decides:
    no backtracking, whatever the number of wildcards. Each segment is a small fixed-length regex with
    the same flags as MLflow's, so character matching (case folding included) is exactly Python's.
    """

    __slots__ = ("first", "last", "last_length", "middle", "open_end", "single")

    def __init__(self, pattern: str, ignore_case: bool) -> None:
        flags = re.IGNORECASE if ignore_case else 0
        pieces = pattern.split("%")
        self.single = len(pieces) == 1
        self.first = _fixed(pieces[0], flags)
        self.middle = [_Segment(piece, flags) for piece in pieces[1:-1] if piece]
        self.last = _fixed(pieces[-1], flags)
        self.last_length = len(pieces[-1])
        self.open_end = pattern.endswith("%")

    def __call__(self, value: str) -> bool:
        if self.single:  # ^S$: S is the whole value, or the value less a final newline
            return self._ends_at(value, 0, len(value)) or (
                value.endswith("\n") and self._ends_at(value, 0, len(value) - 1)
            )
        first = self.first.match(value)
        if first is None:
            return False
        pos = first.end()
        for segment in self.middle:
            end = segment.place(value, pos)
            if end < 0:
                return False
            pos = end
        if self.open_end:
            return True
        # S_n ends at the end of the value, or before a final newline; the gap before it is a .*
        for end in (len(value), len(value) - 1 if value.endswith("\n") else -1):
            start = end - self.last_length
            if start >= pos and value.find("\n", pos, start) == -1 and self._last_at(value, start, end):
                return True
        return False

    def _ends_at(self, value: str, start: int, end: int) -> bool:
        found = self.first.match(value, start, end)
        return found is not None and found.end() == end

    def _last_at(self, value: str, start: int, end: int) -> bool:
        found = self.last.match(value, start, end)
        return found is not None and found.end() == end


class _Segment:
    """A middle segment ``_``*lead + core + ``_``*trail, placed at its leftmost position after a ``.*``.

    The wildcards at either end are counted rather than searched for, so a segment such as ``____#``
    costs one scan for ``#``, not one attempt per position.
    """

    __slots__ = ("core", "lead", "trail")

    def __init__(self, text: str, flags: int) -> None:
        stripped = text.lstrip("_")
        self.lead = len(text) - len(stripped)
        core = stripped.rstrip("_")
        self.trail = len(stripped) - len(core)
        self.core = _fixed(core, flags) if core else None

    def place(self, value: str, pos: int) -> int:
        """Where the segment ends when placed leftmost at or after ``pos`` with a newline-free gap
        before it; -1 when it cannot be placed."""
        if self.core is None:  # only wildcards: they take the next characters, none a newline
            end = pos + self.lead
            return end if end <= len(value) and value.find("\n", pos, end) == -1 else -1
        start = pos + self.lead
        while (found := self.core.search(value, start)) is not None:
            # The gap and the leading wildcards are one newline-free stretch; a newline in it rules
            # out every later placement too.
            if value.find("\n", pos, found.start()) != -1:
                return -1
            end = found.end() + self.trail
            if end > len(value):  # a later placement would end later still
                return -1
            if value.find("\n", found.end(), end) == -1:
                return end
            start = found.start() + 1
        return -1


def _like_size(key: tuple[str, bool]) -> int:
    return len(key[0]) + 64  # a small pattern still costs its compiled objects


@sized_cache(_like_size, lambda: LIKE_CACHE_BUDGET)
def _like_pattern(key: tuple[str, bool]) -> _LikePattern:
    return _LikePattern(*key)


def pattern_matcher(op: Op, pattern: str) -> Callable[[str], bool]:
    """A test for one of LIKE, ILIKE, RLIKE or their negations against ``pattern``. A LIKE costs at most
    (value length x longest run of pattern characters between two ``%``) comparisons: no backtracking;
    an RLIKE is RE2's search (:mod:`runql.common.regex`), linear in the value's length."""
    if op in (Op.RLIKE, Op.NOT_RLIKE):
        matches = regex_search(pattern)
    else:
        matches = _like_pattern((pattern, op in (Op.ILIKE, Op.NOT_ILIKE)))
    if op.is_negated:
        return lambda value: not matches(value)
    return matches


# -- pattern clauses answered as lists of values

# The values of its keys that one query may send to a database or to Spark, in the lists that answer
# its pattern clauses there (docs/security.md): about 30 MB of a PostgreSQL server's memory for short values.
# Read when a list is made, so rebinding it takes effect.
MAX_SENT_VALUES = 100_000


class SentValues:
    """The values one query sends as lists, for the pattern clauses an engine answers by matching a
    key's distinct values here (RLIKE on PostgreSQL and Spark, a LIKE PostgreSQL cannot take), bounded
    by :data:`MAX_SENT_VALUES`. ``source`` is the filter's text, for the caret of an error."""

    def __init__(self, source: str = "") -> None:
        self.source = source
        self.count = 0

    def split(
        self, values: Sequence[str], matches: Callable[[str], bool], span: Span | None
    ) -> tuple[list[str], bool]:
        """The values to send for the clause at ``span`` that ``matches`` decides over a key's distinct
        ``values``, and whether they are the ones that match (True) or, being fewer, the ones that do not
        (False). Raises ``EvaluationError`` (``too-many-values``) when the query's lists would pass
        :data:`MAX_SENT_VALUES`."""
        flags = [bool(matches(value)) for value in values]
        matching = 2 * sum(flags) <= len(flags)
        sent = [value for value, flag in zip(values, flags, strict=True) if flag is matching]
        self.count += len(sent)
        if self.count > MAX_SENT_VALUES:
            raise EvaluationError(
                f"answering this clause would send {self.count:,} values of its keys in the query's lists, "
                f"more than one query may (runql.engines.semantics.MAX_SENT_VALUES is {MAX_SENT_VALUES:,})",
                code="too-many-values",
                source=self.source,
                span=span if self.source else None,
                where="filter_string" if self.source else "",
                hint="match fewer distinct values (a narrower pattern, fewer pattern clauses), or search "
                "fewer experiments",
            )
        return sent, matching
