"""The arguments of runql.search that are not the query: a page size and a page token, checked as MLflow's
stores check them, with a runql error naming the argument (never a foreign exception, never a page cut
short)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from support.shaped_runs import shaped_run

import runql
from runql.errors import ArgumentError
from runql.model.paging import MAX_OFFSET, parse_page_token

RUNS = [shaped_run(f"r{i:02d}", start_time=i) for i in range(50)]


@pytest.mark.parametrize("max_results", [-1, 0, 1.5, "3", True, 50_001, 10**30])
def test_a_page_size_out_of_mlflows_bounds_is_refused(max_results: Any) -> None:
    for search in (
        lambda: runql.search(RUNS, "", max_results=max_results),
        lambda: runql.compile("").search(RUNS, max_results),
        lambda: runql.search_experiments([], "", max_results=max_results),
    ):
        with pytest.raises(ArgumentError) as caught:
            search()
        assert caught.value.code == "bad-max-results"
        assert caught.value.where == "max_results"


@pytest.mark.parametrize(("max_results", "count"), [(None, 50), (1, 1), (49, 49), (50, 50), (50_000, 50)])
def test_a_page_size_within_the_bounds_gives_that_many_runs(max_results: int | None, count: int) -> None:
    page, token = runql.search(RUNS, "", max_results=max_results)
    assert len(page) == count
    assert (token is None) == (count == 50)


def _token(offset: Any) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


@pytest.mark.parametrize("offset", [2**63, 1e300, 10**400, -1])
def test_an_offset_beyond_a_bigint_is_refused(offset: Any) -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_page_token(_token(offset))
    assert caught.value.code == "bad-page-token"
    with pytest.raises(ArgumentError):
        runql.search(RUNS, "", page_token=_token(offset))


def test_the_largest_offset_is_a_bigint() -> None:
    assert parse_page_token(_token(MAX_OFFSET)) == MAX_OFFSET
    assert runql.search(RUNS, "", page_token=_token(MAX_OFFSET)) == ([], None)
