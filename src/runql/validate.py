"""A query against a profile: every problem at once, then the query lowered for evaluation.

``check`` lists the diagnostics (errors and warnings, each with a caret); ``validate`` raises
``UnsupportedQueryError`` holding all the errors, emits the warnings as ``QueryWarning`` and returns the
query with the profile's own meanings lowered to MLflow's (Azure ML status names, quoted numbers,
``creation_time``), because the evaluator knows no profiles.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from .ast import (
    ATTRIBUTE_ALIASES,
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
    Span,
    assert_never,
)
from .errors import Diagnostic, QueryError, Severity, UnsupportedQueryError
from .parse import WrittenKey, order_by_texts, parse, parse_order_by, written_key
from .profiles import MLFLOW_STATUSES, PROFILES, KeyKind, Profile, get_profile
from .unparse import PLAIN_KEY, unparse, unparse_key, unparse_literal

__all__ = ["QueryWarning", "analyse", "check", "resolve_profile", "validate"]


class QueryWarning(UserWarning):
    """A query the profile accepts but that probably does not mean what it says."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic


def resolve_profile(profile: str | Profile, entity: str = "runs") -> Profile:
    """The profile a name stands for, or ``profile`` itself when it is for ``entity``.

    A shipped profile given for the other entity stands for its sibling (``azureml`` runs -> ``azureml``
    experiments); a profile of your own must match ``entity``.
    """
    if isinstance(profile, Profile):
        if profile.entity != entity and PROFILES.get((profile.name, profile.entity)) == profile:
            return get_profile(profile.name, entity)
        if profile.entity != entity:
            raise ValueError(
                f"the profile {profile.name!r} is for {profile.entity}, not {entity}: "
                f"pass entity={profile.entity!r}, or a profile for {entity}"
            )
        return profile
    return get_profile(profile, entity)


def _as_query(
    query: str | Query | Expr | None, order_by: str | Sequence[str] | None
) -> tuple[Query, tuple[str, ...]]:
    """The query, and where each order_by clause came from (``order_by`` or ``order_by[i]``)."""
    if isinstance(query, Query):
        if order_by is not None:
            raise TypeError("a Query holds its order_by already: pass order_by to runql.parse instead")
        q = query
    elif query is None or isinstance(query, str):
        q = parse(query, order_by)
    elif isinstance(query, (Compare, In, IsNull, And, Or, Not)):
        clauses = order_by_texts(order_by)
        q = Query(
            filter=query,
            order_by=parse_order_by(order_by if isinstance(order_by, str) else clauses),
            order_by_strings=clauses,
        )
    else:
        raise TypeError(f"expected a filter string, a Query or an expression, not {type(query).__name__}")
    if isinstance(order_by, str):
        return q, ("order_by",)
    return q, tuple(f"order_by[{i}]" for i in range(len(q.order_by)))


def check(
    query: str | Query | Expr | None,
    profile: str | Profile = "mlflow",
    entity: str = "runs",
    order_by: str | Sequence[str] | None = None,
) -> list[Diagnostic]:
    """Every problem ``profile`` finds in ``query`` (errors and warnings): the filter's, clause by
    clause, then the order_by's.

    A string is parsed first; what the parser refuses propagates (``QuerySyntaxError``, and
    ``QueryValueError`` for an unknown key type or an unquoted value).
    """
    resolved = resolve_profile(profile, entity)
    q, wheres = _as_query(query, order_by)
    return _Checker(resolved, q, wheres).run()


def analyse(
    query: str | Query | Expr | None,
    profile: str | Profile = "mlflow",
    entity: str = "runs",
    order_by: str | Sequence[str] | None = None,
) -> tuple[Query, list[Diagnostic], Profile]:
    """Parse and check once: the query lowered for evaluation, every diagnostic, and the profile.

    Raises ``UnsupportedQueryError`` with every error; warnings are returned, not emitted.
    """
    resolved = resolve_profile(profile, entity)
    q, wheres = _as_query(query, order_by)
    diagnostics = _Checker(resolved, q, wheres).run()
    if any(d.severity is Severity.ERROR for d in diagnostics):
        raise UnsupportedQueryError(diagnostics, resolved.name)
    return _Lowering(resolved).query(q), diagnostics, resolved


def validate(
    query: str | Query | Expr | None,
    profile: str | Profile = "mlflow",
    entity: str = "runs",
    order_by: str | Sequence[str] | None = None,
) -> Query:
    """The query lowered for evaluation, or ``UnsupportedQueryError`` with every error.

    Warnings are emitted with ``warnings.warn`` as :class:`QueryWarning`.
    """
    resolved = resolve_profile(profile, entity)
    q, wheres = _as_query(query, order_by)
    diagnostics = _Checker(resolved, q, wheres).run()
    if any(d.severity is Severity.ERROR for d in diagnostics):
        raise UnsupportedQueryError(diagnostics, resolved.name)
    for diagnostic in diagnostics:
        warnings.warn(QueryWarning(diagnostic), stacklevel=2)
    return _Lowering(resolved).query(q)


# -- reading the text back ----------------------------------------------------------------------

_INT_TEXT = re.compile(r"-?\d+")
_IS_NULL = re.compile(r"\s*is\s+(?:not\s+)?null\b", re.IGNORECASE)
_FLOAT_TEXT = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _written(key: Key, source: str) -> WrittenKey:
    """How the user wrote ``key`` (hand-built keys have no text: their name is what was meant)."""
    if key.span is None or not source:
        return WrittenKey(None, key.name, False)
    return written_key(source[key.span.start : key.span.end])


def _number_text(text: str) -> int | float | None:
    """The number a quoted text spells, as the ``azureml`` profile reads quoted times."""
    if _INT_TEXT.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than Python converts to int
            return float(text)
    if _FLOAT_TEXT.fullmatch(text):
        return float(text)
    return None


def _trimmed(source: str, start: int, end: int) -> Span | None:
    """The span of the non-blank text between ``start`` and ``end``."""
    segment = source[start:end]
    if not segment.strip():
        return None
    first = start + len(segment) - len(segment.lstrip())
    last = start + len(segment.rstrip())
    return Span.at(source, first, last)


def _pretty(value: int | float) -> str:
    if isinstance(value, int):
        text = str(value)
        return text if len(text) <= 40 else f"{text[:12]}... ({len(text.lstrip('-'))} digits)"
    return str(int(value)) if value.is_integer() else repr(value)


def _when(ms: float) -> str:
    try:
        moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "out of range"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _key_text(key: Key) -> str:
    try:
        return unparse_key(key)
    except QueryError:
        return f"{key.entity.prefix}.{key.name}"


def _clause_text(node: Compare) -> str:
    try:
        return unparse(node)
    except QueryError:
        return ""


_NEGATED = {
    Op.EQ: Op.NE,
    Op.NE: Op.EQ,
    Op.LT: Op.GE,
    Op.GE: Op.LT,
    Op.GT: Op.LE,
    Op.LE: Op.GT,
    Op.LIKE: Op.NOT_LIKE,
    Op.NOT_LIKE: Op.LIKE,
    Op.ILIKE: Op.NOT_ILIKE,
    Op.NOT_ILIKE: Op.ILIKE,
}

# Attribute names people reach for, and where the thing they want lives.
_RUN_ATTRIBUTE_HINTS = {
    "experiment_id": "runs are searched per experiment: pass experiment_ids=[...] to search_runs",
    "lifecycle_stage": "choose deleted or active runs with run_view_type=ViewType.DELETED_ONLY / ALL",
    "creation_time": "MLflow calls a run's creation time start_time (alias created); "
    "the azureml and extended profiles also accept creation_time",
    "duration": "MLflow has no duration: use the azureml or extended profile, "
    "or compute df['end_time'] - df['start_time']",
    "name": "did you mean run_name?",
    "run_uuid": "did you mean run_id?",
}
_EXPERIMENT_ATTRIBUTE_HINTS = {
    "start_time": "did you mean creation_time?",
    "experiment_name": "did you mean name?",
    "created": "did you mean creation_time?",
    "lifecycle_stage": "choose deleted or active experiments with view_type=ViewType.DELETED_ONLY / ALL",
}


_ELSEWHERE = "filter the DataFrame, or use the extended profile, which runs in memory"


# -- the checker ----------------------------------------------------------------------------------


@dataclass
class _Checker:
    profile: Profile
    query: Query
    wheres: tuple[str, ...]
    found: list[Diagnostic] = field(default_factory=list)
    source: str = ""
    where: str = ""

    def run(self) -> list[Diagnostic]:
        self.source, self.where = self.query.filter_string, "filter_string"
        if self.query.filter is not None:
            self.expr(self.query.filter)
        seen: dict[Key, int] = {}
        for i, sort_key in enumerate(self.query.order_by):
            strings = self.query.order_by_strings
            self.source = strings[i] if i < len(strings) else ""
            self.where = self.wheres[i] if i < len(self.wheres) else f"order_by[{i}]"
            self.sort_key(sort_key, i, seen)
        return self.found

    # -- reporting

    def report(
        self, code: str, message: str, span: Span | None, hint: str = "", warning: bool = False
    ) -> None:
        if not self.source:
            span = None
        self.found.append(
            Diagnostic(
                code=code,
                message=message,
                span=span,
                hint=hint,
                severity=Severity.WARNING if warning else Severity.ERROR,
                source=self.source,
                where=self.where,
            )
        )

    # -- structure

    def expr(self, node: Expr) -> None:
        p = self.profile
        if self.grouped(node) and not p.allow_parentheses and node.span is not None:
            self.report(
                "unsupported-parentheses",
                f"{p.title} does not support parentheses",
                Span.at(self.source, node.span.start, node.span.start + 1),
                "conditions are joined with AND only: remove the parentheses, or use the extended profile",
            )
        match node:
            case And(terms):
                for term in terms:
                    self.expr(term)
            case Or(terms):
                if not p.allow_or:
                    self.report(
                        "unsupported-or",
                        f"{p.title} does not support OR",
                        self.or_span(node),
                        self.or_hint(node),
                    )
                for term in terms:
                    self.expr(term)
            case Not(term):
                if not p.allow_not:
                    self.report(
                        "unsupported-not",
                        f"{p.title} does not support NOT",
                        self.not_span(node),
                        self.not_hint(term),
                    )
                self.expr(term)
            case Compare() | In() | IsNull():
                self.clause(node)
            case _:
                assert_never(node)

    def grouped(self, node: Expr) -> bool:
        """Whether the parser widened ``node``'s span over parentheses around it."""
        if node.span is None or not self.source:
            return False
        match node:
            case And(terms) | Or(terms):
                first = terms[0].span
            case Not():
                return self.source[node.span.start : node.span.start + 1] == "("
            case Compare(key) | In(key) | IsNull(key):
                first = key.span
            case _:
                assert_never(node)
        return first is not None and node.span.start < first.start

    def or_span(self, node: Or) -> Span | None:
        a, b = node.terms[0].span, node.terms[1].span
        if a is None or b is None or not self.source:
            return node.span
        return _trimmed(self.source, a.end, b.start)

    def not_span(self, node: Not) -> Span | None:
        if node.span is None or not self.source:
            return None
        start = node.span.start + (1 if self.grouped(node) else 0)
        match = re.compile(r"\s*(not)\b", re.IGNORECASE).match(self.source, start)
        if match is None:
            return node.span
        return Span.at(self.source, match.start(1), match.end(1))

    def or_hint(self, node: Or) -> str:
        terms = node.terms
        if all(isinstance(t, Compare) and t.op is Op.EQ for t in terms):
            compares = [t for t in terms if isinstance(t, Compare)]
            keys = {c.key for c in compares}
            kind = self.profile.kind_of(compares[0].key.entity, compares[0].key.name)
            if len(keys) == 1 and kind is not None and self.profile.accepts_list(kind, compares[0].key.name):
                items = ", ".join(unparse_literal(c.value, in_list=True) for c in compares)
                return f"write {_key_text(compares[0].key)} IN ({items})"
        return (
            "run one search per alternative and concatenate the results (pd.concat), "
            "or use the extended profile"
        )

    def not_hint(self, term: Expr) -> str:
        if isinstance(term, Compare) and term.op in _NEGATED:
            negated = replace(term, op=_NEGATED[term.op])
            kind = self.profile.kind_of(term.key.entity, term.key.name)
            text = _clause_text(negated)
            if kind is not None and negated.op in self.profile.ops_for(kind) and text:
                return f"negate the comparison instead: {text}"
        if isinstance(term, In):
            return f"write {_key_text(term.key)} {'IN' if term.negated else 'NOT IN'} (...)"
        if isinstance(term, IsNull):
            return f"write {_key_text(term.key)} IS {'NULL' if term.negated else 'NOT NULL'}"
        return "negate each comparison instead, or use the extended profile"

    # -- keys

    def key_kind(
        self, key: Key, in_order_by: bool, node: Compare | In | IsNull | None = None
    ) -> KeyKind | None:
        """The kind of ``key``, or ``None`` after reporting why the profile refuses it."""
        p = self.profile
        written = _written(key, self.source)
        key_span = key.span if self.source else None
        if key.entity not in p.filter_kinds:
            what = "filter" if not in_order_by else "order"
            self.report(
                "unsupported-key",
                f"{p.title} cannot {what} {p.entity} by {key.entity.prefix}",
                key_span,
                self.entity_hint(),
            )
            return None
        if written.prefix is not None and written.prefix not in p.prefixes:
            canonical = "attributes" if key.entity is Entity.ATTRIBUTE else key.entity.prefix
            self.report(
                "unsupported-key",
                f"{p.title} does not accept the prefix {written.prefix!r} for {p.entity}",
                key_span,
                f"write {canonical}.{written.name}; "
                f"{p.entity} accept the prefixes {', '.join(sorted(p.prefixes))}",
            )
            return None
        if in_order_by and key.entity not in p.order_by_kinds:
            self.report(
                "unsupported-order-by",
                f"{p.title} cannot ORDER BY {_key_text(key)}",
                key_span,
                self.sort_hint(key),
            )
            return None
        if key.entity is Entity.ATTRIBUTE:
            return self.attribute_kind(key, written, in_order_by, node)
        if key.entity is Entity.DATASET and key.name not in p.dataset_keys:
            close = difflib.get_close_matches(key.name, sorted(p.dataset_keys), n=1)
            keys = ", ".join(sorted(p.dataset_keys))
            self.report(
                "unknown-dataset-key",
                f"unknown dataset key {key.name!r}",
                key_span,
                (f"did you mean datasets.{close[0]}? " if close else "") + f"dataset keys are {keys}",
            )
            return None
        if (
            key.entity is Entity.METRIC
            and not p.quoted_metric_names
            and (written.quoted or not PLAIN_KEY.fullmatch(key.name))
        ):
            self.report(
                "unsupported-quoted-name",
                f"{p.title} cannot filter by metrics whose names need quoting ({_key_text(key)})",
                key_span,
                "filter the DataFrame instead: df[df['metrics." + key.name + "'] > ...], "
                "or use the extended profile",
            )
            return None
        return p.kind_of(key.entity, key.name)

    def entity_hint(self) -> str:
        p = self.profile
        if p.entity == "experiments":
            names = ", ".join(sorted(p.attributes))
            return f"experiment filters use the attributes {names} and tags.<name>"
        return _ELSEWHERE

    def sort_hint(self, key: Key) -> str:
        p = self.profile
        if key.entity is Entity.DATASET:
            return "runs cannot be sorted by datasets: a run may have several"
        if p.entity == "experiments":
            return f"sort the result instead: sorted(experiments, key=lambda e: e.tags.get({key.name!r}))"
        column = f"{key.entity.prefix}.{key.name}"
        return f"sort the result instead: df.sort_values({column!r}, ascending=False)"

    def attribute_kind(
        self, key: Key, written: WrittenKey, in_order_by: bool, node: Compare | In | IsNull | None
    ) -> KeyKind | None:
        p = self.profile
        renames = dict(p.attribute_renames)
        name = renames.get(key.name, key.name)
        alias = written.name if written.name in ATTRIBUTE_ALIASES and written.name != key.name else None
        if in_order_by:
            valid = p.order_by_attributes | set(renames)
            alias_ok = alias is None or alias in p.order_by_aliases
            known = name in p.order_by_attributes and alias_ok
        else:
            valid, alias_ok = p.attributes, True
            known = name in p.string_attributes | p.numeric_attributes
        if known:
            return p.kind_of(Entity.ATTRIBUTE, key.name) or KeyKind.STRING_ATTRIBUTE
        shown = alias or key.name
        if not alias_ok and name in p.order_by_attributes:
            hint = f"the alias {shown!r} works in filters only: in order_by write {name}"
        else:
            hint = self.attribute_hint(shown, valid, node, in_order_by)
        where = "order_by key" if in_order_by else "attribute"
        self.report(
            "unknown-attribute",
            f"{p.title} has no {p.entity[:-1]} {where} {shown!r}",
            key.span if self.source else None,
            hint,
        )
        return None

    def attribute_hint(
        self,
        name: str,
        valid: frozenset[str] | set[str],
        node: Compare | In | IsNull | None,
        in_order_by: bool,
    ) -> str:
        p = self.profile
        keys = ", ".join(sorted(valid))
        special = (_RUN_ATTRIBUTE_HINTS if p.entity == "runs" else _EXPERIMENT_ATTRIBUTE_HINTS).get(name)
        if special and not (name == "creation_time" and p.entity == "experiments"):
            return special
        folded = {v.casefold(): v for v in valid}
        if name.casefold() in folded:
            return f"attribute names are case-sensitive: write {folded[name.casefold()]}"
        close = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.75)
        if close:
            return f"did you mean {close[0]}?"
        guess = self.key_guess(name, node, in_order_by)
        prefix = f"did you mean {guess}? " if guess else ""
        return f"{prefix}attribute keys are {keys}"

    def key_guess(self, name: str, node: Compare | In | IsNull | None, in_order_by: bool) -> str:
        p = self.profile
        if p.entity == "experiments":
            return _key_text(Key(Entity.TAG, name))
        if in_order_by or (isinstance(node, Compare) and not isinstance(node.value.value, str)):
            return _key_text(Key(Entity.METRIC, name))
        if isinstance(node, IsNull):
            return _key_text(Key(Entity.TAG, name))
        if node is not None:
            return f"{_key_text(Key(Entity.PARAM, name))} or {_key_text(Key(Entity.TAG, name))}"
        return ""

    # -- clauses

    def op_span(self, node: Compare | In | IsNull) -> Span | None:
        if not self.source or node.key.span is None or node.span is None:
            return node.span if self.source else None
        start = node.key.span.end
        match node:
            case Compare(value=value):
                end = value.span.start if value.span is not None else node.span.end
            case In(values=values):
                end = self.source.find("(", start)
                if end < 0 or (values and values[0].span is not None and end > values[0].span.start):
                    end = values[0].span.start if values and values[0].span is not None else node.span.end
            case IsNull():
                # the parser's IS NULL span is the key alone: find the words after it
                found = _IS_NULL.match(self.source, start)
                end = found.end() if found else node.span.end
        return _trimmed(self.source, start, end) or node.span

    def clause(self, node: Compare | In | IsNull) -> None:
        p = self.profile
        kind = self.key_kind(node.key, False, node)
        if kind is None:
            return
        key = node.key
        match node:
            case Compare(_, op, value):
                if op not in p.ops_for(kind):
                    self.report(
                        "unsupported-operator",
                        self.op_message(op.value, kind),
                        self.op_span(node),
                        self.op_hint(node, kind),
                    )
                elif kind is KeyKind.TAG and op in p.tag_ops_observed_refused:
                    self.report(
                        "observed-unsupported",
                        f"some {p.title} paths are reported to refuse {op.value} on tags",
                        self.op_span(node),
                        "if the backend refuses it, filter the DataFrame: df[df['tags."
                        + key.name
                        + "'].str.contains(...)]",
                        warning=True,
                    )
                self.value(key, kind, value, op)
            case In(_, values, negated):
                word = "NOT IN" if negated else "IN"
                if not p.accepts_list(kind, key.name):
                    lists = sorted(p.list_attributes) + [
                        f"{k.plural}.*" for k in sorted(p.list_kinds, key=list(KeyKind).index)
                    ]
                    allowed = ", ".join(lists) or "no key"
                    self.report(
                        "unsupported-list",
                        f"{p.title} does not support {word} on {_key_text(key)}",
                        self.op_span(node),
                        f"{word} lists work on {allowed}; "
                        "otherwise join = conditions, or use the extended profile",
                    )
                    return
                for item in values:
                    self.value(key, kind, item, Op.EQ, in_list=True)
            case IsNull(_, negated):
                if kind not in p.null_kinds:
                    kinds = ", ".join(k.plural for k in KeyKind if k in p.null_kinds) or "no key"
                    self.report(
                        "unsupported-is-null",
                        f"{p.title} does not support IS {'NOT ' if negated else ''}NULL on {_key_text(key)}",
                        self.op_span(node),
                        f"IS NULL works on {kinds}; otherwise filter the DataFrame: "
                        f"df[df['{_column(key)}'].isna()], or use the extended profile",
                    )
            case _:
                assert_never(node)

    def op_message(self, op: str, kind: KeyKind) -> str:
        return f"{self.profile.title} does not support {op} on {kind.plural}"

    def op_hint(self, node: Compare, kind: KeyKind) -> str:
        allowed = " ".join(o.value for o in Op if o in self.profile.ops_for(kind))
        base = f"{kind.plural} accept {allowed}" if allowed else f"{kind.plural} accept no comparator here"
        if kind in (KeyKind.PARAM, KeyKind.TAG) and node.op.is_ordering:
            column = _column(node.key)
            return (
                f"{base}; {kind.plural} are strings: compare numbers in pandas, df['{column}'].astype(float)"
            )
        if node.op is Op.NE and kind is KeyKind.TAG:
            return (
                f"filter the DataFrame: df[df['{_column(node.key)}'] != ...], "
                "or use the extended profile, which runs in memory"
            )
        return f"{base}; or {_ELSEWHERE}"

    def value(self, key: Key, kind: KeyKind, literal: Literal, op: Op, in_list: bool = False) -> None:
        p = self.profile
        value = literal.value
        span = literal.span if self.source else None
        what = "list items for" if in_list else "values for"
        if kind is KeyKind.METRIC:
            if isinstance(value, str):
                fixed = _number_text(value)
                hint = f"remove the quotes: {_pretty(fixed)}" if fixed is not None else "metrics hold numbers"
                self.report(
                    "bad-value-type",
                    f"{_key_text(key)} compares with numbers, not the text {value!r}",
                    span,
                    hint,
                )
            return
        if kind is KeyKind.NUMERIC_ATTRIBUTE:
            number: int | float | None = value if not isinstance(value, str) else None
            if isinstance(value, str):
                number = _number_text(value)
                if number is None or not p.quoted_numbers:
                    self.report(
                        "bad-value-type",
                        f"{what} {key.name} are numbers (milliseconds), not the text {value!r}",
                        span,
                        self.time_hint(number),
                    )
                    return
            if number is not None:
                self.time_warnings(key, number, span)
            return
        if not isinstance(value, str):
            kind_name = "attributes" if kind is KeyKind.STRING_ATTRIBUTE else kind.plural
            self.report(
                "bad-value-type",
                f"{what} {_key_text(key)} are quoted strings, not the number {_pretty(value)}",
                span,
                f"{kind_name} compare as text: write '{_pretty(value)}'",
            )
            return
        if (
            kind is KeyKind.STRING_ATTRIBUTE
            and key.name == "status"
            and p.entity == "runs"
            and not op.is_pattern
        ):
            self.status_warning(value, span)

    def time_hint(self, number: int | float | None) -> str:
        if number is not None:
            return f"remove the quotes: {_pretty(number)}"
        return "times are milliseconds since the epoch, e.g. int(datetime(2024, 1, 1).timestamp() * 1000)"

    def time_warnings(self, key: Key, number: int | float, span: Span | None) -> None:
        p = self.profile
        name = dict(p.attribute_renames).get(key.name, key.name)
        if name in p.duration_attributes:
            if 0 < number < 1000:
                self.report(
                    "duration-units",
                    f"{key.name} is in milliseconds: {_pretty(number)} is {number / 1000:g} seconds",
                    span,
                    f"for {_pretty(number)} seconds write {_pretty(number * 1000)}",
                    warning=True,
                )
            return
        if 1e8 <= abs(number) < 1e11:
            self.report(
                "seconds-not-milliseconds",
                f"{key.name} is in milliseconds since the epoch: {_pretty(number)} is {_when(number)}",
                span,
                f"if you meant seconds, did you mean {_pretty(number * 1000)} ({_when(number * 1000)})?",
                warning=True,
            )

    def status_warning(self, value: str, span: Span | None) -> None:
        p = self.profile
        if p.status_names:
            if p.status_for(value) is None:
                names = ", ".join(dict.fromkeys(s for s, _ in p.status_names))
                self.report(
                    "unknown-status",
                    f"{value!r} is not a status {p.title} knows: it matches no run",
                    span,
                    f"statuses are {names}",
                    warning=True,
                )
            return
        if value in MLFLOW_STATUSES:
            return
        azure = PROFILES[("azureml", "runs")].status_for(value)
        if value.upper() in MLFLOW_STATUSES:
            hint = f"MLflow's statuses are upper case: did you mean {value.upper()!r}?"
        elif azure is not None:
            hint = f"{value!r} is an Azure ML job status; MLflow's is {azure!r} (or use the azureml profile)"
        else:
            hint = f"statuses are {', '.join(MLFLOW_STATUSES)}"
        self.report(
            "unknown-status", f"no run has the status {value!r}: it matches nothing", span, hint, warning=True
        )

    # -- order_by

    def sort_key(self, sort_key: SortKey, index: int, seen: dict[Key, int]) -> None:
        kind = self.key_kind(sort_key.key, True)
        if kind is None:
            return
        key = sort_key.key
        if key.entity is Entity.ATTRIBUTE:
            key = replace(key, name=dict(self.profile.attribute_renames).get(key.name, key.name))
        if key in seen:
            self.report(
                "duplicate-order-by",
                f"{_key_text(key)} is already ordered by order_by[{seen[key]}]: the first one wins",
                sort_key.key.span if self.source else None,
                "remove the repeated key",
                warning=True,
            )
        else:
            seen[key] = index


def _column(key: Key) -> str:
    return f"{key.entity.prefix}.{key.name}" if key.entity is not Entity.ATTRIBUTE else key.name


# -- lowering ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lowering:
    """Rewrites a query the profile accepted into the profile-agnostic form the evaluator reads."""

    profile: Profile

    def query(self, q: Query) -> Query:
        p = self.profile
        if not (p.attribute_renames or p.quoted_numbers or p.status_names):
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
            number = _number_text(value)
            return literal if number is None else replace(literal, value=number)
        return literal
