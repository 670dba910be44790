"""``check_backend`` passes runql's own evaluators and catches a broken one with a minimal example."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from runql import parse
from runql.engines.columnar import ColumnarRuns
from runql.engines.reference import filter_experiments, filter_runs, sort_experiments, sort_runs, truth
from runql.language.ast import Compare, Entity, IsNull, Op, clauses
from runql.testing.conformance import ConformanceError, check_backend
from runql.testing.pytest_plugin import runql_conformance  # noqa: F401  (the fixture, as the plugin provides it)

ROOT = Path(__file__).resolve().parents[2]


def reference_backend(runs: list[Any], filter_string: str, order_by: list[str]) -> list[str]:
    query = parse(filter_string, order_by)
    return [r.info.run_id for r in sort_runs(filter_runs(runs, query.filter), query.order_by)]


def columnar_backend(runs: list[Any], filter_string: str, order_by: list[str]) -> list[str]:
    query = parse(filter_string, order_by)
    return [runs[i].info.run_id for i in ColumnarRuns(runs).search(query.filter, query.order_by)]


def missing_matches_not_equal(runs: list[Any], filter_string: str, order_by: list[str]) -> list[str]:
    """A common store bug: a run without the key is kept by ``!=`` (SQL's LEFT JOIN without a NULL check)."""
    query = parse(filter_string, order_by)
    clauses: Sequence[Any] = () if query.filter is None else getattr(query.filter, "terms", (query.filter,))

    def keep(run: Any) -> bool:
        for clause in clauses:
            lenient = (
                isinstance(clause, Compare) and clause.op is Op.NE and clause.key.entity is not Entity.DATASET
            )
            if lenient and truth(run, clause) is None:
                continue
            if truth(run, clause) is not True:
                return False
        return True

    return [r.info.run_id for r in sort_runs([r for r in runs if keep(r)], query.order_by)]


def test_the_reference_conforms() -> None:
    check_backend(reference_backend, max_examples=150)


def test_the_columnar_evaluator_conforms() -> None:
    check_backend(columnar_backend, max_examples=150)


def test_experiments_conform() -> None:
    def backend(experiments: list[Any], filter_string: str, order_by: list[str]) -> list[str]:
        query = parse(filter_string, order_by)
        found = sort_experiments(filter_experiments(experiments, query.filter), query.order_by)
        return [e.experiment_id for e in found]

    check_backend(backend, entity="experiments", max_examples=100)


def test_a_broken_backend_fails_with_the_example_that_shows_it() -> None:
    # Unshrunk, so the test takes seconds whatever the machine's load; the example is still the proof.
    with pytest.raises(ConformanceError) as caught:
        check_backend(missing_matches_not_equal, max_examples=300, shrink=False)
    error = caught.value
    kept = [r for r in error.rows if r.info.run_id in set(error.got) - set(error.expected)]
    assert kept, "the backend keeps a run the reference leaves out"
    assert " != " in error.filter_string, error.filter_string
    # Each run kept by mistake lacks a key that a `!=` clause compares.
    compared = [
        c.key for c in clauses(parse(error.filter_string).filter) if isinstance(c, Compare) and c.op is Op.NE
    ]
    assert all(any(truth(run, IsNull(key)) for key in compared) for run in kept)
    report = str(error)
    assert f"expected:      {error.expected}" in report and error.filter_string in report


def test_an_error_of_the_backend_is_reported() -> None:
    def crashes(runs: list[Any], filter_string: str, order_by: list[str]) -> list[str]:
        if "LIKE" in filter_string:
            raise RuntimeError("no LIKE here")
        return reference_backend(runs, filter_string, order_by)

    with pytest.raises(ConformanceError, match="raised RuntimeError: no LIKE here"):
        check_backend(crashes, max_examples=300)


def test_the_fixture_runs_the_check(runql_conformance: Any) -> None:  # noqa: F811
    assert runql_conformance is check_backend
    runql_conformance(columnar_backend, max_examples=30)


def test_the_documented_example_runs(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "conformance.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/conformance.md has no python example"
    namespace: dict[str, Any] = {"__name__": "conformance_example"}
    exec(compile("\n".join(blocks), str(ROOT / "docs" / "conformance.md"), "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_") and callable(value)]
    assert tests
    for test in tests:
        test()


@pytest.mark.parametrize("args", [["--layers", "parse,bogus"], ["--examples", "0"], ["--layers", " , "]])
def test_report_options_are_checked(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from runql.testing.conformance import main

    with pytest.raises(SystemExit) as exit_:
        main(["--report", *args])
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err
