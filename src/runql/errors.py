"""Every exception runql raises, and every error code, declared once.

All derive from :class:`RunqlError`, each also from the built-in exception it stands for
(``ValueError``, ``LookupError``, ``ImportError``), so ``except ValueError`` keeps catching a bad
query. An error about a query or an argument names a stable code, the text and the span at fault;
``str(error)`` draws the offending line with a caret under the span::

    filter_string, line 1, column 11: '==' is not an operator [syntax]
      metrics.a == 1
                ^^
    hint: equality is a single '=': metrics.a = 1

:data:`ERROR_CODES` lists every code with its meaning and the classes that carry it;
``docs/errors.md`` is generated from it (:mod:`runql.common.errors_doc`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the foundation imports nothing from the layers above it
    from runql.language.ast import Span

__all__ = [
    "ERROR_CODES",
    "ArgumentError",
    "Diagnostic",
    "ErrorCode",
    "EvaluationError",
    "LocatedError",
    "MissingDependencyError",
    "NotFoundError",
    "QueryError",
    "QuerySyntaxError",
    "QueryValueError",
    "QueryWarning",
    "RunqlError",
    "Severity",
    "StoreError",
    "UnsupportedQueryError",
]


class Severity(Enum):
    """Whether a :class:`Diagnostic` refuses the query (``ERROR``) or only warns about it (``WARNING``)."""

    ERROR = "error"
    WARNING = "warning"


_WIDEST_LINE = 160


def render(message: str, source: str, span: Span | None, hint: str = "") -> str:
    """``message``, the line of ``source`` holding ``span`` with carets under it, then ``hint``."""
    lines = [message]
    if span is not None and source:
        line_start = source.rfind("\n", 0, span.start) + 1
        line_end = source.find("\n", span.start)
        if line_end == -1:
            line_end = len(source)
        # A long line (a filter of thousands of clauses) is shown as a window around the caret.
        shown_start, shown_end = line_start, line_end
        if line_end - line_start > _WIDEST_LINE:
            shown_start = max(line_start, span.start - _WIDEST_LINE // 3)
            shown_end = min(line_end, shown_start + _WIDEST_LINE)
        before = "..." if shown_start > line_start else ""
        after = "..." if shown_end < line_end else ""
        width = max(1, min(span.end, shown_end) - span.start)
        lines.append("  " + before + source[shown_start:shown_end] + after)
        lines.append("  " + " " * (len(before) + span.start - shown_start) + "^" * width)
    if hint:
        lines.append(f"hint: {hint}")
    return "\n".join(lines)


def headline(message: str, code: str, span: Span | None, where: str, prefix: str = "") -> str:
    """``filter_string, line 1, column 5: <message> [code]``: the first line of a report."""
    place = [where] if where else []
    if span is not None:
        place.append(f"line {span.line}, column {span.column}")
    located = f"{', '.join(place)}: " if place else ""
    return f"{prefix}{located}{message} [{code}]"


class RunqlError(Exception):
    """Base of every exception runql raises: ``except runql.RunqlError`` catches them all."""


class LocatedError(RunqlError):
    """An error about a text the caller passed: a query, or an argument such as ``max_results``.

    ``code`` is a stable kebab-case category; ``span`` locates the problem in ``source`` (the text
    of ``where``: ``filter_string``, ``order_by[i]``, ``max_results``...).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        source: str = "",
        span: Span | None = None,
        hint: str = "",
        where: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.source = source
        self.span = span
        self.hint = hint
        self.where = where

    @property
    def column(self) -> int | None:
        """The 1-based column where the problem starts in its line of ``source``; None when unlocated."""
        return None if self.span is None else self.span.column

    def __str__(self) -> str:
        header = headline(self.message, self.code, self.span, self.where)
        return render(header, self.source, self.span, hint=self.hint)


class QueryError(LocatedError, ValueError):
    """Base of every error runql raises about a query."""


class ArgumentError(LocatedError, ValueError):
    """An argument of a search that is not a query is out of range or of the wrong type: ``max_results``,
    ``page_token``, ``output_format``, or ``experiment_ids`` with ``experiment_names``."""


class QuerySyntaxError(QueryError):
    """The text is not in the language."""


class QueryValueError(QueryError):
    """Well-formed text that means nothing: an unknown key type, a value of the wrong type."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem a profile finds in a query; ``severity`` tells a refusal from a warning."""

    code: str
    message: str
    span: Span | None = None
    hint: str = ""
    severity: Severity = Severity.ERROR
    source: str = ""
    where: str = ""

    def __str__(self) -> str:
        header = headline(self.message, self.code, self.span, self.where, f"{self.severity.value}: ")
        return render(header, self.source, self.span, hint=self.hint)


class QueryWarning(UserWarning):
    """A query the profile accepts but that probably does not mean what it says."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic


class UnsupportedQueryError(QueryError):
    """The profile refuses the query; ``diagnostics`` holds every violation, not only the first."""

    def __init__(self, diagnostics: list[Diagnostic], profile: str = "") -> None:
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        first = errors[0] if errors else diagnostics[0]
        count = f" ({len(errors)} problems)" if len(errors) > 1 else ""
        super().__init__(
            first.message + count,
            code=first.code,
            source=first.source,
            span=first.span,
            hint=first.hint,
            where=first.where,
        )
        self.diagnostics = diagnostics
        self.profile = profile

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)


class EvaluationError(QueryError):
    """A problem only the data can reveal."""


class StoreError(RunqlError, ValueError):
    """A store that cannot be read whole: ``where`` names the file or table, ``code`` the kind of fault."""

    def __init__(self, message: str, *, where: str = "", code: str = "corrupt-store") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where
        self.code = code


class MissingDependencyError(RunqlError, ImportError):
    """A reader needs a package that is not installed; the message names the extra to install."""

    code = "missing-dependency"


class NotFoundError(RunqlError, LookupError):
    """No experiment, run or artifact by that id, name or path (MLflow's RESOURCE_DOES_NOT_EXIST)."""

    code = "not-found"


# -- the codes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One stable code: what it means and the exceptions that carry it.

    A ``warning`` code is a :class:`Diagnostic` of severity warning: ``check`` lists it and
    ``validate`` issues it as a ``QueryWarning``; nothing is raised.
    """

    code: str
    meaning: str
    raised_as: tuple[type[RunqlError], ...] = ()
    warning: bool = False


def _registry(*codes: ErrorCode) -> dict[str, ErrorCode]:
    registry = {entry.code: entry for entry in codes}
    assert len(registry) == len(codes), "an error code is declared twice"
    return registry


_PROFILE = (UnsupportedQueryError,)
_EVALUATED = (UnsupportedQueryError, EvaluationError)

ERROR_CODES: dict[str, ErrorCode] = _registry(
    # The parser and unparse.
    ErrorCode(
        "syntax", "the text is not in the language: a token where another was expected", (QuerySyntaxError,)
    ),
    ErrorCode(
        "unexpected-end", "the text stops before the condition or clause is complete", (QuerySyntaxError,)
    ),
    ErrorCode("unterminated-string", "a quote or backtick is opened and never closed", (QuerySyntaxError,)),
    ErrorCode(
        "bad-number", "something that starts like a number is not one the language reads", (QuerySyntaxError,)
    ),
    ErrorCode(
        "bad-list", "the list after IN is not a list of quoted strings", (QuerySyntaxError, QueryValueError)
    ),
    ErrorCode(
        "unknown-key-type",
        "the prefix before the first dot is not metrics, params, tags, attributes or datasets",
        (QueryValueError, EvaluationError),
    ),
    ErrorCode(
        "unquoted-value", "a value is a bare word or backticked text, not a quoted string", (QueryValueError,)
    ),
    ErrorCode("empty-list", "IN () or NOT IN (): a list needs at least one item", (QueryValueError,)),
    ErrorCode(
        "unknown-function",
        "a name before parentheses is not one of the history functions (min, max, avg, count, first, "
        "last, at_step)",
        (QueryValueError,),
    ),
    ErrorCode(
        "bad-function-argument",
        "a history function is given something other than a metric, or at_step a step that is not an integer",
        (QueryValueError,),
    ),
    ErrorCode("unwritable", "unparse: MLflow's syntax cannot express the key or value", (QueryValueError,)),
    ErrorCode(
        "too-deep",
        "conditions nest deeper than 100 levels (NOT, or groups inside groups)",
        (QuerySyntaxError, QueryValueError),
    ),
    ErrorCode(
        "bad-value-type",
        "a value has the wrong type for its key (a quoted number for a metric, a bool for unparse)",
        (QueryValueError, UnsupportedQueryError, EvaluationError),
    ),
    ErrorCode(
        "bad-regex",
        "an RLIKE pattern is not one RE2 reads (a back-reference, a look-around) or needs too much memory",
        _EVALUATED,
    ),
    ErrorCode(
        "regex-budget",
        "the RLIKE patterns of one query compile to more than runql.common.regex.QUERY_PROGRAM_BUDGET "
        "instructions together",
        _PROFILE,
    ),
    ErrorCode(
        "bad-pattern",
        "in the mlflow profile on PostgreSQL, a LIKE or ILIKE pattern ends with a lone backslash, an escape "
        "with nothing to escape, which PostgreSQL refuses once matching a value reaches it",
        (EvaluationError,),
    ),
    ErrorCode(
        "too-many-values",
        "a LIKE or RLIKE answered by matching a key's distinct values would send a database or Spark more "
        "of them than one query may (runql.engines.semantics.MAX_SENT_VALUES)",
        (EvaluationError,),
    ),
    # What a profile refuses.
    ErrorCode("unsupported-parentheses", "the profile does not accept parentheses", _PROFILE),
    ErrorCode("unsupported-or", "the profile does not accept OR", _PROFILE),
    ErrorCode("unsupported-not", "the profile does not accept NOT", _PROFILE),
    ErrorCode(
        "unsupported-key", "the profile cannot filter or order by this kind of key, or prefix", _PROFILE
    ),
    ErrorCode(
        "unsupported-order-by", "the profile, or the entity, cannot be ordered by this key", _EVALUATED
    ),
    ErrorCode(
        "unsupported-aggregate",
        "the profile, or the runs searched, cannot give a metric's history (min(metrics.loss), "
        "at_step(...)): only its latest value",
        _EVALUATED,
    ),
    ErrorCode(
        "unsupported-quoted-name", "the profile cannot filter by a metric whose name needs quoting", _PROFILE
    ),
    ErrorCode(
        "unsupported-quoting",
        "the profile reads single quotes only: a double-quoted value, or a quoted key name, would keep its "
        "quotes and match nothing",
        _PROFILE,
    ),
    ErrorCode(
        "unsupported-operator", "the profile does not accept this operator on this kind of key", _PROFILE
    ),
    ErrorCode("unsupported-list", "the profile does not accept IN or NOT IN on this key", _PROFILE),
    ErrorCode(
        "unsupported-is-null", "the profile does not accept IS NULL or IS NOT NULL on this key", _PROFILE
    ),
    ErrorCode("unknown-attribute", "the entity has no attribute by that name", _EVALUATED),
    ErrorCode("unknown-dataset-key", "datasets have no key by that name (name, digest or context)", _PROFILE),
    ErrorCode("unsupported-rename", "the profile cannot rename experiments", _PROFILE),
    ErrorCode(
        "query-too-large",
        "the filter is longer, or has more conditions, list items or order_by clauses, than the "
        "profile's limits allow",
        _PROFILE,
    ),
    # What a profile accepts but warns about.
    ErrorCode("observed-unsupported", "some paths of the backend are reported to refuse this", warning=True),
    ErrorCode(
        "duration-units", "a duration below 1000 looks like seconds; durations are milliseconds", warning=True
    ),
    ErrorCode(
        "seconds-not-milliseconds",
        "a time that reads as a date in seconds; times are milliseconds since the epoch",
        warning=True,
    ),
    ErrorCode("unknown-status", "no run has that status, so the clause matches nothing", warning=True),
    ErrorCode("duplicate-order-by", "a key ordered by twice; the first clause wins", warning=True),
    ErrorCode(
        "unknown-key",
        "no searched run has this metric, param or tag key, so the clause or column finds nothing",
        warning=True,
    ),
    # The arguments of a search.
    ErrorCode("bad-max-results", "max_results is not an integer, or is out of range", (ArgumentError,)),
    ErrorCode("bad-page-token", "page_token is not a token a previous page returned", (ArgumentError,)),
    ErrorCode(
        "bad-datasets",
        "an entry of a logged-model search's datasets names no dataset_name, or an order_by entry is not a "
        "dict with a field_name",
        (ArgumentError,),
    ),
    ErrorCode("bad-output-format", "output_format is neither 'pandas' nor 'list'", (ArgumentError,)),
    ErrorCode(
        "bad-view-type",
        "run_view_type or view_type names no view: not 'active_only' ('active'), 'deleted_only' ('deleted'), "
        "'all' (in any case), nor 1, 2 or 3",
        (ArgumentError,),
    ),
    ErrorCode(
        "experiment-ids-and-names", "experiment_ids and experiment_names are both given", (ArgumentError,)
    ),
    ErrorCode(
        "bad-pool-size",
        "pool_size, max_overflow or pool_timeout of runql.connect is not a positive integer (max_overflow: "
        "zero or more) or a positive number of seconds",
        (ArgumentError,),
    ),
    # Run tables (runql export).
    ErrorCode("bad-layout", "a run table's layout is neither 'flat' nor 'map'", (ArgumentError,)),
    ErrorCode(
        "case-collision",
        "runs have keys of one kind that differ only in case (metrics A and a): a flat run table would hold "
        "columns Spark, ignoring case, cannot tell apart; the map layout holds them",
        (ArgumentError,),
    ),
    ErrorCode(
        "out-exists",
        "the file to write is there already (a symbolic link counts, even one to nothing), and replacing it "
        "was not asked for",
        (ArgumentError,),
    ),
    # Workspaces and stores.
    ErrorCode(
        "not-found",
        "no run, experiment or artifact by that id or path; no store file or folder",
        (NotFoundError, StoreError),
    ),
    ErrorCode("not-a-store", "the file or folder exists but is not a store runql reads", (StoreError,)),
    ErrorCode("corrupt-store", "a file or row of the store is malformed", (StoreError,)),
    ErrorCode("unreachable-store", "the database cannot be connected to or read", (StoreError,)),
    ErrorCode(
        "store-busy",
        "every connection of a database store's pool is in use, and none was freed within its pool_timeout",
        (StoreError,),
    ),
    ErrorCode(
        "unsupported-database",
        "the query needs SQL that runql writes only for SQLite and PostgreSQL",
        (EvaluationError,),
    ),
    ErrorCode("missing-table", "the database lacks a table or column of MLflow's schema", (StoreError,)),
    ErrorCode(
        "server-refused", "the tracking server refused a request; its message is quoted", (StoreError,)
    ),
    ErrorCode(
        "server-misbehaved",
        "the tracking server answered what no server should: a page token it had already given, more "
        "pages than one search reads, or a reply MLflow's client cannot parse",
        (StoreError,),
    ),
    ErrorCode(
        "server-timeout",
        "the tracking server did not finish answering a call within the store's deadline",
        (StoreError,),
    ),
    ErrorCode(
        "missing-dependency",
        "an optional package is not installed; the message names the extra",
        (MissingDependencyError,),
    ),
    ErrorCode(
        "unsafe-store",
        "the store holds what runql refuses to read: a link out of it, a pipe or device, a YAML alias",
        (StoreError,),
    ),
)
