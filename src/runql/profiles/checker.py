"""A query against a profile: every problem at once, as a table of rules.

``check`` lists the diagnostics (errors and warnings, each with a caret); ``validate`` raises
``UnsupportedQueryError`` holding all the errors, emits the warnings as ``QueryWarning`` and returns the
query lowered to MLflow's meaning by :mod:`runql.profiles.lowering`, because the evaluator knows no
profiles. Every diagnostic a profile gives is a rule here; the words of its hint are in
:mod:`runql.profiles.hints`.
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from runql.common.regex import RegexBudget
from runql.errors import (
    Diagnostic,
    QueryValueError,
    QueryWarning,
    Severity,
    UnsupportedQueryError,
)
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
    Quoting,
    SortKey,
    Span,
    assert_never,
    nesting_error,
    too_deep,
    walk,
)
from runql.language.attributes import KeyKind
from runql.language.parser import order_by_texts, parse, parse_order_by
from runql.language.unparser import PLAIN_KEY
from runql.profiles import dates, hints
from runql.profiles.catalog import MLFLOW_STATUSES, MODEL_PROFILES, PROFILES, Profile, get_profile
from runql.profiles.lowering import lower, number_text

__all__ = ["analyse", "check", "resolve_profile", "validate"]


def resolve_profile(profile: str | Profile, entity: str = "runs") -> Profile:
    """The profile a name stands for, or ``profile`` itself when it is for ``entity``.

    A shipped profile given for the other entity stands for its sibling (``azureml`` runs -> ``azureml``
    experiments); a profile of your own must match ``entity``.
    """
    if isinstance(profile, Profile):
        shipped = PROFILES.get((profile.name, profile.entity)) or MODEL_PROFILES.get(
            (profile.name, profile.entity)
        )
        if profile.entity != entity and shipped == profile:
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
    _refuse_long_texts(resolved, query, order_by)
    q, wheres = _as_query(query, order_by)
    return _diagnose(resolved, q, wheres)


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
    _refuse_long_texts(resolved, query, order_by)
    q, wheres = _as_query(query, order_by)
    diagnostics = _diagnose(resolved, q, wheres)
    if any(d.severity is Severity.ERROR for d in diagnostics):
        raise UnsupportedQueryError(diagnostics, resolved.name)
    return lower(resolved, q), diagnostics, resolved


def validate(
    query: str | Query | Expr | None,
    profile: str | Profile = "mlflow",
    entity: str = "runs",
    order_by: str | Sequence[str] | None = None,
) -> Query:
    """The query lowered for evaluation, or ``UnsupportedQueryError`` with every error.

    Warnings are emitted with ``warnings.warn`` as :class:`QueryWarning`.
    """
    lowered, diagnostics, _ = analyse(query, profile, entity, order_by)
    for diagnostic in diagnostics:
        warnings.warn(QueryWarning(diagnostic), stacklevel=2)
    return lowered


# -- the checker: a table of rules -------------------------------------------------------------
#
# A rule looks at one node and returns what the profile finds wrong with it; the hint texts are in
# runql.profiles.hints. The walk below runs the structure rules on every expression node, the key rules on
# every key (the first refusal stops them: the key has no kind to check further), then the rule of the
# clause's type and the value rule of the key's kind.


@dataclass(frozen=True)
class _Site:
    """What the rules report against: the profile, and the text checked with where it came from."""

    profile: Profile
    source: str
    where: str
    # The RLIKE patterns met in this text: each compiled once, all within one budget.
    regexes: RegexBudget = field(default_factory=RegexBudget, compare=False, repr=False)

    @property
    def written(self) -> bool:
        """Whether the text is at hand. How the query was written (prefixes, quotes, aliases,
        parentheses) is judged only with it: a tree given without its text is judged by what it means,
        as the equal tree built by hand is."""
        return bool(self.source)

    def problem(
        self, code: str, message: str, span: Span | None, hint: str, warning: bool = False
    ) -> Diagnostic:
        return Diagnostic(
            code=code,
            message=message,
            span=span if self.source else None,  # a caret needs the text it points into
            hint=hint,
            severity=Severity.WARNING if warning else Severity.ERROR,
            source=self.source,
            where=self.where,
        )


@dataclass(frozen=True)
class _Use:
    """Where a key is used: in an order_by clause, or in the filter clause ``node``."""

    in_order_by: bool
    node: Compare | In | IsNull | None = None


# -- structure


def _parentheses(site: _Site, node: Expr) -> Diagnostic | None:
    p = site.profile
    if not (site.written and node.parenthesised) or p.allow_parentheses or node.span is None:
        return None
    paren = Span(node.span.start, node.span.start + 1, node.span.line, node.span.column)
    return site.problem(
        "unsupported-parentheses", f"{p.title} does not support parentheses", paren, hints.PARENTHESES
    )


def _or(site: _Site, node: Expr) -> Diagnostic | None:
    p = site.profile
    if not isinstance(node, Or) or p.allow_or:
        return None
    return site.problem(
        "unsupported-or",
        f"{p.title} does not support OR",
        node.op_span or node.span,
        hints.instead_of_or(p, node),
    )


def _not(site: _Site, node: Expr) -> Diagnostic | None:
    p = site.profile
    if not isinstance(node, Not) or p.allow_not:
        return None
    return site.problem(
        "unsupported-not",
        f"{p.title} does not support NOT",
        node.op_span or node.span,
        hints.instead_of_not(p, node.term),
    )


_STRUCTURE_RULES: tuple[Callable[[_Site, Expr], Diagnostic | None], ...] = (_parentheses, _or, _not)


# -- keys


def _history_searched(site: _Site, key: Key, use: _Use) -> Diagnostic | None:
    p = site.profile
    if key.aggregate is None or p.metric_histories or key.entity not in p.filter_kinds:
        return None  # a profile without metrics refuses the key for that (_entity_searched)
    what = "order" if use.in_order_by else "filter"
    metric = hints.key_text(key.metric)
    if use.in_order_by:
        hint = f"order by {metric} (its latest value), or use the extended profile"
    else:
        hint = (
            f"filter by {metric} (its latest value), or use the extended profile, "
            f"which computes {key.aggregate.value}() from every logged point"
        )
    return site.problem(
        "unsupported-aggregate",
        f"{p.title} cannot {what} {p.noun} by {key.aggregate.value}() of a metric's history, "
        "only by its latest value",
        key.span,
        hint,
    )


def _entity_searched(site: _Site, key: Key, use: _Use) -> Diagnostic | None:
    p = site.profile
    if key.entity in p.filter_kinds:
        return None
    what = "order" if use.in_order_by else "filter"
    return site.problem(
        "unsupported-key",
        f"{p.title} cannot {what} {p.noun} by {key.entity.prefix}",
        key.span,
        hints.unsearched_entity(p),
    )


def _prefix_accepted(site: _Site, key: Key, use: _Use) -> Diagnostic | None:
    p = site.profile
    attribute = key.entity is Entity.ATTRIBUTE
    if site.written and use.in_order_by and key.prefix is not None and attribute and not p.order_by_prefixes:
        return site.problem(
            "unsupported-key",
            f"{p.title} takes no prefix on an attribute in the order_by of {p.noun}",
            key.span,
            f"write {key.name}",
        )
    if site.written and key.prefix is not None and attribute and key.name in p.bare_attributes:
        return site.problem(
            "unsupported-key",
            f"{p.title} reads {key.name!r} only without a prefix when searching {p.noun}",
            key.span,
            f"write {key.name}",
        )
    if not site.written or key.prefix is None or key.prefix in p.prefixes:
        return None
    return site.problem(
        "unsupported-key",
        f"{p.title} does not accept the prefix {key.prefix!r} for {p.noun}",
        key.span,
        hints.prefix(p, key),
    )


def _entity_sortable(site: _Site, key: Key, use: _Use) -> Diagnostic | None:
    p = site.profile
    if not use.in_order_by or key.entity in p.order_by_kinds:
        return None
    return site.problem(
        "unsupported-order-by",
        f"{p.title} cannot ORDER BY {hints.key_text(key)}",
        key.span,
        hints.unsortable(p, key),
    )


def _attribute_known(site: _Site, key: Key, use: _Use) -> Diagnostic | None:
    p = site.profile
    if key.entity is not Entity.ATTRIBUTE:
        return None
    renames = dict(p.attribute_renames)
    name = renames.get(key.name, key.name)
    alias = key.alias if site.written else None
    if use.in_order_by:
        valid = p.order_by_attributes | frozenset(renames)
        alias_ok = alias is None or alias in p.order_by_aliases
        known = name in p.order_by_attributes and alias_ok
    else:
        valid = p.attributes
        alias_ok = alias is None or alias in p.filter_aliases
        known = name in p.string_attributes | p.numeric_attributes and alias_ok
    if known:
        return None
    shown = alias or key.name
    if not alias_ok and use.in_order_by and alias in p.filter_aliases and name in p.order_by_attributes:
        hint = hints.filter_only_alias(shown, name)
    elif not alias_ok and name in valid:
        hint = hints.unknown_alias(p, shown, name)
    else:
        hint = hints.unknown_attribute(p, shown, valid, use.node, use.in_order_by)
    where = "order_by key" if use.in_order_by else "attribute"
    return site.problem(
        "unknown-attribute", f"{p.title} has no {p.noun[:-1]} {where} {shown!r}", key.span, hint
    )


def _dataset_key_known(site: _Site, key: Key, use: _Use) -> Diagnostic | None:
    p = site.profile
    if key.entity is not Entity.DATASET or key.name in p.dataset_keys:
        return None
    return site.problem(
        "unknown-dataset-key", f"unknown dataset key {key.name!r}", key.span, hints.dataset_key(p, key.name)
    )


def _metric_name_plain(site: _Site, key: Key, use: _Use) -> Diagnostic | None:
    p = site.profile
    if key.entity is not Entity.METRIC or p.quoted_metric_names:
        return None
    if (not site.written or key.quoting is Quoting.BARE) and PLAIN_KEY.fullmatch(key.name):
        return None
    return site.problem(
        "unsupported-quoted-name",
        f"{p.title} cannot filter by metrics whose names need quoting ({hints.key_text(key)})",
        key.span,
        hints.quoted_metric(key),
    )


def _key_unquoted(site: _Site, key: Key, use: _Use) -> Diagnostic | None:
    p = site.profile
    if not (p.single_quoted_values and site.written and key.quoting is Quoting.QUOTES):
        return None
    return site.problem(
        "unsupported-quoting",
        f"{p.title} keeps the quotes of a quoted key name as part of it when searching {p.noun}",
        key.span,
        f"write the name in backticks: {key.entity.prefix}.`{key.name}`",
    )


_KEY_RULES: tuple[Callable[[_Site, Key, _Use], Diagnostic | None], ...] = (
    _history_searched,
    _entity_searched,
    _prefix_accepted,
    _entity_sortable,
    _attribute_known,
    _dataset_key_known,
    _metric_name_plain,
    _key_unquoted,
)


def _key_refusal(site: _Site, key: Key, use: _Use) -> Diagnostic | None:
    """The first key rule's refusal of ``key``, if any."""
    for rule in _KEY_RULES:
        refusal = rule(site, key, use)
        if refusal is not None:
            return refusal
    return None


# -- values: one rule per kind of key


def _metric_value(
    site: _Site, key: Key, kind: KeyKind, literal: Literal, op: Op, in_list: bool
) -> list[Diagnostic]:
    value = literal.value
    if not isinstance(value, str):
        return []
    fixed = number_text(value)
    return [
        site.problem(
            "bad-value-type",
            f"{hints.key_text(key)} compares with numbers, not the text {value!r}",
            literal.span,
            hints.unquote(fixed) if fixed is not None else hints.METRIC_NUMBERS,
        )
    ]


def _time_value(
    site: _Site, key: Key, kind: KeyKind, literal: Literal, op: Op, in_list: bool
) -> list[Diagnostic]:
    p = site.profile
    value = literal.value
    name = dict(p.attribute_renames).get(key.name, key.name)
    if isinstance(value, str) and number_text(value) is None and name not in p.duration_attributes:
        date = _date_value(site, key, literal, value)
        if date is not None:
            return date
    number = number_text(value) if isinstance(value, str) else value
    if isinstance(value, str) and (number is None or not p.quoted_numbers):
        what = "list items for" if in_list else "values for"
        return [
            site.problem(
                "bad-value-type",
                f"{what} {key.name} are numbers (milliseconds), not the text {value!r}",
                literal.span,
                hints.unquote(number) if number is not None else hints.TIMES,
            )
        ]
    assert number is not None
    if p.whole_times and not isinstance(number, int):
        # A model version's number is a count, every other numeric attribute a time.
        counted = name == "version_number"
        unit = "" if counted else " (milliseconds)"
        return [
            site.problem(
                "bad-value-type",
                f"{p.title} compares {key.name} with whole numbers{unit} only, not {number!r}",
                literal.span,
                f"write a whole number, such as {int(number)}"
                if counted
                else hints.whole_milliseconds(number),
            )
        ]
    shown = hints.number_text(number)
    if name in p.duration_attributes:
        if 0 < number < 1000:
            return [
                site.problem(
                    "duration-units",
                    f"{key.name} is in milliseconds: {shown} is {number / 1000:g} seconds",
                    literal.span,
                    hints.duration_units(number),
                    warning=True,
                )
            ]
    elif 1e8 <= abs(number) < 1e11:
        return [
            site.problem(
                "seconds-not-milliseconds",
                f"{key.name} is in milliseconds since the epoch: {shown} is {hints.date_text(number)}",
                literal.span,
                hints.seconds(number),
                warning=True,
            )
        ]
    return []


def _date_value(site: _Site, key: Key, literal: Literal, text: str) -> list[Diagnostic] | None:
    """The verdict on a date written for a time attribute; None when ``text`` is not meant as one."""
    p = site.profile
    if not dates.looks_like_date(text):
        return None
    milliseconds = dates.to_milliseconds(text)
    if milliseconds is None:
        if not p.dates:
            return None  # the profile's own refusal of text says enough
        return [
            site.problem(
                "bad-value-type",
                f"{text!r} is not a date runql reads",
                literal.span,
                f"dates are {dates.DATE_FORMS}; without a zone the time is UTC",
            )
        ]
    if p.dates:
        return []
    exact = "" if dates.is_relative(text) else f": write {milliseconds} ({hints.date_text(milliseconds)})"
    return [
        site.problem(
            "bad-value-type",
            f"{p.title} compares {key.name} with milliseconds since the epoch, not the date {text!r}",
            literal.span,
            f"times are milliseconds since the epoch{exact}; the extended profile reads dates",
        )
    ]


def _string_value(
    site: _Site, key: Key, kind: KeyKind, literal: Literal, op: Op, in_list: bool
) -> list[Diagnostic]:
    value = literal.value
    if isinstance(value, str):
        if in_list or not _double_quoted(site, literal):
            return []
        return [
            site.problem(
                "unsupported-quoting",
                f"{site.profile.title} keeps the double quotes of a value as part of it when searching "
                f"{site.profile.noun}, so {hints.key_text(key)} would match nothing",
                literal.span,
                f"write the value in single quotes: '{value}'",
            )
        ]
    what = "list items for" if in_list else "values for"
    return [
        site.problem(
            "bad-value-type",
            f"{what} {hints.key_text(key)} are quoted strings, not the number {hints.number_text(value)}",
            literal.span,
            hints.quote(kind, value),
        )
    ]


def _attribute_text(
    site: _Site, key: Key, kind: KeyKind, literal: Literal, op: Op, in_list: bool
) -> list[Diagnostic]:
    found = _string_value(site, key, kind, literal, op, in_list)
    value = literal.value
    if found or not isinstance(value, str):
        return found
    if key.name != "status" or site.profile.entity != "runs" or op.is_pattern:
        return []
    p = site.profile
    if p.status_names:
        if p.status_for(value) is not None:
            return []
        message = f"{value!r} is not a status {p.title} knows: it matches no run"
        hint = hints.profile_statuses(p)
    else:
        if value in MLFLOW_STATUSES:
            return []
        message, hint = f"no run has the status {value!r}: it matches nothing", hints.mlflow_status(value)
    return [site.problem("unknown-status", message, literal.span, hint, warning=True)]


def _double_quoted(site: _Site, literal: Literal) -> bool:
    """Whether ``literal`` was written in double quotes where the profile reads single quotes only."""
    span = literal.span
    return (
        site.profile.single_quoted_values
        and site.written
        and span is not None
        and (site.source[span.start : span.start + 1] == '"')
    )


_VALUE_RULES: dict[KeyKind, Callable[[_Site, Key, KeyKind, Literal, Op, bool], list[Diagnostic]]] = {
    KeyKind.METRIC: _metric_value,
    KeyKind.NUMERIC_ATTRIBUTE: _time_value,
    KeyKind.PARAM: _string_value,
    KeyKind.TAG: _string_value,
    KeyKind.DATASET: _string_value,
    KeyKind.STRING_ATTRIBUTE: _attribute_text,
}


# -- clauses: one rule per type of clause


def _comparison(site: _Site, node: Compare, kind: KeyKind) -> list[Diagnostic]:
    p = site.profile
    found = []
    if node.op not in p.ops_for(kind):
        message = f"{p.title} does not support {node.op.value} on {kind.plural}"
        found.append(
            site.problem(
                "unsupported-operator", message, node.op_span or node.span, hints.operator(p, node, kind)
            )
        )
    elif kind is KeyKind.STRING_ATTRIBUTE and node.op.is_pattern and node.key.name in p.whole_attributes:
        message = f"{p.title} compares {node.key.name} whole, with = and != only, not with {node.op.value}"
        hint = f"list the ids: {node.key.name} IN ('1', '2')" if p.accepts_list(kind, node.key.name) else ""
        found.append(site.problem("unsupported-operator", message, node.op_span or node.span, hint))
    elif kind is KeyKind.TAG and node.op in p.tag_ops_observed_refused:
        found.append(
            site.problem(
                "observed-unsupported",
                f"some {p.title} paths are reported to refuse {node.op.value} on tags",
                node.op_span or node.span,
                hints.observed_refused(node.key),
                warning=True,
            )
        )
    found += _VALUE_RULES[kind](site, node.key, kind, node.value, node.op, False)
    if node.op in (Op.RLIKE, Op.NOT_RLIKE) and not found:
        found += _regex(site, node.value)
    return found


_REGEX_HINTS = {
    "bad-regex": "RLIKE reads RE2's syntax: no back-references or look-arounds, repetition counts up to 1000",
    "regex-budget": "use fewer or smaller patterns: a large class repeated (\\pL{200}) compiles to a large "
    "program",
}


def _regex(site: _Site, literal: Literal) -> list[Diagnostic]:
    refusal = site.regexes.refusal(str(literal.value))
    if refusal is None:
        return []
    code, message = refusal
    return [site.problem(code, message, literal.span, _REGEX_HINTS[code])]


def _list(site: _Site, node: In, kind: KeyKind) -> list[Diagnostic]:
    p = site.profile
    if not p.accepts_list(kind, node.key.name):
        word = "NOT IN" if node.negated else "IN"
        return [
            site.problem(
                "unsupported-list",
                f"{p.title} does not support {word} on {hints.key_text(node.key)}",
                node.op_span or node.span,
                hints.lists(p, word),
            )
        ]
    if p.plain_lists and site.written and not _plain_list(_list_text(site.source, node)):
        return [
            site.problem(
                "unsupported-list",
                f"{p.title} reads only lists of single-quoted strings such as ('a', 'b')",
                node.span,
                hints.PLAIN_LISTS,
            )
        ]
    rule = _VALUE_RULES[kind]
    return [d for item in node.values for d in rule(site, node.key, kind, item, Op.EQ, True)]


# What sqlparse reads in a list: a single-quoted string (a backslash escapes a quote, not a backslash),
# a comma, spaces.
_LIST_TOKEN = re.compile(r"'(?:''|\\'|[^'])*'|,| +")


def _list_text(source: str, node: In) -> str:
    """The text of ``node``'s list, from its ``(`` to its ``)``."""
    assert node.op_span is not None and node.values[-1].span is not None
    start = source.index("(", node.op_span.end)
    return source[start : source.index(")", node.values[-1].span.end) + 1]


def _plain_list(text: str) -> bool:
    """Whether sqlparse groups the list ``text`` as MLflow before 3.0 accepts it: exactly ``('x')``, or
    a string first and then strings after commas (adjacent strings, spaces and a trailing comma allowed)."""
    inner, tokens = text[1:-1], list[str]()
    while len("".join(tokens)) < len(inner):
        token = _LIST_TOKEN.match(inner, len("".join(tokens)))
        if token is None:
            return False
        tokens.append(token.group())
    if len(tokens) == 1:
        return tokens[0].startswith("'")
    words = [t for t in tokens if not t.isspace()]
    return tokens[0].startswith("'") and any(a == "," and b != "," for a, b in itertools.pairwise(words))


def _null_test(site: _Site, node: IsNull, kind: KeyKind) -> list[Diagnostic]:
    p = site.profile
    if kind in p.null_kinds:
        return []
    test = f"IS {'NOT ' if node.negated else ''}NULL"
    return [
        site.problem(
            "unsupported-is-null",
            f"{p.title} does not support {test} on {hints.key_text(node.key)}",
            node.op_span or node.span,
            hints.null_test(p, node.key),
        )
    ]


def _clause(site: _Site, node: Compare | In | IsNull) -> list[Diagnostic]:
    refusal = _key_refusal(site, node.key, _Use(False, node))
    if refusal is not None:
        return [refusal]
    kind = site.profile.kind_of(node.key.entity, node.key.name)
    assert kind is not None, "the key rules refuse a filter attribute the profile does not know"
    match node:
        case Compare():
            return _comparison(site, node, kind)
        case In():
            return _list(site, node, kind)
        case IsNull():
            return _null_test(site, node, kind)
        case _:
            assert_never(node)


# -- the walk


def _expr(site: _Site, node: Expr) -> Iterator[Diagnostic]:
    for rule in _STRUCTURE_RULES:
        found = rule(site, node)
        if found is not None:
            yield found
    match node:
        case And(terms) | Or(terms):
            for term in terms:
                yield from _expr(site, term)
        case Not(term):
            yield from _expr(site, term)
        case Compare() | In() | IsNull():
            yield from _clause(site, node)
        case _:
            assert_never(node)


def _sort_key(site: _Site, sort_key: SortKey, index: int, seen: dict[Key, int]) -> Diagnostic | None:
    """The refusal of ``sort_key``'s key, or a warning when an earlier clause orders by it already."""
    refusal = _key_refusal(site, sort_key.key, _Use(True))
    if refusal is not None:
        return refusal
    key = sort_key.key
    if key.entity is Entity.ATTRIBUTE:
        key = replace(key, name=dict(site.profile.attribute_renames).get(key.name, key.name))
    if key in seen and not site.profile.duplicate_order_by:
        return site.problem(
            "unsupported-order-by",
            f"{site.profile.title} refuses {hints.key_text(key)} twice in order_by (order_by[{seen[key]}])",
            sort_key.key.span,
            "order by each key once",
        )
    if key in seen:
        return site.problem(
            "duplicate-order-by",
            f"{hints.key_text(key)} is already ordered by order_by[{seen[key]}]: the first one wins",
            sort_key.key.span,
            hints.DUPLICATE_ORDER_BY,
            warning=True,
        )
    seen[key] = index
    return None


# -- the limits: checked first, without recursion, so nothing else walks a tree too large


def _too_large(site: _Site, message: str, span: Span | None, field: str) -> Diagnostic:
    return site.problem(
        "query-too-large",
        message,
        span,
        f"split the search in parts, or raise the profile's {field} (docs/security.md)",
    )


def _refuse_long_texts(
    profile: Profile, query: str | Query | Expr | None, order_by: str | Sequence[str] | None
) -> None:
    """Refuse a filter_string or an order_by list past the profile's limits before parsing it."""
    found: list[Diagnostic] = []
    if isinstance(query, str) and len(query) > profile.max_filter_length:
        found.append(_filter_too_long(profile, query))
    # Only a list is counted here: any other iterable can be read once, and is counted once parsed.
    if (
        isinstance(order_by, Sequence)
        and not isinstance(order_by, str)
        and len(order_by) > profile.max_order_by
    ):
        found.append(_order_by_too_long(profile, order_by, f"order_by[{profile.max_order_by}]"))
    if found:
        raise UnsupportedQueryError(found, profile.name)


def _filter_too_long(profile: Profile, source: str) -> Diagnostic:
    limit = profile.max_filter_length
    message = f"the filter is longer than {limit:,} characters"
    span = Span.at(source, limit, limit + 1)  # the first character past the limit
    return _too_large(_Site(profile, source, "filter_string"), message, span, "max_filter_length")


def _order_by_too_long(profile: Profile, clauses: Sequence[object], where: str) -> Diagnostic:
    extra = clauses[profile.max_order_by]
    text = extra if isinstance(extra, str) else ""
    site = _Site(profile, text, where)
    return _too_large(
        site,
        f"order_by has more than {profile.max_order_by:,} clauses",
        Span.at(text, 0, len(text)) if text else None,
        "max_order_by",
    )


def _limits(profile: Profile, query: Query, wheres: tuple[str, ...]) -> list[Diagnostic]:
    """What passes the profile's limits in a parsed query (or a tree built by hand)."""
    source = query.filter_string
    deep = too_deep(query.filter)
    if deep is not None:
        raise nesting_error(deep, source, "filter_string" if source else "", QueryValueError)
    site = _Site(profile, source, "filter_string")
    found: list[Diagnostic] = []
    if len(source) > profile.max_filter_length:
        found.append(_filter_too_long(profile, source))
    count = 0
    for node, _ in walk(query.filter):
        if isinstance(node, In) and len(node.values) > profile.max_in_items:
            extra = node.values[profile.max_in_items]
            message = f"an IN list has more than {profile.max_in_items:,} items"
            found.append(_too_large(site, message, extra.span, "max_in_items"))
        if isinstance(node, (Compare, In, IsNull)):
            count += 1
            if count == profile.max_clauses + 1:
                message = f"the filter has more than {profile.max_clauses:,} conditions"
                found.append(_too_large(site, message, node.span, "max_clauses"))
    if len(query.order_by) > profile.max_order_by:
        where = wheres[profile.max_order_by] if len(wheres) > profile.max_order_by else ""
        found.append(_order_by_too_long(profile, query.order_by_strings or query.order_by, where))
    return found


def _diagnose(profile: Profile, query: Query, wheres: tuple[str, ...]) -> list[Diagnostic]:
    """Every diagnostic of ``query``: the filter's, clause by clause, then the order_by's."""
    found = _limits(profile, query, wheres)
    if found:  # a query past a limit is refused for that alone, before any other work
        return found
    if query.filter is not None:
        found += _expr(_Site(profile, query.filter_string, "filter_string"), query.filter)
    seen: dict[Key, int] = {}
    strings = query.order_by_strings
    for i, sort_key in enumerate(query.order_by):
        source = strings[i] if i < len(strings) else ""
        where = wheres[i] if i < len(wheres) else f"order_by[{i}]"
        problem = _sort_key(_Site(profile, source, where), sort_key, i, seen)
        if problem is not None:
            found.append(problem)
    return found
