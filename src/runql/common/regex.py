"""RLIKE: a regular expression searched in a value, with RE2 (the extra ``runql[regex]``).

RLIKE is MLflow's operator for traces (``re.search`` there): true when the pattern matches anywhere in
the value. runql answers it with RE2, whose matching time is linear in the value's length whatever the
pattern, so a hostile pattern such as ``(a+)+$`` cannot hang a search as Python's backtracking ``re``
can. RE2 refuses what needs backtracking (back-references, look-arounds): such a pattern is a
``bad-regex`` error naming RE2's reason. A compiled pattern is bounded in memory (:data:`MAX_MEMORY`):
a pattern that needs more, such as a large counted repetition, is refused the same way.

Compiling is the costly part of a pattern (about a microsecond per instruction of RE2's program, and a
short text such as ``\\pL{200}`` compiles to 240,000 of them), so a refusal is kept in the cache as a
compiled pattern is, and :class:`RegexBudget` bounds what the distinct patterns of one query may compile
to together (:data:`QUERY_PROGRAM_BUDGET`); checking a query (:mod:`runql.profiles.checker`) applies it.

Every engine matches with this module: the in-memory engines value by value, SQLite through a
function, PostgreSQL and Spark by matching the key's distinct values here and sending the ones
that match (or the ones that do not, when they are fewer) as a list, so each engine gives RE2's answer
and never its own regular-expression dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runql.common.bounded import SizedCache
from runql.common.optional import require
from runql.errors import EvaluationError

__all__ = ["MAX_MEMORY", "QUERY_PROGRAM_BUDGET", "RegexBudget", "escape", "regex_search"]

# The memory RE2 may use for one compiled pattern: its default, 8 MiB.
MAX_MEMORY = 8 << 20
# The compiled patterns kept, bounded by their summed length (see runql.common.bounded); read at each
# miss, so rebinding it takes effect.
REGEX_CACHE_BUDGET = 1_000_000
# The instructions of RE2's program that the distinct RLIKE patterns of one query may compile to
# together: about a second of compiling. Read when a query is checked, so rebinding it takes effect.
QUERY_PROGRAM_BUDGET = 1_000_000
# What a pattern refused for its size has cost: RE2 builds about this many instructions within
# MAX_MEMORY before it gives up.
_TOO_LARGE_COST = 500_000


# The characters a regular expression treats as operators in RE2, Python's re and PostgreSQL alike.
_SPECIAL = frozenset("\\^$.|?*+()[]{}")


def escape(text: str) -> str:
    """``text`` as a regular expression matching exactly itself: each operator character after a backslash,
    which RE2, Python's ``re`` and PostgreSQL all read as the character."""
    return "".join(f"\\{c}" if c in _SPECIAL else c for c in text)


def _re2() -> Any:
    return require("re2", "regex", "RLIKE (regular expressions)")


def _utf8(text: str) -> bytes:
    # A lone surrogate (which a Python string may hold) becomes bytes RE2 reads as no character.
    return text.encode("utf-8", "surrogatepass")


class _Matcher:
    """A compiled pattern: called with a value, whether the pattern matches somewhere in it.
    ``cost`` is the size of RE2's program, what compiling it cost."""

    __slots__ = ("cost", "search")

    def __init__(self, search: Callable[[bytes], Any], cost: int) -> None:
        self.search = search
        self.cost = cost

    def __call__(self, value: str) -> bool:
        return self.search(_utf8(value)) is not None


def _compile(pattern: str) -> Callable[[str], bool]:
    re2 = _re2()
    options = re2.Options()
    options.max_mem = MAX_MEMORY
    options.log_errors = False  # the reason is raised; RE2 would also print it to stderr
    try:
        # Both as UTF-8 bytes (RE2's own form): the wrapper's text path does per-call Python work.
        compiled = re2.compile(_utf8(pattern), options)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        # RE2 quotes the pattern's bytes, which need not be UTF-8 (a lone surrogate's are not).
        reason = reason.decode("utf-8", "backslashreplace") if isinstance(reason, bytes) else str(reason)
        raise EvaluationError(f"RLIKE cannot use the pattern: {reason}", code="bad-regex") from None
    return _Matcher(compiled.search, compiled.programsize)


@dataclass(frozen=True)
class _Refused:
    """A pattern RE2 refused, kept so that asking again costs nothing: the message naming RE2's reason,
    and what finding it cost (a pattern too large was compiled up to RE2's memory bound)."""

    message: str
    cost: int


def _matcher_or_refusal(pattern: str) -> Callable[[str], bool] | _Refused:
    try:
        return _compile(pattern)
    except EvaluationError as error:
        return _Refused(error.message, _TOO_LARGE_COST if "pattern too large" in error.message else 0)


class _Patterns(SizedCache[str, "Callable[[str], bool] | _Refused"]):
    """The cache of compiled patterns and refusals; calling it gives the matcher or raises the refusal."""

    def __call__(self, pattern: str) -> Callable[[str], bool]:
        found = super().__call__(pattern)
        if isinstance(found, _Refused):
            raise EvaluationError(found.message, code="bad-regex")
        return found

    def cost(self, pattern: str) -> tuple[int, str | None]:
        """What compiling ``pattern`` costs (its program's size), and the message refusing it, if RE2 does."""
        found = super().__call__(pattern)
        if isinstance(found, _Refused):
            return found.cost, found.message
        return getattr(found, "cost", 0), None


def _size(pattern: str) -> int:
    return len(pattern) + 64  # a small pattern still costs its compiled objects


regex_search = _Patterns(_matcher_or_refusal, _size, lambda: REGEX_CACHE_BUDGET)
"""``regex_search(pattern)``: whether ``pattern`` matches somewhere in a value (RLIKE), in time linear in
the value's length.

Raises :class:`~runql.errors.EvaluationError` (``bad-regex``) when RE2 cannot take ``pattern`` (also when
asked again: refusals are cached with the patterns), and :class:`~runql.errors.MissingDependencyError`
when RE2 is not installed.
"""


class RegexBudget:
    """The RLIKE patterns of one query: each distinct pattern is compiled (or found in the cache) once,
    and the programs of all of them together may have at most :data:`QUERY_PROGRAM_BUDGET` instructions.

    What a pattern costs does not depend on the cache, so whether a query passes does not either.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, str] | None] = {}
        self._spent = 0
        self._exhausted = False

    def refusal(self, pattern: str) -> tuple[str, str] | None:
        """Why the query cannot use ``pattern``, as ``(code, message)``: ``bad-regex`` when RE2 refuses it,
        ``regex-budget`` for the first pattern past the budget; None when it can, and for every pattern
        after the budget is spent, which is not compiled (the query is refused already)."""
        if pattern in self._seen:
            return self._seen[pattern]
        if self._exhausted:
            return None
        cost, refused = regex_search.cost(pattern)
        self._spent += cost
        found: tuple[str, str] | None = None
        if self._spent > QUERY_PROGRAM_BUDGET:
            self._exhausted = True
            found = (
                "regex-budget",
                f"the RLIKE patterns of this query compile to more than {QUERY_PROGRAM_BUDGET:,} "
                "instructions together (runql.common.regex.QUERY_PROGRAM_BUDGET)",
            )
        elif refused is not None:
            found = ("bad-regex", refused)
        self._seen[pattern] = found
        return found
