"""RLIKE on Spark within the same bound as on PostgreSQL: a key's distinct values read once per query, the
fewer of the matching and the other values sent, and a query past the bound refused with a runql error."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

import runql
import runql.engines.spark as rs
from runql.engines import semantics
from runql.errors import EvaluationError
from runql.model.records import run_from_record
from runql.sources.export import write_run_table

RUNS = [
    run_from_record(
        {
            "run_id": f"v{j:02d}",
            "start_time": j,
            "params": {"p": f"value-{j:02d}"},
            "tags": {"t": f"t{j % 3}"},
        }
    )
    for j in range(40)
]


@pytest.fixture(scope="module")
def spark(java: None) -> Iterator[SparkSession]:
    session = (
        SparkSession.builder.master("local[1]")
        .appName("runql-bounds")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session


@pytest.fixture(scope="module", params=["flat", "map"])
def frame(
    request: pytest.FixtureRequest, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> DataFrame:
    path: Path = tmp_path_factory.mktemp("bounds") / f"runs-{request.param}.parquet"
    write_run_table(RUNS, path, request.param)
    return spark.read.parquet(str(path))


def _search(frame: DataFrame, text: str) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = rs.search_runs(frame, text, ["params.p"], profile="extended")
    return [row.run_id for row in found.collect()]


def _expected(text: str) -> list[str]:
    compiled = runql.compile(text, ["params.p"], profile="extended")
    return [r.info.run_id for r in compiled.search(RUNS)[0]]


def test_rlike_sends_the_fewer_values_and_reads_a_key_once(
    frame: DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[int] = []
    split = semantics.SentValues.split

    def counting(self: semantics.SentValues, *args: object, **kwargs: object) -> tuple[list[str], bool]:
        found = split(self, *args, **kwargs)  # type: ignore[arg-type]
        sent.append(len(found[0]))
        return found

    monkeypatch.setattr(semantics.SentValues, "split", counting)
    reads: list[object] = []
    collect = type(frame).collect  # the class Spark's session makes frames of
    monkeypatch.setattr(type(frame), "collect", lambda self: reads.append(self) or collect(self))
    text = "params.p RLIKE '-(?:[1-3]|0[0-4])' OR params.p RLIKE '-0[0-4]' OR tags.t NOT RLIKE '1'"
    compiled = runql.compile(text, profile="extended")
    rs.compile_query(compiled, frame)
    assert sent == [5, 5, 1]  # 35 match the first (5 do not), 5 the second; of t0, t1, t2 one matches
    assert len(reads) == 2  # the values of p once, of t once
    for negated in (text, f"NOT ({text})"):
        assert _search(frame, negated) == _expected(negated)


def test_what_a_query_may_send_is_bounded(frame: DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(semantics, "MAX_SENT_VALUES", 25)
    assert _search(frame, "params.p RLIKE '[0-4]$'") == _expected("params.p RLIKE '[0-4]$'")
    text = "params.p RLIKE '[0-4]$' OR params.p RLIKE '[5-9]$'"  # 20 and 20 values
    with pytest.raises(EvaluationError) as caught:
        _search(frame, text)
    assert caught.value.code == "too-many-values"
    assert caught.value.span is not None and text[caught.value.span.start :].startswith("params.p RLIKE '[5")
