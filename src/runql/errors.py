"""Errors that point at the problem: each names a stable code, the text and the span at fault.

``str(error)`` draws the offending line of the query with a caret under the span::

    filter_string, line 1, column 11: '==' is not an operator [syntax]
      metrics.a == 1
                ^^
    hint: equality is a single '=': metrics.acc = 1
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .ast import Span


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


def render(message: str, source: str, span: Span | None, hint: str = "") -> str:
    """``message``, the line of ``source`` holding ``span`` with carets under it, then ``hint``."""
    lines = [message]
    if span is not None and source:
        line_start = source.rfind("\n", 0, span.start) + 1
        line_end = source.find("\n", span.start)
        if line_end == -1:
            line_end = len(source)
        width = max(1, min(span.end, line_end) - span.start)
        lines.append("  " + source[line_start:line_end])
        lines.append("  " + " " * (span.start - line_start) + "^" * width)
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


class QueryError(ValueError):
    """Base of every error runql raises about a query.

    ``code`` is a stable kebab-case category; ``span`` locates the problem in ``source`` (the text
    of ``where``: ``filter_string`` or ``order_by[i]``).
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
        return None if self.span is None else self.span.column

    def __str__(self) -> str:
        header = headline(self.message, self.code, self.span, self.where)
        return render(header, self.source, self.span, hint=self.hint)


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
