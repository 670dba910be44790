"""Functions of a metric's history (min, max, avg, count, first, last, at_step) in every engine.

The expected answers are computed apart, with pandas, over the points MLflow's own client returns
(``MlflowClient.get_metric_history``) from a database MLflow wrote with generated runs (NaN points,
single points, ties on step and timestamp, runs without the metric); ``last`` is the latest value
MLflow reports (``MlflowClient.get_run``). The engines: the reference evaluator and the columnar engine
over the runs read back (histories kept in the database, read in bulk), the columnar engine over the
same runs held in memory, and SQL on the database itself (SQLite and PostgreSQL).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pandas as pd
import pytest
from support.mlflow_stores import log_with_mlflow

import runql
from runql.errors import QueryError, UnsupportedQueryError
from runql.language.ast import Aggregate
from runql.language.parser import parse, parse_filter
from runql.language.unparser import unparse_query
from runql.model.entities import Metric, Run
from runql.model.records import run_from_record, run_to_record
from runql.testing.conformance import examples
from runql.testing.strategies import DEFAULT_VOCABULARY, runs

SEED = 20261130
FUNCTIONS = ("min", "max", "avg", "count", "first", "last", "at_step")
Engine = Callable[[str, list[str]], list[str]]


@dataclass
class Data:
    url: str
    runs: list[Run]  # as read back from the database (histories kept there)
    expected: dict[tuple[str, str, int | None], dict[str, float]]  # (function, key, step): run id -> value
    keys: list[str]
    steps: list[int]
    engines: dict[str, Engine]


def _pandas_value(function: str, points: pd.DataFrame, step: int | None) -> float | None:
    """The rule of docs/syntax.md, written over a DataFrame of (value, step, timestamp)."""
    if function == "at_step":
        points = points[points.step == step]
    if points.empty:
        return None
    if function == "count":
        return float(len(points))
    if function in ("min", "max", "avg"):
        series = points.value.dropna()
        if series.empty:
            return math.nan
        return float({"min": series.min, "max": series.max, "avg": series.mean}[function]())
    ranked = points.assign(nan=points.value.isna(), number=points.value.fillna(0.0))
    if function == "first":
        return float(ranked.sort_values(["step", "timestamp", "nan", "number"]).value.iloc[0])
    # at_step: the greatest timestamp, a number before NaN, the greatest value
    ranked = ranked.sort_values(["timestamp", "nan", "number"], ascending=[False, True, False])
    return float(ranked.value.iloc[0])


def _expected(
    url: str, run_ids: list[str]
) -> tuple[dict[tuple[str, str, int | None], dict[str, float]], list[str], list[int]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    frames: dict[tuple[str, str], pd.DataFrame] = {}
    latest: dict[tuple[str, str], float] = {}
    for run_id in run_ids:
        run = client.get_run(run_id)
        for key, value in run.data.metrics.items():
            history = client.get_metric_history(run_id, key)
            frames[run_id, key] = pd.DataFrame(
                {
                    "value": [m.value for m in history],
                    "step": [m.step for m in history],
                    "timestamp": [m.timestamp for m in history],
                }
            )
            latest[run_id, key] = value
    keys = sorted({key for _, key in frames})
    steps = sorted({int(s) for frame in frames.values() for s in frame.step})[:3]
    expected: dict[tuple[str, str, int | None], dict[str, float]] = {}
    for key in keys:
        for function in FUNCTIONS:
            for step in steps if function == "at_step" else [None]:
                values = {}
                for run_id in run_ids:
                    if (run_id, key) not in frames:
                        continue  # no metric: no value (missing)
                    if function == "last":
                        values[run_id] = latest[run_id, key]
                        continue
                    value = _pandas_value(function, frames[run_id, key], step)
                    if value is not None:
                        values[run_id] = value
                expected[function, key, step] = values
    return expected, keys, steps


def _key_text(function: str, key: str, step: int | None) -> str:
    return f"at_step(metrics.{key}, {step})" if function == "at_step" else f"{function}(metrics.{key})"


def _engines(
    url: str, experiment_id: str, read_back: runql.Workspace, records: list[Run]
) -> dict[str, Engine]:
    store = runql.connect(url)
    in_memory = runql.Workspace.from_records(runs=[run_to_record(r, _histories(r)) for r in records])
    stored_runs = [r for r in read_back.runs if r.info.experiment_id == experiment_id]

    def quietly(search: Callable[[], list[str]]) -> list[str]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return search()

    def reference(filter_string: str, order_by: list[str]) -> list[str]:
        compiled = runql.profiles.compiled.compile_quietly(filter_string, order_by, profile="extended")
        found, _ = compiled.search(stored_runs)
        return [r.info.run_id for r in found]

    def columnar(workspace: runql.Workspace, ids: list[str]) -> Engine:
        def search(filter_string: str, order_by: list[str]) -> list[str]:
            found = workspace.search_runs(
                ids,
                filter_string,
                order_by=order_by,
                output_format="list",
                profile="extended",
                max_results=100_000,
            )
            return [r.info.run_id for r in found]

        return search

    def sql(filter_string: str, order_by: list[str]) -> list[str]:
        found, _ = store.search_runs_paged(
            [experiment_id], filter_string, order_by=order_by, max_results=None, profile="extended"
        )
        return [r.info.run_id for r in found]

    memory_ids = sorted({r.info.experiment_id for r in records})
    return {
        "reference": lambda f, o: quietly(lambda: reference(f, o)),
        "columnar-stored": lambda f, o: quietly(lambda: columnar(read_back, [experiment_id])(f, o)),
        "columnar-memory": lambda f, o: quietly(lambda: columnar(in_memory, memory_ids)(f, o)),
        "sql": lambda f, o: quietly(lambda: sql(f, o)),
    }


def _histories(run: Run) -> dict[str, list[Metric]]:
    return {key: run.data.history(key) for key in run.data.metrics}


def _edge_runs() -> list[dict[str, Any]]:
    """Runs the generated ones may miss: a single point, NaN only, NaN beside numbers, no metric."""

    def point(value: float, step: int, timestamp: int) -> dict[str, Any]:
        return {"value": value, "step": step, "timestamp": timestamp}

    base = 1_790_000_000_000
    edges = [
        {"run_id": "e" * 31 + "1", "start_time": base, "metrics": {"loss": [point(0.5, 0, 1)]}},
        {
            "run_id": "e" * 31 + "2",
            "start_time": base,
            "metrics": {"loss": [point(math.nan, 0, 1), point(math.nan, 1, 2)]},
        },
        {
            "run_id": "e" * 31 + "3",
            "start_time": base,
            "metrics": {
                "loss": [point(2.0, 0, 5), point(math.nan, 0, 5), point(1.0, 0, 5), point(3.0, 2, 1)]
            },
        },
        {"run_id": "e" * 31 + "4", "start_time": base, "metrics": {"acc": [point(1.0, 0, 1)]}},
        {
            "run_id": "e" * 31 + "5",
            "start_time": base + 1,
            "metrics": {"loss": [point(-1.0, 3, 9), point(4.0, 0, 9), point(4.0, 0, 3)]},
        },
    ]
    return [{"user_id": "edge", "run_name": "edge", **edge} for edge in edges]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def data(request: pytest.FixtureRequest) -> Iterator[Data]:
    make = request.getfixturevalue(
        "new_sqlite_database" if request.param == "sqlite" else "new_postgres_database"
    )
    url = make(mlflow_schema=True)
    generated = examples(runs(DEFAULT_VOCABULARY.store_safe(), min_size=10, max_size=14), 1, SEED)[0]
    records = [*generated, *(run_from_record(r) for r in _edge_runs())]
    for run in records:
        run.info.experiment_id = "w"
    written = log_with_mlflow(url, records, [{"experiment_id": "w", "name": "histories"}])
    experiment_id = written.experiments["w"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_back = runql.from_mlflow_db(url)
    mine = [
        r
        for r in read_back.runs
        if r.info.experiment_id == experiment_id and r.info.lifecycle_stage == "active"
    ]
    expected, keys, steps = _expected(url, [r.info.run_id for r in mine])
    # The same runs held in memory, under MLflow's run ids, with the points MLflow kept.
    in_memory = [
        run_from_record(
            run_to_record(r, {k: read_back.get_metric_history(r.info.run_id, k) for k in r.data.metrics})
        )
        for r in mine
    ]
    yield Data(url, mine, expected, keys, steps, _engines(url, experiment_id, read_back, in_memory))


def _natural(runs_: list[Run]) -> list[str]:
    ordered = sorted(runs_, key=lambda r: r.info.run_id)
    ordered.sort(key=lambda r: -(r.info.start_time or 0))
    return [r.info.run_id for r in ordered]


_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _thresholds(values: dict[str, float]) -> list[float]:
    finite = sorted({v for v in values.values() if math.isfinite(v)})
    picked = finite[:: max(1, len(finite) // 3)][:3]
    between = [(a + b) / 2 for a, b in pairwise(finite)][:2]
    return picked + between


def _close_to(value: float, threshold: float) -> bool:
    return math.isfinite(value) and abs(value - threshold) <= 1e-9 * max(1.0, abs(threshold))


def test_filters_agree_with_pandas_in_every_engine(data: Data) -> None:
    checked = 0
    for (function, key, step), values in data.expected.items():
        text = _key_text(function, key, step)
        for threshold in _thresholds(values):
            for op, test in _OPS.items():
                if function == "avg" and (
                    op in ("=", "!=") or any(_close_to(v, threshold) for v in values.values())
                ):
                    continue  # engines may round a mean differently in its last digit (docs/syntax.md)
                filter_string = f"{text} {op} {threshold!r}"
                wanted = {run_id for run_id, value in values.items() if test(value, threshold)}
                for name, engine in data.engines.items():
                    assert set(engine(filter_string, [])) == wanted, (name, filter_string)
                checked += 1
        for name, engine in data.engines.items():
            assert set(engine(f"{text} IS NOT NULL", [])) == set(values), (name, text)
            missing = {r.info.run_id for r in data.runs} - set(values)
            assert set(engine(f"{text} IS NULL", [])) == missing, (name, text)
    assert checked > 200


def _order_key(value: float | None, descending: bool) -> tuple[int, float]:
    if value is None:
        return (2, 0.0)
    if math.isnan(value):
        return (1, 0.0)
    return (0, -value if descending else value)


def test_order_by_agrees_with_pandas_in_every_engine(data: Data) -> None:
    natural = _natural(data.runs)
    for (function, key, step), values in data.expected.items():
        text = _key_text(function, key, step)
        for descending in (False, True):
            expected = sorted(natural, key=lambda run_id: _order_key(values.get(run_id), descending))
            clause = f"{text} DESC" if descending else text
            for name, engine in data.engines.items():
                found = engine("", [clause])
                if function != "avg":
                    assert found == expected, (name, clause)
                    continue
                # A mean: the order of the values, which engines may round apart in the last digit.
                keys = [_order_key(values.get(run_id), descending) for run_id in found]
                assert sorted(found) == sorted(expected), (name, clause)
                for a, b in pairwise(keys):
                    assert a[0] < b[0] or (a[0] == b[0] and a[1] <= b[1] + 1e-9 * max(1.0, abs(b[1]))), (
                        name,
                        clause,
                    )


def test_a_filter_and_an_order_by_together(data: Data) -> None:
    key = data.keys[0]
    minimum = data.expected["min", key, None]
    threshold = sorted(v for v in minimum.values() if math.isfinite(v))[len(minimum) // 2]
    maximum = data.expected["max", key, None]
    wanted = [r for r in _natural(data.runs) if r in minimum and minimum[r] < threshold]
    wanted.sort(key=lambda run_id: _order_key(maximum.get(run_id), True))
    for name, engine in data.engines.items():
        found = engine(
            f"min(metrics.{key}) < {threshold!r} AND count(metrics.{key}) >= 1", [f"max(metrics.{key}) DESC"]
        )
        assert found == wanted, name


def test_last_is_the_plain_metric(data: Data) -> None:
    for key in data.keys:
        for name, engine in data.engines.items():
            assert engine("", [f"last(metrics.{key})"]) == engine("", [f"metrics.{key}"]), name


def test_a_function_reads_the_points_of_its_metric_only(data: Data, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workspace loaded from the database reads the points of k for min(metrics.k), not every metric's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workspace = runql.from_mlflow_db(data.url)
    stored = next(r.data.stored for r in workspace.runs if r.data.stored is not None)
    assert stored is not None
    source, asked = stored.source, []
    read = source.histories
    monkeypatch.setattr(source, "histories", lambda ids, keys=None: asked.append(keys) or read(ids, keys))
    key = data.keys[0]
    experiment_id = data.runs[0].info.experiment_id
    workspace.search_runs([experiment_id], f"min(metrics.`{key}`) < 1e308", profile="extended")
    assert asked == [(key,)]
    ids = [r.info.run_id for r in data.runs]
    everything = read(ids)
    expected = {i: {key: h[key]} for i, h in everything.items() if key in h}
    assert read(ids, [key]) == expected
    # Past 500 runs the metric's points are read in one statement, and the runs asked for kept.
    absent = [f"absent{i}" for i in range(600)]
    assert read(ids + absent, [key]) == expected
    first = next(iter(expected))
    assert read([first, *absent], [key]) == {first: expected[first]}
    assert len({k for h in everything.values() for k in h}) > 1  # other metrics were there to leave out


# -- without a database ----------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["mlflow", "azureml"])
@pytest.mark.parametrize("function", FUNCTIONS)
def test_mlflow_and_azureml_refuse_every_function_with_a_caret(profile: str, function: str) -> None:
    text = _key_text(function, "loss", 3)
    with pytest.raises(UnsupportedQueryError) as caught:
        runql.validate(f"{text} < 0.5", profile)
    (problem,) = caught.value.diagnostics
    assert problem.code == "unsupported-aggregate"
    assert problem.span is not None and (problem.span.start, problem.span.end) == (0, len(text))
    assert "^" * len(text) in str(caught.value)
    with pytest.raises(UnsupportedQueryError) as caught:
        runql.validate("", profile, order_by=[f"{text} DESC"])
    assert [d.code for d in caught.value.diagnostics] == ["unsupported-aggregate"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_unparse_round_trips(function: str) -> None:
    text = _key_text(function, "val loss", -2)
    text = text.replace("metrics.val loss", "metrics.`val loss`")
    query = parse(f"{text} > 0.5 OR NOT {text} IN (1, 2) AND {text} IS NULL", [f"{text} DESC", text])
    filter_string, order_by = unparse_query(query)
    assert parse(filter_string, order_by) == query
    key = query.order_by[0].key
    assert key.aggregate is Aggregate(function) and key.name == "val loss"
    assert key != query.order_by[0].key.metric  # never equal to the plain metric


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("mn(metrics.loss) < 1", "unknown-function"),
        ("MIN(metrics.loss) < 1", "unknown-function"),
        ("min(params.loss) < 1", "bad-function-argument"),
        ("min(metrics.loss, 3) < 1", "bad-function-argument"),
        ("at_step(metrics.loss) < 1", "bad-function-argument"),
        ("at_step(metrics.loss, 1.5) < 1", "bad-function-argument"),
        ("min(metrics.loss) < 'a'", "bad-value-type"),
    ],
)
def test_bad_functions_are_refused_where_they_are(text: str, code: str) -> None:
    with pytest.raises(QueryError) as caught:
        runql.validate(text, "extended")
    assert caught.value.code == code


def test_dotted_metric_keys_stay_keys() -> None:
    # metrics.loss.min is a metric named "loss.min", as in MLflow; min(...) is the function.
    plain = parse_filter("metrics.loss.min < 1").key  # type: ignore[union-attr]
    assert plain.name == "loss.min" and plain.aggregate is None
    assert parse("", ["min(metrics.loss.min)"]).order_by[0].key.name == "loss.min"
    assert parse_filter("min = 'x'").key.name == "min"  # type: ignore[union-attr]


def test_columnar_computes_a_function_once_and_again_after_a_logged_point() -> None:
    workspace = runql.Workspace.from_records(
        runs=[{"run_id": "a" * 32, "metrics": {"loss": [{"value": 3.0, "step": 0, "timestamp": 1}]}}]
    )
    assert [
        r.info.run_id
        for r in workspace.search_runs(
            None, "min(metrics.loss) < 2", output_format="list", profile="extended"
        )
    ] == []
    columns = workspace._columns()
    assert list(columns._aggregates) != []
    cached = columns._aggregates[parse_filter("min(metrics.loss) < 2").key]  # type: ignore[union-attr]
    workspace.search_runs(None, "min(metrics.loss) < 5", output_format="list", profile="extended")
    assert columns._aggregates[parse_filter("min(metrics.loss) < 2").key] is cached  # type: ignore[union-attr]
    workspace.log_metric("a" * 32, "loss", 1.0, step=1)
    found = workspace.search_runs(None, "min(metrics.loss) < 2", output_format="list", profile="extended")
    assert [r.info.run_id for r in found] == ["a" * 32]


# -- the command line, on stores MLflow wrote ------------------------------------------------------

DONE_FILTER = "min(metrics.val_loss) < 0.3 AND attributes.start_time >= '2026-11-01'"
DONE_ORDER = "max(metrics.accuracy) DESC"


def _write_done_store(uri: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.create_experiment("e")
    for i in range(6):
        run = client.create_run(
            experiment, start_time=1_793_491_200_000 + (i - 2) * 86_400_000, run_name=f"run{i}"
        )
        for step in range(5):
            loss = 1.0 / (step + 1 + i) + (0.1 if step == 4 else 0.0)
            client.log_metric(run.info.run_id, "val_loss", loss, step=step, timestamp=1000 + step)
            client.log_metric(run.info.run_id, "accuracy", step * i / 30.0, step=step, timestamp=1000 + step)
        if i == 3:  # a NaN latest value: metrics.val_loss is NaN, min() is not
            client.log_metric(run.info.run_id, "val_loss", math.nan, step=9, timestamp=2000)
        client.set_terminated(run.info.run_id)


def test_the_command_line_answers_on_an_mlruns_folder_and_in_sql(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import subprocess
    import sys

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    folder, database = tmp_path / "mlruns", tmp_path / "mlflow.db"
    _write_done_store(folder.as_uri())
    _write_done_store(f"sqlite:///{database}")
    env = {**os.environ, "COLUMNS": "200"}
    for source in ([str(folder)], [str(database)], [str(database), "--load"]):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "runql",
                "runs",
                "--source",
                *source,
                "-e",
                "e",
                "--profile",
                "extended",
                "--filter",
                DONE_FILTER,
                "--order-by",
                DONE_ORDER,
                "--columns",
                "run_name",
                "--format",
                "csv",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["run_name", "run5", "run4", "run3", "run2"], (source, done.stdout)
    checked = subprocess.run(
        [sys.executable, "-m", "runql", "check", DONE_FILTER, "--order-by", DONE_ORDER],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert checked.returncode == 1
    assert (
        checked.stdout.count("[unsupported-aggregate]") + checked.stderr.count("[unsupported-aggregate]") == 2
    )


def test_runs_without_histories_are_refused_clearly() -> None:
    # mlflow.entities.Run holds the latest values only: a function of a history cannot be computed.
    from runql.testing.mlflow_oracle import to_mlflow_run

    run = to_mlflow_run(run_from_record({"run_id": "b" * 32, "start_time": 1, "metrics": {"loss": 0.5}}))
    compiled = runql.profiles.compiled.compile_quietly("min(metrics.loss) < 1", profile="extended")
    with pytest.raises(runql.errors.EvaluationError) as caught:
        compiled.search([run])
    assert caught.value.code == "unsupported-aggregate"
    assert "^" in str(caught.value)
    plain = runql.profiles.compiled.compile_quietly("last(metrics.loss) < 1", profile="extended")
    assert [r.info.run_id for r in plain.search([run])[0]] == ["b" * 32]
