"""Keys a query names that no searched run has, and the keys the user probably meant.

``metrics.acc > 0.8`` over runs that logged ``accuracy`` is a valid query that selects nothing; the
answer stays what it is, and :func:`absent_keys` says why, as warnings (code ``unknown-key``) that
name the close keys present: "no run in the searched experiments has a metric 'acc'; did you mean
'accuracy'?". The ``runql`` command prints them; in Python, :func:`warn_absent_keys` issues them as
:class:`~runql.errors.QueryWarning`, the way a profile's warnings are issued.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runql.errors import Diagnostic, QueryWarning, Severity
from runql.language.ast import Entity, Key, Query, Span, clauses

if TYPE_CHECKING:
    from runql.model.entities import Run

__all__ = ["KeySets", "absent_keys", "warn_absent_keys"]

_KINDS = {Entity.METRIC: "metric", Entity.PARAM: "param", Entity.TAG: "tag"}
_LISTED = 8  # the most keys a warning lists when none is close


@dataclass(frozen=True)
class KeySets:
    """The metric, param and tag keys some run has (a store's ``key_sets(experiment_ids, stages)``)."""

    metrics: frozenset[str] = field(default_factory=frozenset)
    params: frozenset[str] = field(default_factory=frozenset)
    tags: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of_runs(cls, runs: Iterable[Run]) -> KeySets:
        """The keys some run of ``runs`` has."""
        metrics: set[str] = set()
        params: set[str] = set()
        tags: set[str] = set()
        for run in runs:
            metrics.update(run.data.metrics)
            params.update(run.data.params)
            tags.update(run.data.tags)
        return cls(frozenset(metrics), frozenset(params), frozenset(tags))

    def of(self, entity: Entity) -> frozenset[str]:
        """The keys of a metric, param or tag ``entity`` (another entity is a KeyError)."""
        return {Entity.METRIC: self.metrics, Entity.PARAM: self.params, Entity.TAG: self.tags}[entity]


def _absent(key: Key, present: KeySets, where: str, source: str, span: Span | None) -> Diagnostic | None:
    if key.entity not in _KINDS or key.name in present.of(key.entity):
        return None
    kind = _KINDS[key.entity]
    keys = sorted(present.of(key.entity))
    close = difflib.get_close_matches(key.name, keys, n=3, cutoff=0.6)
    # Another case, then a key the name starts (acc: accuracy), then a spelling close to it.
    folded = [k for k in keys if k.casefold() == key.name.casefold()]
    started = [k for k in keys if k.casefold().startswith(key.name.casefold())][:3]
    close = list(dict.fromkeys([*folded, *started, *close]))[:3]
    message = f"no run in the searched experiments has a {kind} {key.name!r}"
    if close:
        message += f"; did you mean {' or '.join(repr(k) for k in close)}?"
        hint = ""
    elif keys:
        more = f" and {len(keys) - _LISTED} more" if len(keys) > _LISTED else ""
        hint = f"the runs' {kind}s are {', '.join(keys[:_LISTED])}{more}"
    else:
        hint = f"the searched runs have no {kind}s"
    return Diagnostic("unknown-key", message, span, hint, Severity.WARNING, source, where)


def absent_keys(query: Query, present: KeySets, columns: Sequence[str] = ()) -> list[Diagnostic]:
    """A warning for each metric, param or tag key of ``query`` (filter, then order_by) and of
    ``columns`` (``metrics.acc``, as the command's ``--columns`` takes them) that no run has."""
    found: list[Diagnostic] = []
    seen: set[tuple[Entity, str]] = set()

    def add(key: Key, where: str, source: str, span: Span | None) -> None:
        if (key.entity, key.name) in seen:
            return
        seen.add((key.entity, key.name))
        diagnostic = _absent(key, present, where, source, span)
        if diagnostic is not None:
            found.append(diagnostic)

    for clause in clauses(query.filter):
        add(clause.key, "filter_string", query.filter_string, clause.key.span)
    for i, sort_key in enumerate(query.order_by):
        text = query.order_by_strings[i] if i < len(query.order_by_strings) else ""
        add(sort_key.key, f"order_by[{i}]", text, sort_key.key.span)
    prefixes = {"metrics.": Entity.METRIC, "params.": Entity.PARAM, "tags.": Entity.TAG}
    for name in columns:
        for prefix, entity in prefixes.items():
            if name.startswith(prefix):
                add(Key(entity, name[len(prefix) :]), "--columns", "", None)
    return found


def warn_absent_keys(query: Query, present: KeySets, columns: Sequence[str] = ()) -> list[Diagnostic]:
    """Issue :func:`absent_keys` as ``QueryWarning``s (the answer is not changed) and return them."""
    diagnostics = absent_keys(query, present, columns)
    for diagnostic in diagnostics:
        warnings.warn(QueryWarning(diagnostic), stacklevel=2)
    return diagnostics
