"""A query a profile accepted, rewritten to MLflow's meaning: the form every engine reads.

The engines know no profiles, so what a profile means beyond MLflow is lowered here, once, when the query
is compiled: Azure ML's status names become MLflow's (``Completed`` is ``FINISHED``; ``LIKE`` on status
ignores case, as Azure ML does), quoted numbers on time attributes become numbers, ``creation_time``
becomes ``start_time``, and under the ``extended`` profile a date on a time becomes milliseconds since
the epoch. A profile with none of these meanings leaves the query as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from runql.language.ast import (
    And,
    Compare,
    Entity,
    Expr,
    In,
    IsNull,
    Key,
    Literal,
    Not,
    Op,
    Or,
    Query,
    assert_never,
)
from runql.profiles import dates
from runql.profiles.catalog import Profile

__all__ = ["lower", "number_text"]

_INT_TEXT = re.compile(r"-?\d+")
_FLOAT_TEXT = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def number_text(text: str) -> int | float | None:
    """The number a quoted value spells, as the ``azureml`` profile reads quoted times; None for any other
    text."""
    if _INT_TEXT.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than Python converts to int
            return float(text)
    if _FLOAT_TEXT.fullmatch(text):
        return float(text)
    return None


def lower(profile: Profile, query: Query) -> Query:
    """``query``, which ``profile`` accepted, with the profile's meanings rewritten to MLflow's.

    The query itself is returned when nothing changes.
    """
    return _Lowering(profile).query(query)


@dataclass(frozen=True)
class _Lowering:
    """Rewrites a query the profile accepted into the profile-agnostic form the evaluator reads."""

    profile: Profile

    def query(self, q: Query) -> Query:
        p = self.profile
        if not (p.attribute_renames or p.quoted_numbers or p.status_names or p.dates):
            return q
        lowered_filter = None if q.filter is None else self.expr(q.filter)
        order_by = tuple(replace(s, key=self.key(s.key)) for s in q.order_by)
        if lowered_filter == q.filter and order_by == q.order_by:
            return q
        return replace(q, filter=lowered_filter, order_by=order_by)

    def key(self, key: Key) -> Key:
        if key.entity is not Entity.ATTRIBUTE:
            return key
        name = dict(self.profile.attribute_renames).get(key.name, key.name)
        return key if name == key.name else replace(key, name=name)

    def expr(self, node: Expr) -> Expr:
        match node:
            case And(terms):
                return replace(node, terms=tuple(self.expr(t) for t in terms))
            case Or(terms):
                return replace(node, terms=tuple(self.expr(t) for t in terms))
            case Not(term):
                return replace(node, term=self.expr(term))
            case Compare(key, op, value):
                key = self.key(key)
                if self.is_status(key):
                    op = {Op.LIKE: Op.ILIKE, Op.NOT_LIKE: Op.NOT_ILIKE}.get(op, op)
                    if not op.is_pattern:
                        value = self.literal(key, value)
                else:
                    value = self.literal(key, value)
                return replace(node, key=key, op=op, value=value)
            case In(key, values):
                key = self.key(key)
                return replace(node, key=key, values=tuple(self.literal(key, v) for v in values))
            case IsNull(key):
                return replace(node, key=self.key(key))
            case _:
                assert_never(node)

    def is_status(self, key: Key) -> bool:
        return bool(self.profile.status_names) and key.entity is Entity.ATTRIBUTE and key.name == "status"

    def literal(self, key: Key, literal: Literal) -> Literal:
        p = self.profile
        value = literal.value
        if not isinstance(value, str) or key.entity is not Entity.ATTRIBUTE:
            return literal
        if self.is_status(key):
            status = p.status_for(value)
            return literal if status is None else replace(literal, value=status)
        if p.quoted_numbers and key.name in p.numeric_attributes:
            number = number_text(value)
            if number is not None:
                return replace(literal, value=number)
        if p.dates and key.name in p.numeric_attributes and key.name not in p.duration_attributes:
            milliseconds = dates.to_milliseconds(value)  # 'now' is read here, at each compile
            return literal if milliseconds is None else replace(literal, value=milliseconds)
        return literal
