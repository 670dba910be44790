"""RLIKE: a regular expression searched in a value, with RE2 (the extra ``runql[regex]``).

RLIKE is MLflow's operator for traces (``re.search`` there): true when the pattern matches anywhere in
the value. runql answers it with RE2, whose matching time is linear in the value's length whatever the
pattern, so a hostile pattern such as ``(a+)+$`` cannot hang a search as Python's backtracking ``re``
can. RE2 refuses what needs backtracking (back-references, look-arounds): such a pattern is a
``bad-regex`` error naming RE2's reason. A compiled pattern is bounded in memory (:data:`MAX_MEMORY`):
a pattern that needs more, such as a large counted repetition, is refused the same way.

Every engine matches with this module: the in-memory engines value by value, SQLite through a
function, PostgreSQL and Spark by matching the key's distinct values here and sending the ones
that match as a list, so each engine gives RE2's answer and never its own regular-expression dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runql.common.bounded import sized_cache
from runql.common.optional import require
from runql.errors import EvaluationError

__all__ = ["MAX_MEMORY", "escape", "regex_search"]

# The memory RE2 may use for one compiled pattern: its default, 8 MiB.
MAX_MEMORY = 8 << 20
# The compiled patterns kept, bounded by their summed length (see runql.common.bounded); read at each
# miss, so rebinding it takes effect.
REGEX_CACHE_BUDGET = 1_000_000


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


def _compile(pattern: str) -> Callable[[str], bool]:
    re2 = _re2()
    options = re2.Options()
    options.max_mem = MAX_MEMORY
    options.log_errors = False  # the reason is raised; RE2 would also print it to stderr
    try:
        # Both as UTF-8 bytes (RE2's own form): the wrapper's text path does per-call Python work.
        search = re2.compile(_utf8(pattern), options).search
    except re2.error as error:
        reason = error.args[0] if error.args else error
        reason = reason.decode() if isinstance(reason, bytes) else str(reason)
        raise EvaluationError(f"RLIKE cannot use the pattern: {reason}", code="bad-regex") from None
    return lambda value: search(_utf8(value)) is not None


def _size(pattern: str) -> int:
    return len(pattern) + 64  # a small pattern still costs its compiled objects


@sized_cache(_size, lambda: REGEX_CACHE_BUDGET)
def regex_search(pattern: str) -> Callable[[str], bool]:
    """Whether ``pattern`` matches somewhere in a value (RLIKE), in time linear in the value's length.

    Raises :class:`~runql.errors.EvaluationError` (``bad-regex``) when RE2 cannot take ``pattern``, and
    :class:`~runql.errors.MissingDependencyError` when RE2 is not installed.
    """
    return _compile(pattern)
