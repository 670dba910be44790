"""Split a query between a tracking server and runql: push down what the server accepts.

A server accepts less than runql (MLflow's has no OR or NOT, Azure ML's cannot sort by metrics). For a
query that ``profile`` accepts, :func:`plan` finds the part a ``target`` profile accepts with the same
meaning, written in the target's spelling, and leaves the rest to be evaluated locally:

* a top-level AND is split clause by clause; any other filter (an OR, a NOT) is pushed whole or not at
  all;
* a clause is pushed only when the target reads the text it is sent as the very clause runql means
  (validated and lowered under the target, the trees are equal). This is how a spelling is chosen
  (Azure ML's quoted numbers) and how a clause the target would read otherwise stays local (a status
  pattern, which Azure ML matches ignoring case), and so does a clause some paths of the server are
  reported to refuse (LIKE on tags on Azure ML);
* ``NOT key = 'v'`` is sent as ``key != 'v'`` (and ``NOT key != 'v'`` as ``key = 'v'``), which runql
  reads alike (a run without the key is unknown either way, a NaN metric is unequal to every value), and
  a server that refuses NOT accepts;
* an ILIKE is pushed only when the target folds the case of its pattern as runql does
  (``Profile.case_folding``): MLflow's server folds ASCII letters only, runql every letter, so
  ``run_name ILIKE 'RÉSUMÉ%'`` stays local;
* the order_by is pushed when the target accepts every key of it; otherwise the server's answer is
  sorted and paged locally.

Experiments are not split: a store over a server reads them all and searches them itself (there are
few), so an experiments plan pushes nothing.

The plan's one law: the runs the server selects with ``pushed_filter``, filtered by
``residual_filter``, are the runs the whole query selects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from runql.errors import RunqlError
from runql.language.ast import And, Compare, Entity, Expr, In, Literal, Not, Op, Query, SortKey
from runql.language.unparser import unparse
from runql.profiles.catalog import MODEL_ENTITIES, Profile
from runql.profiles.checker import analyse, resolve_profile
from runql.profiles.compiled import CompiledQuery, OrderBy, compile_quietly

__all__ = ["Plan", "answered_by_server", "plan"]

# A warning that some paths of the server refuse a clause: such a clause is evaluated locally instead.
OBSERVED_UNSUPPORTED = "observed-unsupported"


@dataclass(frozen=True)
class Plan:
    """How a query is answered through a server that accepts the ``target`` profile's language.

    ``pushed_filter`` and ``pushed_order_by`` are what the server is sent (in its spelling: paste them
    into MLflow's client); ``residual_filter`` is what runql evaluates on the server's answer (in the
    extended language; None when the server selects exactly). ``server_sorts`` says the server's order
    is the answer's order; ``server_pages`` that max_results and page tokens can be passed through too.
    """

    query: CompiledQuery
    """The whole query, compiled against ``profile``: what the answer must equal."""
    target: Profile
    pushed_filter: str
    pushed_order_by: tuple[str, ...]
    residual: Expr | None
    """The residual filter as a tree (lowered, MLflow's meaning), for the engines."""
    server_sorts: bool

    @property
    def residual_filter(self) -> str | None:
        """The filter runql applies to the server's answer, as canonical text; None when there is none."""
        return None if self.residual is None else unparse(self.residual)

    @property
    def server_pages(self) -> bool:
        """Whether ``max_results`` and page tokens can go to the server: it sorts, and nothing is left
        to filter locally."""
        return self.server_sorts and self.residual is None

    def describe(self) -> str:
        """The split in a few lines, for people."""
        order = list(self.pushed_order_by) if self.pushed_order_by else "(the server's default)"
        if not self.server_sorts:
            order = "none: sorted locally"
        residual = self.residual_filter or "none"
        everything = (
            "every run of the experiments"
            if self.query.entity == "runs"
            else f"every {self.query.entity.replace('_', ' ')[:-1]}"
        )
        return (
            f"target: {self.target.name}\n"
            f"pushed filter: {self.pushed_filter or f'(none: {everything})'}\n"
            f"pushed order_by: {order}\n"
            f"residual filter: {residual}\n"
            f"sorting: {'server' if self.server_sorts else 'local'}; "
            f"paging: {'server' if self.server_pages else 'local'}"
        )


def answered_by_server(query: CompiledQuery, target: str | Profile) -> bool:
    """Whether a server that accepts ``target`` answers ``query`` whole, page by page: a search of the
    models (the registry's or logged models) in MLflow's own language, sent to MLflow's server, whose store
    answers it as runql does."""
    name = target if isinstance(target, str) else target.name
    return query.entity in MODEL_ENTITIES and name == "mlflow" and query.profile.name == "mlflow"


def plan(
    filter_string: str | Query | Expr | None = "",
    order_by: OrderBy = None,
    *,
    target: str | Profile = "mlflow",
    profile: str | Profile = "extended",
    entity: str = "runs",
) -> Plan:
    """Split a query ``profile`` accepts into what a ``target`` server accepts and the rest.

    A model search in MLflow's own language is sent whole to MLflow's server
    (:func:`answered_by_server`); any other query of experiments, registered models, model versions or
    logged models is answered whole by runql (a server store reads every one), so its plan pushes nothing.
    Raises what :func:`runql.compile` raises when ``profile`` refuses the query.
    """
    query = compile_quietly(filter_string, order_by, profile=profile, entity=entity)
    server = resolve_profile(target, query.entity)
    if answered_by_server(query, server):
        q = query.query
        return Plan(query, server, q.filter_string, q.order_by_strings, None, server_sorts=True)
    if query.entity != "runs":
        return Plan(query, server, "", (), query.query.filter, server_sorts=False)
    pushed: list[str] = []
    residual: list[Expr] = []
    for term in _conjuncts(query.query.filter):
        spelled = _spelled(_pushable(term), server)
        if spelled is None:
            residual.append(term)
        else:
            pushed.append(spelled)
    sort_texts = _spelled_order(query.query.order_by, server)
    return Plan(
        query=query,
        target=server,
        pushed_filter=" AND ".join(pushed),
        pushed_order_by=sort_texts or (),
        residual=None if not residual else residual[0] if len(residual) == 1 else And(tuple(residual)),
        server_sorts=sort_texts is not None,
    )


def _conjuncts(expr: Expr | None) -> Iterator[Expr]:
    if expr is None:
        return
    if isinstance(expr, And):
        for term in expr.terms:
            yield from _conjuncts(term)
    else:
        yield expr


def _pushable(term: Expr) -> Expr:
    """``term`` in a form a server may accept with the same meaning: ``NOT k = v`` as ``k != v`` and
    ``NOT k != v`` as ``k = v``. runql reads them alike on every key but a dataset's: a run without
    the key is unknown either way, and a NaN metric is unequal to every value, so ``=`` is false and
    ``!=`` true for it either way. (A run has several datasets: ``NOT datasets.name = 'a'`` is not
    ``datasets.name != 'a'``.) Anything else is returned as it is."""
    if (
        isinstance(term, Not)
        and isinstance(inner := term.term, Compare)
        and inner.key.entity is not Entity.DATASET
    ):
        opposite = {Op.EQ: Op.NE, Op.NE: Op.EQ}.get(inner.op)
        if opposite is not None:
            return Compare(inner.key, opposite, inner.value)
    return term


def _spelled(term: Expr, server: Profile) -> str | None:
    """The text ``server`` reads as exactly ``term``, or None when it reads none so."""
    if not _folds_alike(term, server):
        return None
    for text in _spellings(term, server):
        try:
            lowered, diagnostics, _ = analyse(text, server, server.entity)
        except (RunqlError, ValueError):
            continue
        refused_somewhere = any(d.code == OBSERVED_UNSUPPORTED for d in diagnostics)
        if lowered.filter == term and not refused_somewhere:
            return text
    return None


# ASCII letters that Python's re.IGNORECASE also matches with a letter beyond ASCII: i and I with İ
# (U+0130) and ı (U+0131), k and K with the KELVIN SIGN (U+212A), s and S with ſ (U+017F).
_UNICODE_PARTNERS = frozenset("iIkKsS")


def _folds_alike(term: Expr, server: Profile) -> bool:
    """Whether ``server`` matches ``term``'s ILIKE pattern (if it is one) with runql's case folding.

    runql folds case as Python's ``re.IGNORECASE`` does; a server whose ILIKE folds ASCII letters only
    (``case_folding="ascii"``: MLflow's SQL store, ``lower(value) LIKE lower(pattern)``) agrees on a
    pattern character exactly when that character is an ASCII letter without a partner beyond ASCII,
    or has no case at all (a digit, ``%``, a CJK character): re.IGNORECASE matches a caseless
    character only with itself.
    """
    if server.case_folding == "unicode" or not isinstance(term, Compare):
        return True
    if term.op not in (Op.ILIKE, Op.NOT_ILIKE) or not isinstance(pattern := term.value.value, str):
        return True
    return all(
        (c.isascii() and c not in _UNICODE_PARTNERS) or (c.lower() == c and c.upper() == c) for c in pattern
    )


def _spellings(term: Expr, server: Profile) -> Iterator[str]:
    """The server's own spelling first (Azure ML wants numbers on attributes quoted and writes status
    names in title case), then MLflow's canonical text."""
    try:
        own = _server_spelling(term, server)
        if own is not term:
            yield unparse(own)
        yield unparse(term)
    except RunqlError:  # a value MLflow's syntax cannot write: the term stays local
        return


def _server_spelling(term: Expr, server: Profile) -> Expr:
    if not isinstance(term, (Compare, In)) or term.key.entity is not Entity.ATTRIBUTE:
        return term

    quote_numbers = server.quoted_numbers and term.key.name in server.numeric_attributes

    def spelled(literal: Literal) -> Literal:
        value = literal.value
        if quote_numbers and not isinstance(value, str):
            return replace(literal, value=unparse(literal))
        if server.status_names and term.key.name == "status" and isinstance(value, str):
            return replace(literal, value=value.title())
        return literal

    if isinstance(term, Compare):
        return replace(term, value=spelled(term.value))
    return replace(term, values=tuple(spelled(v) for v in term.values))


def _spelled_order(order_by: Sequence[SortKey], server: Profile) -> tuple[str, ...] | None:
    """The order_by texts ``server`` reads as exactly ``order_by``, or None when it cannot sort so."""
    try:
        texts = tuple(unparse(s) for s in order_by)
        lowered, _, _ = analyse("", server, server.entity, order_by=list(texts))
    except (RunqlError, ValueError):
        return None
    if lowered.order_by != tuple(order_by):
        return None
    return texts
