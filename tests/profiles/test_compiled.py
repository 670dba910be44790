"""runql.compile: one compiled query that every entry point answers through."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runql
from runql.testing.strategies import queries, runs


@pytest.mark.parametrize("profile", ["mlflow", "azureml", "extended"])
@settings(max_examples=60)
@given(data=st.data())
def test_compiled_search_equals_runql_search(profile: str, data: st.DataObject) -> None:
    rows = data.draw(runs(max_size=10))
    query = data.draw(queries(profile, "runs", rows=rows))
    page = data.draw(st.sampled_from([None, 1, 3]))
    text, order_by = query.filter_string, list(query.order_by_strings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = runql.compile(text, order_by, profile=profile)
        assert compiled.search(rows, page) == runql.search(rows, text, order_by, page, profile=profile)
    selected = [r for r in rows if compiled.predicate(r)]
    assert sorted(selected, key=compiled.sort_key) == compiled.search(rows)[0]


@pytest.mark.parametrize(
    ("profile", "filter_string", "order_by"),
    [
        ("mlflow", "attributes.status = 'Failed'", ["metrics.a", "metrics.a DESC"]),
        ("azureml", "attributes.start_time > 1600000000", None),
        ("extended", "metrics.a > 1", None),
    ],
)
def test_warnings_are_the_diagnostics_check_reports(
    profile: str, filter_string: str, order_by: list[str] | None
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = runql.compile(filter_string, order_by, profile=profile)
    assert list(compiled.warnings) == runql.check(filter_string, profile, order_by=order_by)
    assert [w.message.diagnostic for w in caught] == list(compiled.warnings)  # type: ignore[union-attr]
    assert all(w.filename == __file__ for w in caught)  # reported from the caller's line


def test_a_compiled_query_is_reused_not_recompiled() -> None:
    first = runql.compile("metrics.a > 1", ["params.p"])
    assert runql.compile("metrics.a > 1", ["params.p"]) is first
    assert runql.compile("metrics.a > 1", ("params.p",)) is first
    assert runql.compile("metrics.a > 1", iter(["params.p"])) is first


def test_refusals_come_from_compile() -> None:
    with pytest.raises(runql.UnsupportedQueryError):
        runql.compile("metrics.a > 1 OR metrics.b > 1")
    with pytest.raises(runql.QuerySyntaxError):
        runql.compile("metrics.a >")
    with pytest.raises(ValueError, match="entity"):
        runql.compile("", entity="models")


def test_importing_runql_loads_neither_pandas_nor_numpy_nor_sqlalchemy() -> None:
    code = "import sys, runql; print([m for m in ('pandas', 'numpy', 'sqlalchemy') if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
