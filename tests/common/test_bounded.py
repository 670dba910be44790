"""The caches bounded by size: least recently used out first, and a budget read whenever the size is checked,
so that each knob docs/security.md names changes what its cache keeps when it is rebound."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from runql.common import regex
from runql.common.bounded import SizedCache
from runql.engines import semantics
from runql.language import parser
from runql.language.ast import Op


def test_the_least_recently_used_entry_goes_first() -> None:
    computed: list[str] = []

    def upper(key: str) -> str:
        computed.append(key)
        return key.upper()

    cache = SizedCache(upper, len, lambda: 6)
    for key in ("ab", "cd", "ef"):
        cache(key)
    cache("ab")  # now the most recently used: "cd" is the least
    cache("gh")
    assert (len(cache), cache.total) == (3, 6)
    computed.clear()
    assert [cache(key) for key in ("ab", "ef", "gh")] == ["AB", "EF", "GH"]
    assert computed == []
    cache("cd")
    assert computed == ["cd"]


def test_a_budget_that_shrinks_drops_entries_at_the_next_miss() -> None:
    budget = 100
    cache = SizedCache(str.upper, len, lambda: budget)
    for key in ("aaaa", "bbbb", "cccc"):
        cache(key)
    assert (len(cache), cache.total) == (3, 12)
    budget = 5
    assert cache("dd") == "DD"
    assert (len(cache), cache.total) == (1, 2)
    budget = 0
    assert cache("e") == "E"  # computed and returned, never kept, and what was kept is dropped
    assert (len(cache), cache.total) == (0, 0)


def _rlike(i: int) -> Any:
    return regex.regex_search(f"{i:0200d}")


# Each knob, the cache it bounds, and a call that puts the i-th of texts of one length in that cache.
KNOBS = [
    pytest.param(
        parser,
        "PARSE_CACHE_BUDGET",
        parser._parse_filter,
        lambda i: parser.parse_filter(f"params.p = '{i:0200d}'"),
        id="parsed filters",
    ),
    pytest.param(
        parser,
        "PARSE_CACHE_BUDGET",
        parser._parse_sort_key,
        lambda i: parser.parse_order_by([f"params.`{i:0200d}` DESC"]),
        id="parsed sort keys",
    ),
    pytest.param(
        semantics,
        "LIKE_CACHE_BUDGET",
        semantics._like_pattern,
        lambda i: semantics.pattern_matcher(Op.LIKE, f"{i:0200d}%"),
        id="LIKE patterns",
    ),
    pytest.param(regex, "REGEX_CACHE_BUDGET", regex.regex_search, _rlike, id="RLIKE patterns"),
]


@pytest.mark.parametrize(("module", "knob", "cache", "put"), KNOBS)
def test_rebinding_a_knob_changes_what_is_kept(
    monkeypatch: pytest.MonkeyPatch,
    module: ModuleType,
    knob: str,
    cache: SizedCache[Any, Any],
    put: Callable[[int], Any],
) -> None:
    # The cache is what is tested, not RE2 (an extra): a pattern compiles to a stand-in.
    monkeypatch.setattr(regex, "_compile", lambda pattern: lambda value: pattern in value)
    cache.cache_clear()
    put(0)
    weight = cache.total  # the texts have one length, so every entry weighs the same
    assert len(cache) == 1 and weight > 0

    monkeypatch.setattr(module, knob, 3 * weight)
    for i in range(1, 10):
        put(i)
    assert (len(cache), cache.total) == (3, 3 * weight)

    monkeypatch.setattr(module, knob, weight)
    put(10)
    assert (len(cache), cache.total) == (1, weight)

    monkeypatch.setattr(module, knob, 0)
    put(11)
    assert len(cache) == 0
