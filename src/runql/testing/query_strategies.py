"""Hypothesis strategies for queries: filters and orderings a profile accepts, about the data drawn.

Queries are valid for their profile (they pass :func:`runql.validate`), are written by
:func:`runql.unparse` with every spelling of the prefixes the profile accepts, and name mostly keys and
values the data holds (:mod:`runql.testing.data_strategies`), so that filters select something.
``queries(..., valid=False)`` draws from the whole language instead, mostly near misses of what the
profile accepts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

from runql.common.regex import escape
from runql.errors import QueryError, Severity
from runql.language.ast import (
    ENTITY_ALIASES,
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
    SortKey,
)
from runql.language.attributes import (
    EXPERIMENT_NUMERIC_ATTRIBUTES,
    RUN_NUMERIC_ATTRIBUTES,
    RUN_STRING_ATTRIBUTES,
    KeyKind,
)
from runql.language.parser import parse
from runql.language.unparser import unparse, unparse_key, unparse_literal
from runql.model.entities import RunStatus
from runql.model.logged_models import LoggedModel
from runql.profiles.catalog import Profile
from runql.profiles.checker import check, resolve_profile
from runql.testing.data_strategies import (
    DEFAULT_VOCABULARY,
    T0,
    TIME_STEP,
    Vocabulary,
    experiments,
    logged_models,
    registries,
    runs,
)

__all__ = ["filter_strings", "order_by_clauses", "queries", "search_cases"]

# Prefix spellings by entity; the profile's ``prefixes`` decides which of them a query may use.
_SPELLINGS: dict[Entity, tuple[str, ...]] = {
    entity: tuple(alias for alias, e in ENTITY_ALIASES.items() if e is entity) for entity in Entity
}
_KIND: dict[Entity, KeyKind] = {
    Entity.METRIC: KeyKind.METRIC,
    Entity.PARAM: KeyKind.PARAM,
    Entity.TAG: KeyKind.TAG,
    Entity.DATASET: KeyKind.DATASET,
}


def _writable(text: str) -> bool:
    return not ("'" in text and '"' in text) and not text.endswith("\\")


def _index(draw: st.DrawFn, favoured: Sequence[int], last: int) -> int:
    """An index from 0 to ``last``: half the time one of ``favoured``, when there are some."""
    if not favoured or not draw(st.booleans()):
        return draw(st.integers(0, last))
    return draw(st.sampled_from(favoured))


@st.composite
def _pattern(draw: st.DrawFn, texts: Sequence[str]) -> str:
    """A LIKE pattern made from a value: cut at either end, letters replaced by ``_``, case changed.

    Half the cuts and replacements are at a newline or a backslash when the value has one: there
    MLflow's SQL store (the database's LIKE) and its in-memory search part."""
    text = draw(st.sampled_from(texts))
    odd = [at for at, c in enumerate(text) if c in "\n\\"]
    choice = draw(st.integers(0, 5))
    if choice in (0, 1) and text:
        cut = _index(draw, [at + side for at in odd for side in (0, 1)], len(text))
        text = text[:cut] + "%" if choice == 0 else "%" + text[cut:]
    elif choice == 2 and text:
        at = _index(draw, odd, len(text) - 1)
        text = text[:at] + "_" + text[at + 1 :]
    elif choice == 3:
        text = text.swapcase()
    elif choice == 4:
        text = f"%{text}%"
    return text


@st.composite
def _regex(draw: st.DrawFn, texts: Sequence[str]) -> str:
    """An RLIKE pattern made from values: the whole value anchored, its start, a piece with a character
    as ``.``, a piece matched ignoring case, two values as alternatives, a piece then digits."""
    text = draw(st.sampled_from(texts))
    start = draw(st.integers(0, len(text)))
    piece = text[start : draw(st.integers(start, len(text)))]
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return f"^{escape(text)}$"
    if choice == 1:
        return "^" + escape(text[:start])
    if choice == 2 and piece:
        at = draw(st.integers(0, len(piece) - 1))
        return escape(piece[:at]) + "." + escape(piece[at + 1 :])
    if choice == 3:
        return "(?i)" + escape(piece.swapcase())
    if choice == 4:
        other = draw(st.sampled_from(texts))
        return f"^(?:{escape(text)}|{escape(other)})$"
    return escape(piece) + "[0-9]*$"


def _texts(vocab: Vocabulary) -> list[str]:
    return [t for t in vocab.texts if _writable(t)]


def _number(draw: st.DrawFn, vocab: Vocabulary) -> int | float:
    finite = [n for n in vocab.numbers if math.isfinite(n)] or [0.0]
    value = draw(st.one_of(st.sampled_from(finite), st.sampled_from([0, 1, -1, 2.4, 1e300, -1e-300])))
    return int(value) if draw(st.booleans()) and float(value).is_integer() and abs(value) < 1e15 else value


@dataclass(frozen=True)
class _Keys:
    """What a query may name, for one entity: per key, its kind and the values worth comparing."""

    profile: Profile
    vocab: Vocabulary
    rows: tuple[Any, ...]
    wild: bool = False
    focus: tuple[Any, ...] = ()

    def attribute_values(self, name: str) -> list[Any]:
        values = []
        for row in (*self.focus, *self.focus, *self.rows):
            info = getattr(row, "info", row)
            value = getattr(info, name, None)
            if value is not None:
                values.append(value)
        return values


def _string_operand(draw: st.DrawFn, op: Op, texts: Sequence[str]) -> str:
    if op in (Op.RLIKE, Op.NOT_RLIKE):
        return draw(_regex(texts).filter(_writable))
    if op.is_pattern:
        return draw(_pattern(texts).filter(_writable))
    return draw(st.sampled_from(texts))


def _values_for(keys: _Keys, entity: Entity, name: str) -> list[str]:
    vocab = keys.vocab
    if entity is Entity.DATASET:
        base = {"name": vocab.dataset_names, "digest": vocab.digests, "context": vocab.contexts}.get(
            name, vocab.texts
        )
        return [t for t in base if _writable(t)]
    if entity is Entity.ATTRIBUTE:
        held = [v for v in keys.attribute_values(name) if isinstance(v, str) and _writable(v)]
        if name == "experiment_id":
            # Ids only, held or not: MLflow's SQL store reads one as an integer and refuses other text
            # (docs/compatibility.md, experiment-id-integers), which runql and Azure ML's ids allow.
            return list(dict.fromkeys([*held, "0", "123456"]))
        extra = {
            "status": list(RunStatus.ALL),
            "user_id": list(vocab.users),
            "run_name": list(vocab.run_names),
        }.get(name, [])
        return [t for t in dict.fromkeys([*held, *held, *extra, *_texts(vocab)[:4]]) if _writable(t)]
    return _texts(vocab)


@st.composite
def _clause(draw: st.DrawFn, keys: _Keys) -> Expr:
    clause = _plain_clause(draw, keys)
    if not keys.wild or draw(st.integers(0, 3)) != 1:
        return clause
    # A near miss: the right key with the wrong kind of value, a list or a null test where none belongs.
    assert isinstance(clause, (Compare, In, IsNull))
    mutation = draw(st.integers(0, 2))
    if mutation == 0 and isinstance(clause, Compare):
        value = clause.value.value
        swapped: str | int | float = str(value) if not isinstance(value, str) else _number(draw, keys.vocab)
        return Compare(clause.key, clause.op, Literal(swapped))
    if mutation == 1:
        return IsNull(clause.key, negated=draw(st.booleans()))
    values = draw(
        st.lists(st.one_of(st.sampled_from(_texts(keys.vocab)), st.integers(0, 3)), min_size=1, max_size=3)
    )
    return In(clause.key, tuple(Literal(v) for v in values), negated=draw(st.booleans()))


def _anchor(draw: st.DrawFn, keys: _Keys, entity: Entity) -> tuple[str, Any] | None:
    """Two times in three, a key one of the rows holds and its value there: a clause that selects."""
    if not keys.rows or entity in (Entity.ATTRIBUTE, Entity.DATASET) or draw(st.integers(0, 2)) == 1:
        return None
    row = draw(st.sampled_from(keys.focus or keys.rows))
    data = getattr(row, "data", None)
    held: dict[str, Any]
    if isinstance(row, LoggedModel):
        points: dict[str, Any] = {m.key: m.value for m in row.metrics}
        by_kind: dict[Entity, dict[str, Any]] = {
            Entity.METRIC: points,
            Entity.PARAM: row.params,
            Entity.TAG: row.tags,
        }
        held = by_kind[entity]
    elif data is None:
        held = dict(row.tags) if entity is Entity.TAG else {}
    else:
        held = {Entity.METRIC: data.metrics, Entity.PARAM: data.params, Entity.TAG: data.tags}[entity]
    if not held:
        return None
    name = draw(st.sampled_from(sorted(held)))
    return name, held[name]


def _plain_clause(draw: st.DrawFn, keys: _Keys) -> Expr:
    profile, vocab = keys.profile, keys.vocab
    runs_entity = profile.entity == "runs"
    entities = sorted(profile.filter_kinds, key=lambda e: e.value)
    entity = draw(st.sampled_from(entities))
    if entity is Entity.ATTRIBUTE:
        names = sorted(profile.string_attributes | profile.numeric_attributes)
        name = draw(st.sampled_from(names))
        key = Key(entity, name)
        if name in profile.numeric_attributes:
            op = draw(st.sampled_from(sorted(profile.numeric_attribute_ops, key=lambda o: o.value)))
            held = [v for v in keys.attribute_values(name) if isinstance(v, int)] or [T0]
            base = draw(st.sampled_from(held))
            value: int | float = base + draw(st.sampled_from([0, 0, 0, -1, 1, -TIME_STEP]))
            if name in profile.duration_attributes:
                value = draw(st.sampled_from([0, TIME_STEP, 2 * TIME_STEP]))
            return Compare(key, op, Literal(value))
        texts = _values_for(keys, entity, name)
        if name in profile.list_attributes and draw(st.integers(0, 2)) == 1:
            return _in(draw, key, texts)
        op = draw(st.sampled_from(sorted(profile.string_attribute_ops, key=lambda o: o.value)))
        return Compare(key, op, Literal(_string_operand(draw, op, texts)))
    anchor = _anchor(draw, keys, entity)
    if entity is Entity.METRIC:
        op = draw(st.sampled_from(sorted(profile.metric_ops, key=lambda o: o.value)))
        if anchor is not None and isinstance(anchor[1], float) and math.isfinite(anchor[1]):
            return Compare(Key(entity, anchor[0]), op, Literal(anchor[1]))
        name = draw(st.sampled_from(vocab.metric_keys)) if anchor is None else anchor[0]
        return Compare(Key(entity, name), op, Literal(_number(draw, vocab)))
    if entity is Entity.DATASET:
        name = draw(st.sampled_from(sorted(profile.dataset_keys)))
        ops = profile.dataset_ops
    else:
        pool = vocab.param_keys if entity is Entity.PARAM else vocab.tag_keys
        if not runs_entity and profile.entity != "logged_models":
            pool = vocab.experiment_tag_keys
        name = draw(st.sampled_from(pool)) if anchor is None else anchor[0]
        ops = profile.param_ops if entity is Entity.PARAM else profile.tag_ops
    key = Key(entity, name)
    kind = _KIND[entity]
    texts = _values_for(keys, entity, name)
    if anchor is not None and isinstance(anchor[1], str) and _writable(anchor[1]):
        texts = [anchor[1]]
    roll = draw(st.integers(0, 5))
    if roll == 0 and kind in profile.null_kinds:
        return IsNull(key, negated=draw(st.booleans()))
    if roll == 1 and kind in profile.list_kinds:
        return _in(draw, key, texts)
    op = draw(st.sampled_from(sorted(ops, key=lambda o: o.value)))
    return Compare(key, op, Literal(_string_operand(draw, op, texts)))


def _in(draw: st.DrawFn, key: Key, texts: Sequence[str]) -> In:
    values = draw(st.lists(st.sampled_from(texts), min_size=1, max_size=3))
    return In(key, tuple(Literal(v) for v in values), negated=draw(st.booleans()))


@st.composite
def _expression(draw: st.DrawFn, keys: _Keys, depth: int = 0) -> Expr:
    profile = keys.profile
    if depth < 2 and profile.allow_not and draw(st.integers(0, 5)) == 1:
        return Not(draw(_expression(keys, depth + 1)))
    if depth < 2 and profile.allow_or and draw(st.integers(0, 4)) == 1:
        return Or(tuple(draw(st.lists(_expression(keys, depth + 1), min_size=2, max_size=3))))
    terms = draw(st.lists(_clause(keys), min_size=1, max_size=3 if depth == 0 else 2))
    return terms[0] if len(terms) == 1 else And(tuple(terms))


@st.composite
def _sort_keys(draw: st.DrawFn, keys: _Keys, max_size: int = 3) -> list[SortKey]:
    profile, vocab = keys.profile, keys.vocab
    choices: list[Key] = [Key(Entity.ATTRIBUTE, name) for name in sorted(profile.order_by_attributes)]
    if Entity.METRIC in profile.order_by_kinds:
        choices += [Key(Entity.METRIC, name) for name in vocab.metric_keys]
    if Entity.PARAM in profile.order_by_kinds:
        choices += [Key(Entity.PARAM, name) for name in vocab.param_keys]
    if Entity.TAG in profile.order_by_kinds:
        pool = vocab.tag_keys if profile.entity in ("runs", "logged_models") else vocab.experiment_tag_keys
        choices += [Key(Entity.TAG, name) for name in pool]
    if Entity.DATASET in profile.order_by_kinds:
        choices += [Key(Entity.DATASET, name) for name in sorted(profile.dataset_keys)]
    picked = draw(st.lists(st.sampled_from(choices), max_size=max_size, unique=True))
    return [SortKey(key, descending=draw(st.booleans())) for key in picked]


def _spell_key(draw: st.DrawFn, key: Key, profile: Profile) -> str:
    """``key`` with a prefix drawn from the spellings the profile accepts (or none, for attributes)."""
    written = unparse_key(key)
    prefix, _, name = written.partition(".")
    spellings = [s for s in _SPELLINGS[key.entity] if s in profile.prefixes] or [prefix]
    if key.entity is Entity.ATTRIBUTE:
        spellings.append("")
    chosen = draw(st.sampled_from(spellings))
    return f"{chosen}.{name}" if chosen else name


def _spell(draw: st.DrawFn, expr: Expr, profile: Profile) -> str:
    """The filter text, its keys spelt with drawn prefixes and ``AND`` in a drawn case."""
    if isinstance(expr, And) and all(isinstance(t, (Compare, In, IsNull)) for t in expr.terms):
        joiner = draw(st.sampled_from([" AND ", " and ", " And "]))
        return joiner.join(_spell(draw, term, profile) for term in expr.terms)
    if isinstance(expr, Compare):
        return f"{_spell_key(draw, expr.key, profile)} {expr.op.value} {unparse_literal(expr.value)}"
    if isinstance(expr, In):
        values = ", ".join(unparse_literal(v, in_list=True) for v in expr.values)
        return f"{_spell_key(draw, expr.key, profile)} {'NOT IN' if expr.negated else 'IN'} ({values})"
    if isinstance(expr, IsNull):
        return f"{_spell_key(draw, expr.key, profile)} IS {'NOT ' if expr.negated else ''}NULL"
    return unparse(expr)


def _spell_sort(draw: st.DrawFn, sort_key: SortKey, profile: Profile) -> str:
    bare = not profile.order_by_prefixes and sort_key.key.entity is Entity.ATTRIBUTE
    key = sort_key.key.name if bare else _spell_key(draw, sort_key.key, profile)
    if sort_key.descending:
        return f"{key} {draw(st.sampled_from(['DESC', 'desc']))}"
    return f"{key}{draw(st.sampled_from(['', ' ASC', ' asc']))}"


def _accepted(query: Query, profile: Profile) -> bool:
    try:
        diagnostics = check(query, profile, profile.entity)
    except QueryError:
        return False
    return not any(d.severity is Severity.ERROR for d in diagnostics)


def _maybe(draw: st.DrawFn, strategy: st.SearchStrategy[Expr]) -> Expr | None:
    # One query in eight has no filter: the order_by alone is worth testing, but less often.
    return None if draw(st.integers(0, 7)) == 1 else draw(strategy)


@st.composite
def _query(draw: st.DrawFn, keys: _Keys, with_filter: bool = True, with_order_by: bool = True) -> Query:
    profile = keys.profile
    if keys.rows and draw(st.integers(0, 3)) != 1:
        # Most filters are about one row, so that their clauses hold together for it.
        keys = replace(keys, focus=(draw(st.sampled_from(keys.rows)),))
    expr = _maybe(draw, _expression(keys)) if with_filter else None
    sort_keys = draw(_sort_keys(keys)) if with_order_by else []
    filter_string = "" if expr is None else _spell(draw, expr, profile)
    order_by = [_spell_sort(draw, k, profile) for k in sort_keys]
    return parse(filter_string, order_by)


# Every attribute a run has, with an experiment's name and a metric's name as near misses.
_ANY_STRING_ATTRIBUTES = RUN_STRING_ATTRIBUTES | {"name", "acc"}
_ANY_NUMERIC_ATTRIBUTES = RUN_NUMERIC_ATTRIBUTES | EXPERIMENT_NUMERIC_ATTRIBUTES


def _widened(profile: Profile) -> Profile:
    """Every key, operator and form the language has, for queries that a profile may refuse."""
    ops = frozenset(Op)
    return replace(
        profile,
        prefixes=frozenset(ENTITY_ALIASES),
        filter_kinds=frozenset(Entity),
        string_attributes=_ANY_STRING_ATTRIBUTES,
        numeric_attributes=_ANY_NUMERIC_ATTRIBUTES,
        dataset_keys=frozenset({"name", "digest", "context", "profile"}),
        allow_or=True,
        allow_not=True,
        allow_parentheses=True,
        metric_ops=ops,
        param_ops=ops,
        tag_ops=ops,
        string_attribute_ops=ops,
        numeric_attribute_ops=ops,
        dataset_ops=ops,
        list_attributes=_ANY_STRING_ATTRIBUTES,
        list_kinds=frozenset(KeyKind),
        null_kinds=frozenset(KeyKind),
        order_by_kinds=frozenset(Entity),
        order_by_attributes=_ANY_STRING_ATTRIBUTES | _ANY_NUMERIC_ATTRIBUTES,
    )


def queries(
    profile: str | Profile = "mlflow",
    entity: str = "runs",
    vocabulary: Vocabulary | None = None,
    rows: Sequence[Any] = (),
    valid: bool = True,
) -> st.SearchStrategy[Query]:
    """Parsed queries (filter and order_by) that ``profile`` accepts for ``entity``.

    Keys and values come from ``vocabulary``; with ``rows`` (runs or experiments), mostly from what
    those rows hold. ``valid=False`` draws from the whole language instead (every key kind, operator,
    value type, ``OR``, ``NOT``, every prefix spelling), mostly near misses of what the profile accepts:
    the input of an accept-or-refuse comparison.
    """
    resolved = resolve_profile(profile, entity)
    vocab = DEFAULT_VOCABULARY if vocabulary is None else vocabulary
    vocab = vocab.held_by(rows) if rows else vocab
    if not valid:
        widened = _Keys(_widened(resolved), vocab, tuple(rows), wild=True)
        return st.one_of(_query(_Keys(resolved, vocab, tuple(rows), wild=True)), _query(widened))
    keys = _Keys(resolved, vocab, tuple(rows))
    return _query(keys).filter(lambda q: _accepted(q, resolved))


def filter_strings(
    profile: str | Profile = "mlflow", entity: str = "runs", vocabulary: Vocabulary | None = None
) -> st.SearchStrategy[str]:
    """Filter strings ``profile`` accepts (``""`` among them)."""
    resolved = resolve_profile(profile, entity)
    keys = _Keys(resolved, DEFAULT_VOCABULARY if vocabulary is None else vocabulary, ())
    strategy = _query(keys, with_order_by=False).filter(lambda q: _accepted(q, resolved))
    return strategy.map(lambda q: q.filter_string)


def order_by_clauses(
    profile: str | Profile = "mlflow", entity: str = "runs", vocabulary: Vocabulary | None = None
) -> st.SearchStrategy[list[str]]:
    """``order_by`` lists ``profile`` accepts, each key at most once."""
    resolved = resolve_profile(profile, entity)
    keys = _Keys(resolved, DEFAULT_VOCABULARY if vocabulary is None else vocabulary, ())
    strategy = _query(keys, with_filter=False).filter(lambda q: _accepted(q, resolved))
    return strategy.map(lambda q: list(q.order_by_strings))


@st.composite
def search_cases(
    draw: st.DrawFn,
    profile: str | Profile = "mlflow",
    entity: str = "runs",
    vocabulary: Vocabulary | None = None,
    max_rows: int = 8,
) -> tuple[list[Any], Query]:
    """Rows (runs, experiments, registered models, model versions or logged models) and a query about what
    they hold:
    the input of one search."""
    rows: list[Any]
    if entity == "runs":
        rows = draw(runs(vocabulary, max_size=max_rows))
    elif entity == "experiments":
        rows = draw(experiments(vocabulary, min_size=0, max_size=max_rows))
    elif entity == "logged_models":
        rows = draw(logged_models(vocabulary, max_size=max_rows))
    else:
        registry = draw(registries(vocabulary, max_models=max_rows))
        rows = list(registry.models if entity == "registered_models" else registry.versions)
    return rows, draw(queries(profile, entity, vocabulary, rows))
