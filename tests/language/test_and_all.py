"""runql.and_all: the conjunction of filters, each parsed, so that none reaches past the others."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

import runql
from runql.profiles.compiled import compile_quietly
from runql.testing.conformance import examples
from runql.testing.strategies import DEFAULT_VOCABULARY, queries, runs

SEED = 20261206


def test_an_or_stays_grouped_and_the_scope_holds() -> None:
    text = runql.and_all("params.a = '1' OR params.b = '2'", "tags.scope = 'mine'")
    assert text == "(params.a = '1' OR params.b = '2') AND tags.scope = 'mine'"
    assert runql.parse_filter(text) == runql.And(
        (runql.parse_filter("params.a = '1' OR params.b = '2'"), runql.parse_filter("tags.scope = 'mine'"))
    )


@pytest.mark.parametrize(
    "escape", ["params.a = '1') OR (params.b = '2'", "params.a = '1' OR", "x' OR 'a'='a"]
)
def test_a_filter_that_would_escape_is_refused(escape: str) -> None:
    with pytest.raises(runql.QuerySyntaxError):
        runql.and_all(escape, "tags.scope = 'mine'")


def test_empty_filters_are_left_out() -> None:
    assert runql.and_all("", None, "  ") == ""
    assert runql.and_all("", "metrics.m > 1", None) == "metrics.m > 1"
    assert runql.and_all("metrics.m > 1 AND metrics.n < 2", "params.p = 'x'") == (
        "metrics.m > 1 AND metrics.n < 2 AND params.p = 'x'"
    )


def test_the_conjunction_selects_what_both_select() -> None:
    generated = examples(runs(DEFAULT_VOCABULARY, min_size=6, max_size=12), 4, SEED)
    for index, rows in enumerate(generated):
        two = st.tuples(*[queries("extended", "runs", DEFAULT_VOCABULARY, rows)] * 2)
        for first, second in examples(two, 25, SEED + index):
            left, right = first.filter_string, second.filter_string
            both = compile_quietly(runql.and_all(left, right), profile="extended")
            each = [compile_quietly(text, profile="extended") for text in (left, right)]
            expected = [r.info.run_id for r in rows if all(c.predicate(r) for c in each)]
            assert [r.info.run_id for r in rows if both.predicate(r)] == expected, (left, right)
