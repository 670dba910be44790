"""runql.engines.spark: the same queries on Spark (local[2]), over run tables that runql export writes.

The reference is runql's reference evaluator over the same runs. Runs and queries are generated with
a fixed seed. One Spark session serves the whole test run; many searches are answered by one Spark
job (each search's rows numbered in the order it returned them), which keeps the wall time small.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from support.rlike_cases import CATASTROPHIC, RLIKE_KEYS, RLIKE_PATTERNS, rlike_records

import runql
import runql.engines.spark as rs
from runql.language.ast import Entity, Key, Literal, clauses
from runql.language.unparser import unparse_key, unparse_literal
from runql.model.entities import (
    DATASET_CONTEXT_TAG,
    Dataset,
    DatasetInput,
    InputTag,
    Run,
    RunData,
    RunInfo,
    RunInputs,
)
from runql.model.records import run_from_record
from runql.profiles.compiled import compile_quietly
from runql.sources.export import run_table, write_run_table
from runql.testing.conformance import examples
from runql.testing.strategies import DEFAULT_VOCABULARY, T0, queries, runs

SEED = 20261207
PROFILES = ("mlflow", "azureml", "extended")
LAYOUTS = ("flat", "map")
QUERIES_PER_PROFILE = 12  # over three generated workspaces, in each layout
BATCH = 40  # searches answered by one Spark job


@pytest.fixture(scope="session")
def spark(java: None) -> Iterator[SparkSession]:
    """The session every test shares; without Java, ``java`` stops the test first, saying so."""
    session = (
        SparkSession.builder.master("local[2]")
        .appName("runql-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@dataclass
class Table:
    runs: list[Run]
    frames: dict[str, DataFrame]  # by layout


def _table(spark: SparkSession, folder: Path, name: str, rows: list[Run]) -> Table:
    frames = {}
    for layout in LAYOUTS:
        path = folder / f"{name}-{layout}.parquet"
        write_run_table(rows, path, layout)
        frames[layout] = spark.read.parquet(str(path))
    return Table(rows, frames)


@pytest.fixture(scope="module")
def tables(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> list[Table]:
    folder = tmp_path_factory.mktemp("run-tables")
    generated = examples(runs(DEFAULT_VOCABULARY, min_size=8, max_size=14), 3, SEED)
    return [_table(spark, folder, f"w{i}", rows) for i, rows in enumerate(generated)]


@dataclass(frozen=True)
class Case:
    frame: DataFrame
    filter_string: str
    order_by: list[str]
    max_results: int | None
    profile: str = "mlflow"
    layout: str | None = None


def _answers(cases: Sequence[Case]) -> list[list[str]]:
    """The run ids each case's search returns, in order: a batch of searches in one Spark job."""
    answers: list[list[str]] = [[] for _ in cases]
    for start in range(0, len(cases), BATCH):
        frames = []
        for index, case in enumerate(cases[start : start + BATCH], start):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = rs.search_runs(
                    case.frame,
                    case.filter_string,
                    case.order_by,
                    case.max_results,
                    profile=case.profile,
                    layout=case.layout,
                )
            # Numbered after the sort: the position of each row in the order search_runs returned.
            frames.append(
                found.select(
                    F.lit(index).alias("case"), "run_id", F.monotonically_increasing_id().alias("position")
                )
            )
        rows = reduce(DataFrame.unionByName, frames).collect()
        for row in sorted(rows, key=lambda r: (r.case, r.position)):
            answers[row.case].append(row.run_id)
    return answers


def _expected(rows: list[Run], case: Case) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = compile_quietly(case.filter_string, case.order_by, profile=case.profile)
        page, _ = compiled.search(rows, case.max_results)
    return [r.info.run_id for r in page]


def _check(cases: Sequence[tuple[list[Run], Case]]) -> None:
    found = _answers([case for _, case in cases])
    for (rows, case), answer in zip(cases, found, strict=True):
        expected = _expected(rows, case)
        assert answer == expected, (case.filter_string, case.order_by, case.max_results, case.layout)


# -- differential ---------------------------------------------------------------------------------


def test_generated_queries_equal_the_reference_evaluator(tables: list[Table]) -> None:
    """Every profile, both layouts: the ordered run ids equal the reference evaluator's."""
    cases = []
    for profile in PROFILES:
        for index, table in enumerate(tables):
            strategy = st.tuples(
                queries(profile, "runs", DEFAULT_VOCABULARY, table.runs), st.sampled_from([1, 3, None])
            )
            drawn = examples(strategy, QUERIES_PER_PROFILE // len(tables), SEED + 31 * index + len(profile))
            for number, (query, page) in enumerate(drawn):
                for layout in LAYOUTS:
                    case = Case(
                        table.frames[layout],
                        query.filter_string,
                        list(query.order_by_strings),
                        page,
                        profile,
                        layout if number % 2 else None,  # named, or detected from the schema
                    )
                    cases.append((table.runs, case))
    assert len(cases) == 2 * len(PROFILES) * QUERIES_PER_PROFILE
    _check(cases)


def _run(
    run_id: str,
    start: int | None,
    metrics: dict[str, float] | None = None,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    inputs: list[DatasetInput] | None = None,
) -> Run:
    info = RunInfo(
        run_id,
        "0",
        user_id="ann",
        start_time=None if start is None else T0 + start,
        end_time=None if start is None else T0 + start + 5,
        artifact_uri=f"file:///a/{run_id}",
        run_name=f"run {run_id}",
    )
    data = RunData(metrics=dict(metrics or {}), params=dict(params or {}), tags=dict(tags or {}))
    return Run(info, data, RunInputs(inputs or []))


@pytest.fixture(scope="module")
def numbers(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Table:
    """Metrics where Spark's rules differ from MLflow's: NaN, infinities, zeros of both signs, missing
    values, start times that tie or are missing."""
    values = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, None, math.nan, 2.5, None]
    rows = [
        _run(f"r{i}", None if i == 4 else (i % 3) * 1000, {} if v is None else {"m": v, "m2": float(i % 2)})
        for i, v in enumerate(values)
    ]
    return _table(spark, tmp_path_factory.mktemp("numbers"), "numbers", rows)


NUMBER_FILTERS = (
    "metrics.m = 1",
    "metrics.m != 1",
    "metrics.m > 0",
    "metrics.m >= 0",
    "metrics.m < 1",
    "metrics.m <= -1",
    "metrics.m = 0",
    "metrics.m != 0",
    "metrics.m > -1e308",
    "metrics.m IS NULL",
    "metrics.m IS NOT NULL",
    "NOT metrics.m = 1",
    "metrics.m > 0 OR metrics.m2 = 0",
    "NOT (metrics.m > 0 OR metrics.m2 = 1)",
    "metrics.m IN (1, 2.5)",
    "metrics.m NOT IN (1, 2.5)",
)
NUMBER_ORDERS = (
    ["metrics.m"],
    ["metrics.m DESC"],
    ["metrics.m2 DESC", "metrics.m"],
    ["attributes.start_time"],
    ["attributes.duration DESC"],
    [],
)


def test_nan_infinity_and_missing_values_follow_mlflow(numbers: Table) -> None:
    """NaN satisfies only != and sorts after every value and before missing values, in both
    directions; -0.0 equals 0.0; a missing start time sorts last in the natural order."""
    # extended: OR, NOT, IN on metrics and ordering by duration are beyond MLflow's profile
    searches = [(text, NUMBER_ORDERS[i % len(NUMBER_ORDERS)]) for i, text in enumerate(NUMBER_FILTERS)]
    searches += [("", order_by) for order_by in NUMBER_ORDERS]
    cases = [
        (numbers.runs, Case(numbers.frames[LAYOUTS[i % 2]], text, order_by, None, "extended"))
        for i, (text, order_by) in enumerate(searches)
    ]
    _check(cases)
    # The answers are not Spark's own: in Spark NaN = NaN, and NaN sorts above every number.
    # Values (0.0 and -0.0 tie, then the start time decides), then NaN, then missing values.
    ordered = _answers([Case(numbers.frames["flat"], "", ["metrics.m DESC"], None)])[0]
    assert ordered == ["r1", "r8", "r5", "r3", "r4", "r2", "r7", "r0", "r6", "r9"]


HOSTILE_TEXTS = (
    "O'Brien",
    "it''s",
    'say "hi"',
    "back\\slash",
    "\\",
    "a%b",
    "a_b",
    "50% off",
    "%",
    "_",
    "x') OR ('1'='1",
    "`tick`",
    "日本",
    "Straße",
    "STRASSE",
    "ü",
    "Ü",
    "line1\nline2",
    "abc\n",
    "abc\r",
    "a\u2028b",
    "\u212a",
    "ſ",
    "[a-z]+",
    "(.*)",
    "^$",
    "\\E\\Q",
    "",
)
HOSTILE_PATTERNS = (
    "%'%",
    "%\\\\%",
    "a\\%b",
    "a%b",
    "a_b",
    "50\\% off",
    "%\\_%",
    "_",
    "%",
    "%\\%",
    "[a-z]+",
    "(.*)",
    "^$",
    "%.*%",
    "abc",
    "ABC",
    "line1_line2",
    "line1%",
    "%line2",
    "a_b",
    "straße",
    "STRASSE",
    "Ü",
    "k",
    "S",
    "\\\\E%",
    "%`%",
    "x'') OR (''1''=''1",
)


@pytest.fixture(scope="module")
def hostile(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Table:
    rows = []
    for i, text in enumerate(HOSTILE_TEXTS):
        params = {"p": text, "it's `key`": text, "dotted.key name": text}
        if i % 4:
            params["other"] = "x"
        inputs = [DatasetInput(Dataset(text, f"d{i % 3}"), [InputTag(DATASET_CONTEXT_TAG, text)])]
        rows.append(_run(f"h{i:02d}", i * 10, {"it's `m`": float(i)}, params, {"t": text}, inputs))
    return _table(spark, tmp_path_factory.mktemp("hostile"), "hostile", rows)


def _written(text: str, in_list: bool = False) -> str | None:
    """``text`` as a quoted string of the filter syntax, None when the syntax cannot hold it."""
    try:
        return unparse_literal(Literal(text), in_list)
    except runql.QueryValueError:
        return None


def test_hostile_values_give_the_reference_answers_and_never_reach_spark_as_sql(
    hostile: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("runql.engines.spark wrote SQL text")

    # Compiling and searching never builds Spark SQL text: these raise if called.
    monkeypatch.setattr(F, "expr", refuse)
    monkeypatch.setattr(SparkSession, "sql", refuse)
    monkeypatch.setattr(DataFrame, "selectExpr", refuse)
    quoted_key = unparse_key(Key(Entity.PARAM, "it's `key`"))
    dotted_key = unparse_key(Key(Entity.PARAM, "dotted.key name"))
    filters = []
    for i, pattern in enumerate(filter(None, map(_written, HOSTILE_PATTERNS))):
        op = ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")[i % 4]
        other = ("ILIKE", "LIKE")[i % 2]
        filters.append((f"params.p {op} {pattern} OR datasets.name {other} {pattern}", "extended"))
    for i, raw in enumerate(HOSTILE_TEXTS):
        text, item = _written(raw), _written(raw, in_list=True)
        if text is None:
            continue
        listed = "" if item is None else f" OR tags.t IN ({item}, 'x')"
        filters += [
            (f"params.p = {text}{listed} OR datasets.context = {text}", "extended"),
            (f"NOT params.other = {text} OR {(quoted_key, dotted_key)[i % 2]} != {text}", "extended"),
        ]
    assert len(filters) > 70
    metric_key = unparse_key(Key(Entity.METRIC, "it's `m`"))
    orders = (["params.p"], [f"{dotted_key} DESC"], [metric_key])
    cases = []
    for index, (text, profile) in enumerate(filters):
        runql.parse_filter(text)  # each filter is in the language: no case is vacuous
        frame = hostile.frames[LAYOUTS[index // 2 % 2]]
        cases.append((hostile.runs, Case(frame, text, orders[index % len(orders)], None, profile)))
    _check(cases)
    selected = _answers([Case(hostile.frames["map"], "params.p LIKE 'a\\%b'", [], None)])[0]
    assert selected == [], "a backslash is a character of the pattern, not an escape"
    selected = _answers([Case(hostile.frames["flat"], "params.p LIKE 'a_b'", ["params.p"], None)])[0]
    # _ is any one character but a newline: Java's "." would also refuse the line separator of h20
    assert selected == ["h05", "h06", "h20"]


# -- RLIKE ----------------------------------------------------------------------------------------


def test_rlike_is_re2s_answer_never_javas(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RLIKE matches the key's distinct values with RE2 and tests membership: Java's backtracking
    regular expressions (Column.rlike) are never used for it, so a catastrophic pattern answers."""
    rows = [run_from_record(record) for record in rlike_records()]
    table = _table(spark, tmp_path, "rlike", rows)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("RLIKE reached Java's regular expressions")

    monkeypatch.setattr(rs.Column, "rlike", refuse)
    cases = []
    for index, layout in enumerate(LAYOUTS):
        frame = table.frames[layout]
        for number, key in enumerate(RLIKE_KEYS):
            for pattern in RLIKE_PATTERNS[index::2]:  # each pattern in one layout, each operator on each key
                operator = ("RLIKE", "NOT RLIKE")[(number + len(cases)) % 2]
                text = f"{key} {operator} '{pattern}'"
                cases.append((rows, Case(frame, text, ["params.model"], None, "extended")))
        for text in (
            "datasets.name RLIKE '^(?:vision|nlp)-(?:2-)?train' OR tags.team RLIKE '(?i)^v'",
            "datasets.context NOT RLIKE 'train' AND NOT params.model RLIKE 'gbm'",
            *(filter_string for filter_string, _ in CATASTROPHIC),
        ):
            cases.append((rows, Case(frame, text, [], None, "extended")))
    _check(cases)
    for text, count in CATASTROPHIC:
        assert len(_answers([Case(table.frames["flat"], text, [], None, "extended")])[0]) == count


def test_rlike_needs_the_frame_not_its_schema(tables: list[Table]) -> None:
    frame = tables[0].frames["map"]
    compiled = runql.compile("params.lr RLIKE '^0'", profile="extended")
    with pytest.raises(ValueError, match="DataFrame, not its schema"):
        rs.compile_query(compiled, frame.schema)
    assert rs.compile_query(compiled, frame).filter is not None


# -- keys, layouts, errors ------------------------------------------------------------------------


def test_keys_no_run_has_are_missing_keys(tables: list[Table]) -> None:
    """A metric no run logged (no column, no map entry) is missing, not an analysis error; a key that
    differs from a column only in case is another key (Spark resolves names ignoring case)."""
    table = next(t for t in tables if "metrics.acc" in t.frames["flat"].columns)
    assert "metrics.ACC" not in table.frames["flat"].columns
    cases = []
    for layout in LAYOUTS:
        frame = table.frames[layout]
        for text, profile in (
            ("metrics.never_logged > 0", "mlflow"),
            ("params.never = 'x'", "mlflow"),
            ("tags.never != 'x'", "mlflow"),
            ("metrics.ACC IS NULL", "extended"),
            ("metrics.ACC > -1e308", "mlflow"),
            ("params.LR IS NOT NULL", "extended"),
            ("NOT metrics.never_logged = 1 OR metrics.acc >= 0", "extended"),
        ):
            order_by = (["metrics.never_logged DESC"], ["params.never", "metrics.ACC"])[len(cases) % 2]
            cases.append((table.runs, Case(frame, text, order_by, None, profile)))
    _check(cases)
    none = _answers([Case(table.frames["flat"], "metrics.ACC IS NULL", [], None, "extended")])[0]
    assert none == _expected(table.runs, Case(table.frames["flat"], "", [], None)), "every run lacks ACC"


def test_max_results_and_the_composable_filter(tables: list[Table]) -> None:
    table = tables[1]
    frame = table.frames["map"]
    everything = _answers([Case(frame, "", [], None)])[0]
    assert everything == _expected(table.runs, Case(frame, "", [], None))
    assert _answers([Case(frame, "", [], 2)])[0] == everything[:2]
    assert _answers([Case(frame, "", [], 0)])[0] == []
    with pytest.raises(runql.ArgumentError):
        rs.search_runs(frame, max_results="10")  # type: ignore[arg-type]
    # compile_filter is two-valued: its negation keeps the runs the filter leaves out, those
    # without the tag included.
    for layout in LAYOUTS:
        frame = table.frames[layout]
        kept = rs.compile_filter(frame, "tags.team = 'a'")
        inside = {r.run_id for r in frame.where(kept).collect()}
        outside = {r.run_id for r in frame.where(~kept).collect()}
        assert inside == set(_expected(table.runs, Case(frame, "tags.team = 'a'", [], None)))
        assert inside | outside == set(everything) and not inside & outside
    ordered = frame.orderBy(*rs.compile_order(frame, ["metrics.acc DESC"])).select("run_id").collect()
    assert [r.run_id for r in ordered] == _expected(table.runs, Case(frame, "", ["metrics.acc DESC"], None))
    assert rs.compile_filter(frame.schema, "") is not None


def test_layouts_are_detected_and_checked(tables: list[Table], spark: SparkSession) -> None:
    flat, mapped = tables[0].frames["flat"], tables[0].frames["map"]
    assert rs.detect_layout(flat.schema) == "flat"
    assert rs.detect_layout(mapped.schema) == "map"
    with pytest.raises(runql.StoreError, match="flat layout was named"):
        rs.search_runs(mapped, "metrics.acc > 0", layout="flat")
    with pytest.raises(runql.StoreError, match="map layout was named"):
        rs.search_runs(flat, "metrics.acc > 0", layout="map")
    with pytest.raises(ValueError, match="layout must be"):
        rs.search_runs(flat, layout="wide")
    with pytest.raises(runql.StoreError, match="no run_id column"):
        rs.search_runs(flat.drop("run_id"))
    with pytest.raises(runql.StoreError, match="must hold numbers"):
        rs.search_runs(flat.withColumn("metrics.acc", F.lit("0.5")), "metrics.acc > 0")
    with pytest.raises(runql.StoreError, match="must hold strings"):
        rs.search_runs(flat.withColumn("params.lr", F.lit(0.5)), "params.lr = '0.5'")
    # Dataset clauses need the datasets column; a table without one says so.
    with pytest.raises(runql.StoreError, match="no datasets column"):
        rs.search_runs(flat.drop("datasets"), "datasets.name = 'train'")
    # Query errors are runql's, before Spark sees anything.
    with pytest.raises(runql.UnsupportedQueryError):
        rs.search_runs(flat, "metrics.acc > 0 OR metrics.acc < 0")
    with pytest.raises(runql.QuerySyntaxError):
        rs.search_runs(flat, "metrics.acc >")


def test_an_mlflow_search_runs_frame_saved_as_parquet(spark: SparkSession, tmp_path: Path) -> None:
    """The flat layout as mlflow.search_runs lays it out (timestamps, run name and user as tags, no
    lifecycle_stage), saved by pandas: the same answers as the reference evaluator."""
    generated = examples(runs(DEFAULT_VOCABULARY.store_safe(), min_size=10, max_size=14), 1, SEED + 5)[0]
    for run in generated:
        for key, value in list(run.data.metrics.items()):
            if math.isnan(value):  # pandas writes NaN as null: it would read as a missing metric
                del run.data.metrics[key]
        run.data.tags["mlflow.runName"] = run.info.run_name or ""
        run.info.run_name = run.info.run_name or ""
        run.data.tags["mlflow.user"] = run.info.user_id or ""
    workspace = runql.Workspace.from_records(runs=generated)
    frame = workspace.search_runs(["0"], max_results=None)
    assert "run_name" not in frame.columns and str(frame["start_time"].dtype).startswith("datetime64")
    path = tmp_path / "search_runs.parquet"
    frame.to_parquet(path, coerce_timestamps="ms", allow_truncated_timestamps=True)
    table = spark.read.parquet(str(path))
    strategy = st.tuples(queries("mlflow", "runs", DEFAULT_VOCABULARY.store_safe(), generated), st.just(None))
    cases = [
        (generated, Case(table, q.filter_string, list(q.order_by_strings), page, "mlflow"))
        for q, page in examples(strategy, 16, SEED + 6)
        if not any(c.key.entity is Entity.DATASET for c in clauses(q.filter))
    ]
    cases.append((generated, Case(table, "attributes.run_name LIKE '%a%'", ["attributes.user_id"], None)))
    _check(cases)


def test_the_notebook_example_answers_as_runql(spark: SparkSession, tmp_path: Path) -> None:
    workspace = runql.Workspace.sample()
    path = tmp_path / "runs.parquet"
    write_run_table(workspace.runs, path)
    text, order_by = "metrics.auc > 0.8 AND params.model = 'xgboost'", ["metrics.auc DESC"]
    assert any(r.info.lifecycle_stage == "deleted" for r in workspace.runs)
    table = spark.read.parquet(str(path))
    found = rs.search_runs(table, text, order_by, max_results=100)
    ids = [e.experiment_id for e in workspace.experiments]
    expected = workspace.search_runs(ids, filter_string=text, order_by=order_by)
    assert len(expected) > 3
    # Active runs by default, as MLflow searches; the deleted ones with run_view_type.
    assert [r.run_id for r in found.select("run_id").collect()] == list(expected["run_id"])
    for view in ("deleted_only", "all"):
        found = rs.search_runs(table, text, order_by, run_view_type=view)
        expected = workspace.search_runs(ids, filter_string=text, order_by=order_by, run_view_type=view)
        assert [r.run_id for r in found.select("run_id").collect()] == list(expected["run_id"])


# -- export ---------------------------------------------------------------------------------------


def test_export_keeps_nan_apart_from_missing_and_types_the_columns(tmp_path: Path) -> None:
    rows = [
        _run("a", 0, {"m": math.nan}, {"p": "1"}, {"t": "x"}),
        _run("b", None, {}, {}, {}, [DatasetInput(Dataset("train", "d1"), [])]),
    ]
    for layout in LAYOUTS:
        path = tmp_path / f"{layout}.parquet"
        assert write_run_table(rows, path, layout) == 2
        table = pq.read_table(path)
        assert table.column_names[:6] == [
            "run_id",
            "experiment_id",
            "status",
            "artifact_uri",
            "start_time",
            "end_time",
        ]
        assert str(table.schema.field("start_time").type) == "timestamp[ms, tz=UTC]"
        assert table.column("start_time").to_pylist()[1] is None
        assert table.column("datasets").to_pylist()[1] == [{"name": "train", "digest": "d1", "context": None}]
        if layout == "flat":
            assert math.isnan(table.column("metrics.m").to_pylist()[0])
            assert table.column("metrics.m").to_pylist()[1] is None
            assert table.column("params.p").to_pylist() == ["1", None]
        else:
            kind = table.schema.field("metrics").type
            assert (kind.key_type, kind.item_type) == (pa.string(), pa.float64())
            metrics = table.column("metrics").to_pylist()
            assert math.isnan(metrics[0][0][1]) and metrics[1] == []
    with pytest.raises(ValueError, match="layout must be"):
        run_table(rows, "wide")


def test_like_regex_quotes_every_operator() -> None:
    assert rs.like_regex("a.b%", ignore_case=False) == "\\Aa\\x{2e}b[^\\n]*"
    assert rs.like_regex("_x", ignore_case=True) == "(?iu)\\A[^\\n]x\\n?\\z"


def test_history_functions_are_refused_and_last_is_the_latest_value(tables: list[Table]) -> None:
    table = tables[0]
    for layout in LAYOUTS:
        frame = table.frames[layout]
        with pytest.raises(runql.EvaluationError, match="min\\(\\) cannot be computed") as caught:
            rs.compile_filter(frame, "min(metrics.acc) < 0.5", profile="extended")
        assert caught.value.code == "unsupported-aggregate"
        with pytest.raises(runql.EvaluationError, match="at_step"):
            rs.compile_order(frame, ["at_step(metrics.acc, 2) DESC"], profile="extended")
        latest = _answers([Case(frame, "last(metrics.acc) > 0.5", ["last(metrics.acc)"], None, "extended")])
        assert latest[0] == _expected(table.runs, Case(frame, "metrics.acc > 0.5", ["metrics.acc"], None))


# -- without Java ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ci", [False, True], ids=["elsewhere", "on-ci"])
def test_without_java_a_spark_test_says_so_in_one_line(ci: bool, tmp_path: Path) -> None:
    # A test run by a pytest that finds no Java: PATH is an empty folder and JAVA_HOME is not set.
    environ = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "CI")}
    environ["PATH"] = str(tmp_path)
    if ci:
        environ["CI"] = "true"
    test = f"{__file__}::test_an_mlflow_search_runs_frame_saved_as_parquet"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        capture_output=True, text=True, env=environ, cwd=Path(__file__).parents[2], check=False,
    )  # fmt: skip
    assert ("1 error" if ci else "1 skipped") in done.stdout, done.stdout
    assert "Java is not installed (no java on PATH and JAVA_HOME is not set)" in done.stdout
    assert "a JRE 17" in done.stdout and "Traceback" not in done.stdout and "JAVA_GATEWAY" not in done.stdout
