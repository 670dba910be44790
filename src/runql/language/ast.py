"""The typed syntax tree of a search query.

Nodes are frozen and slotted, hold tuples rather than lists, and carry a ``span`` that equality
ignores: a tree built by hand equals the same tree parsed from text, and a parsed tree can be
cached and shared safely. The parser also records how the text was written (a key's prefix and
quoting, the operator's span, parentheses), which validation reports on; equality ignores these too,
and a tree built by hand has their defaults: bare keys, no parentheses.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from enum import Enum
from typing import NoReturn

from runql.errors import QueryError

if sys.version_info >= (3, 11):
    from typing import assert_never as assert_never
else:  # pragma: no cover

    def assert_never(value: NoReturn) -> NoReturn:
        raise AssertionError(f"unhandled node: {value!r}")


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node came from: ``start``/``end`` are 0-based offsets, ``line``/``column`` 1-based."""

    start: int
    end: int
    line: int = 1
    column: int = 1

    @classmethod
    def at(cls, text: str, start: int, end: int) -> Span:
        """The span of ``text[start:end]``, with its line and column counted in ``text``."""
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        return cls(start, end, line, column)

    def cover(self, other: Span) -> Span:
        """The smallest span holding both ``self`` and ``other``."""
        first = self if self.start <= other.start else other
        return Span(first.start, max(self.end, other.end), first.line, first.column)


class Entity(Enum):
    """What a key names. The values are MLflow's canonical type names."""

    METRIC = "metric"
    PARAM = "parameter"
    TAG = "tag"
    ATTRIBUTE = "attribute"
    DATASET = "dataset"

    @property
    def prefix(self) -> str:
        """The prefix the canonical form writes before the dot."""
        return _PREFIXES[self]


_PREFIXES = {
    Entity.METRIC: "metrics",
    Entity.PARAM: "params",
    Entity.TAG: "tags",
    Entity.ATTRIBUTE: "attributes",
    Entity.DATASET: "datasets",
}

# Every prefix MLflow accepts for runs (case-sensitive, as in MLflow).
ENTITY_ALIASES: dict[str, Entity] = {
    "metric": Entity.METRIC,
    "metrics": Entity.METRIC,
    "param": Entity.PARAM,
    "params": Entity.PARAM,
    "parameter": Entity.PARAM,
    "parameters": Entity.PARAM,
    "tag": Entity.TAG,
    "tags": Entity.TAG,
    "attr": Entity.ATTRIBUTE,
    "attribute": Entity.ATTRIBUTE,
    "attributes": Entity.ATTRIBUTE,
    "run": Entity.ATTRIBUTE,
    "dataset": Entity.DATASET,
    "datasets": Entity.DATASET,
}


class Op(Enum):
    """A comparison operator, by the text the canonical form writes."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "LIKE"
    ILIKE = "ILIKE"
    NOT_LIKE = "NOT LIKE"
    NOT_ILIKE = "NOT ILIKE"
    RLIKE = "RLIKE"
    NOT_RLIKE = "NOT RLIKE"

    @property
    def is_pattern(self) -> bool:
        """LIKE, ILIKE, RLIKE and their negations."""
        return self in _PATTERN_OPS

    @property
    def is_negated(self) -> bool:
        """NOT LIKE, NOT ILIKE, NOT RLIKE: true where the operator without NOT is false."""
        return self in _NEGATED_OPS

    @property
    def is_ordering(self) -> bool:
        """``<``, ``<=``, ``>``, ``>=``: the operators that compare by order, not by equality."""
        return self in _ORDERING_OPS


_PATTERN_OPS = frozenset({Op.LIKE, Op.ILIKE, Op.RLIKE, Op.NOT_LIKE, Op.NOT_ILIKE, Op.NOT_RLIKE})
_NEGATED_OPS = frozenset({Op.NOT_LIKE, Op.NOT_ILIKE, Op.NOT_RLIKE})
_ORDERING_OPS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})


class Quoting(Enum):
    """How the name of a key was written."""

    BARE = "bare"
    BACKTICKS = "backticks"
    QUOTES = "quotes"
    """In single or double quotes (with or without backticks inside them)."""


class Aggregate(Enum):
    """A function over the whole history of a metric (the extended profile), by its name in the text."""

    MIN = "min"
    MAX = "max"
    AVG = "avg"
    COUNT = "count"
    FIRST = "first"
    LAST = "last"
    AT_STEP = "at_step"
    """The value logged at one step: ``at_step(metrics.loss, 10)``; the step is ``Key.step``."""


@dataclass(frozen=True, slots=True)
class Key:
    """``entity.name``: aliases are already resolved (``created`` is ``start_time``).

    ``aggregate`` (with ``step`` for ``at_step``) makes the key a value computed from the metric's
    whole history, ``min(metrics.loss)``. It takes part in equality, so ``min(metrics.loss)`` is never
    the plain ``metrics.loss``; an engine handles ``aggregate`` before it reads a stored value.
    """

    entity: Entity
    name: str
    span: Span | None = field(default=None, compare=False, repr=False)
    prefix: str | None = field(default=None, compare=False, repr=False)
    """The prefix as written (``metric``, ``attr``...), None for a key written without one."""
    alias: str | None = field(default=None, compare=False, repr=False)
    """The alias the name was written as (``created`` for ``start_time``), None when it was not."""
    quoting: Quoting = field(default=Quoting.BARE, compare=False, repr=False)
    aggregate: Aggregate | None = None
    step: int | None = None
    function_span: Span | None = field(default=None, compare=False, repr=False)
    """Where the function name was written (``min`` of ``min(metrics.loss)``)."""

    def __post_init__(self) -> None:
        if self.aggregate is not None and self.entity is not Entity.METRIC:
            raise ValueError(f"{self.aggregate.value}() takes a metric, not a {self.entity.value}")
        if (self.step is not None) != (self.aggregate is Aggregate.AT_STEP):
            raise ValueError("a step is given with at_step, and only with it")

    @property
    def metric(self) -> Key:
        """The metric an aggregate is computed from (the key itself when it is plain)."""
        if self.aggregate is None:
            return self
        return Key(self.entity, self.name, self.span, self.prefix, self.alias, self.quoting)


@dataclass(frozen=True, slots=True)
class Literal:
    """A value: ``str`` when quoted in the text, ``int`` or ``float`` when a number."""

    value: str | int | float
    span: Span | None = field(default=None, compare=False, repr=False)


# Of an expression node, ``span`` covers the parentheses around it when there are some
# (``parenthesised``), and ``op_span`` is its keyword or operator: ``IS NOT NULL``, ``NOT IN``, the
# first ``OR`` of a disjunction.


@dataclass(frozen=True, slots=True)
class Compare:
    """``key op value``: ``metrics.acc > 0.8``, ``tags.team LIKE 'ml%'``."""

    key: Key
    op: Op
    value: Literal
    span: Span | None = field(default=None, compare=False, repr=False)
    op_span: Span | None = field(default=None, compare=False, repr=False)
    parenthesised: bool = field(default=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class In:
    """``key IN (v1, v2...)``, or ``NOT IN`` when ``negated``."""

    key: Key
    values: tuple[Literal, ...]
    negated: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)
    op_span: Span | None = field(default=None, compare=False, repr=False)
    parenthesised: bool = field(default=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class IsNull:
    """``key IS NULL``, or ``IS NOT NULL`` when ``negated``: whether the row has the key at all."""

    key: Key
    negated: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)
    op_span: Span | None = field(default=None, compare=False, repr=False)
    parenthesised: bool = field(default=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class And:
    """Conditions joined by AND, two or more (a chain ``a AND b AND c`` is one node)."""

    terms: tuple[Expr, ...]
    span: Span | None = field(default=None, compare=False, repr=False)
    parenthesised: bool = field(default=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Or:
    """Conditions joined by OR, two or more (a chain ``a OR b OR c`` is one node)."""

    terms: tuple[Expr, ...]
    span: Span | None = field(default=None, compare=False, repr=False)
    op_span: Span | None = field(default=None, compare=False, repr=False)
    parenthesised: bool = field(default=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Not:
    """``NOT term``."""

    term: Expr
    span: Span | None = field(default=None, compare=False, repr=False)
    op_span: Span | None = field(default=None, compare=False, repr=False)
    parenthesised: bool = field(default=False, compare=False, repr=False)


Expr = Compare | In | IsNull | And | Or | Not
Clause = Compare | In | IsNull


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ``order_by`` clause: a key, ascending unless ``descending`` (``metrics.auc DESC``)."""

    key: Key
    descending: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Query:
    """A filter and an ordering, with the texts they were parsed from (for error carets)."""

    filter: Expr | None = None
    order_by: tuple[SortKey, ...] = ()
    filter_string: str = field(default="", compare=False, repr=False)
    order_by_strings: tuple[str, ...] = field(default=(), compare=False, repr=False)


# How deeply conditions may nest (a condition alone is 1; each NOT, or each AND/OR inside another
# group, adds a level). Every step that walks a tree recursively (validation, unparse, the
# evaluators, equality) stays far inside Python's recursion limit below it; the parser, validation
# and unparse refuse a deeper tree with the code ``too-deep``. sqlparse, which MLflow parses with,
# stops at the same depth.
MAX_NESTING = 100


def subterms(expr: Expr) -> tuple[Expr, ...]:
    """The conditions directly inside ``expr``."""
    if isinstance(expr, (And, Or)):
        return expr.terms
    if isinstance(expr, Not):
        return (expr.term,)
    return ()


def walk(expr: Expr | None) -> list[tuple[Expr, int]]:
    """Every node of ``expr`` with its depth (the root is 1), in reading order, without recursion."""
    found: list[tuple[Expr, int]] = []
    stack = [] if expr is None else [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        found.append((node, depth))
        stack.extend((term, depth + 1) for term in reversed(subterms(node)))
    return found


def too_deep(expr: Expr | None, limit: int = MAX_NESTING) -> Expr | None:
    """The first node, in reading order, nested deeper than ``limit``; None when there is none."""
    stack = [] if expr is None else [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node
        stack.extend((term, depth + 1) for term in reversed(subterms(node)))
    return None


def nesting_error(node: Expr, source: str, where: str, error: type[QueryError]) -> QueryError:
    """The error for a tree nested deeper than MAX_NESTING, at ``node``, the first node too deep."""
    span = getattr(node, "op_span", None) or node.span
    return error(
        f"conditions nest deeper than {MAX_NESTING} levels",
        code="too-deep",
        source=source,
        span=span if source else None,
        where=where,
        hint="write the condition without the repeated NOT or the groups inside groups",
    )


def clauses(expr: Expr | None) -> tuple[Clause, ...]:
    """Every comparison in ``expr``, left to right."""
    return tuple(node for node, _ in walk(expr) if isinstance(node, (Compare, In, IsNull)))
