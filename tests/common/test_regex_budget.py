"""What checking a query's RLIKE patterns may cost: each distinct pattern compiled once, refusals kept as
compiled patterns are, and the patterns of one query bounded together (runql.common.regex).

Costs are counted in compilations (calls of RE2's compile), never timed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import runql
from runql.common import regex
from runql.errors import UnsupportedQueryError

pytest.importorskip("re2")


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The patterns RE2 compiles from now on, in order, with the cache emptied first."""
    compiled: list[str] = []
    compile_pattern = regex._compile

    def counting(pattern: str) -> Callable[[str], bool]:
        compiled.append(pattern)
        return compile_pattern(pattern)

    monkeypatch.setattr(regex, "_compile", counting)
    regex.regex_search.cache_clear()
    yield compiled
    regex.regex_search.cache_clear()


def _codes(text: str) -> list[str]:
    return [d.code for d in runql.check(text, profile="extended")]


def test_a_refused_pattern_repeated_a_thousand_times_is_compiled_once(compilations: list[str]) -> None:
    text = " OR ".join(["params.x RLIKE '\\pL{1000}'"] * 1000)
    assert _codes(text) == ["bad-regex"] * 1000
    assert compilations == ["\\pL{1000}"]
    assert _codes(text) == ["bad-regex"] * 1000  # the next query finds the refusal kept
    assert compilations == ["\\pL{1000}"]


def test_a_refusal_is_raised_again_from_the_cache(compilations: list[str]) -> None:
    for _ in range(3):
        with pytest.raises(runql.EvaluationError, match="missing \\)"):
            regex.regex_search("(a")
    assert compilations == ["(a"]


def test_the_patterns_of_one_query_are_compiled_within_a_budget(compilations: list[str]) -> None:
    # Each refused for its size after RE2 built about 500,000 instructions: the third passes the budget,
    # and the 997 after it are not compiled at all.
    text = " OR ".join(f"params.x RLIKE '\\pL{{1000}}{i}'" for i in range(1000))
    with pytest.raises(UnsupportedQueryError) as caught:
        runql.validate(text, "extended")
    codes = [d.code for d in caught.value.diagnostics]
    assert codes == ["bad-regex", "bad-regex", "regex-budget"]
    assert len(compilations) == 3
    budget = caught.value.diagnostics[-1]
    assert budget.span is not None and text[budget.span.start :].startswith("'\\pL{1000}2'")
    assert "QUERY_PROGRAM_BUDGET" in budget.message


def test_patterns_that_compile_count_their_program(
    compilations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(regex, "QUERY_PROGRAM_BUDGET", 20_000)
    # a{1000} and a suffix: about a thousand instructions each, so about twenty fit.
    text = " OR ".join(f"params.x RLIKE 'a{{1000}}{i}'" for i in range(100))
    assert _codes(text) == ["regex-budget"]
    assert 15 <= len(compilations) <= 21
    # Whether a query passes does not depend on what the cache holds: the same answer from it.
    assert _codes(text) == ["regex-budget"]
    assert _codes(" OR ".join(f"params.x RLIKE 'a{{1000}}{i}'" for i in range(10))) == []


def test_the_budget_is_counted_per_query(compilations: list[str]) -> None:
    for i in range(5):  # four patterns past the budget in all, but never in one query
        assert _codes(f"params.x RLIKE '\\pL{{300}}{i}' AND params.y RLIKE 'b'") == []
    assert len(compilations) == 6


def test_an_undecodable_reason_is_a_refusal_not_a_decoding_error() -> None:
    # RE2 quotes the pattern's bytes in its reason; a lone surrogate's are not UTF-8.
    with pytest.raises(UnsupportedQueryError) as caught:
        runql.compile("params.a RLIKE '[\ud800'", profile="extended")
    (problem,) = caught.value.diagnostics
    assert problem.code == "bad-regex"
    assert "missing ]" in problem.message
