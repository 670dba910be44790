"""The test infrastructure for SQL on MLflow's tracking database: servers, fresh databases, and
databases MLflow writes from run records.

1. The session's PostgreSQL server answers on the fixture's URL; fresh databases are new, empty and
   dropped afterwards; SQLite URLs name a file not yet made.
2. ``write_with_mlflow`` logs records into SQLite and PostgreSQL with MLflow's own store, and
   ``runql.from_mlflow_db`` reads back every run with its params, tags, histories and latest metrics
   (NaN kept, infinities as MLflow stores them), dataset inputs, and the deleted runs deleted.
3. Generated runs (``runql.testing.strategies``) survive the same round trip.
4. The benchmark's bulk-loaded databases (tests/benchmarks/mlflow_db.py) hold the benchmark records:
   runql reads them back, MLflow's own search answers on them as on the records, and a built SQLite
   file is cached.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")
sa = pytest.importorskip("sqlalchemy")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from support.mlflow_stores import experiment_ids, log_with_mlflow, write_with_mlflow  # noqa: E402

from runql import Workspace, from_mlflow_db  # noqa: E402
from runql import strategies as rst  # noqa: E402
from runql.model.entities import Run  # noqa: E402
from runql.model.records import run_from_record  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
import mlflow_db  # noqa: E402

T0 = 1_700_000_000_000

EXPERIMENTS = [
    {"experiment_id": "0", "name": "Default", "tags": {"team": "core"}},
    {"experiment_id": "7", "name": "vision", "tags": {"team": "vision", "cost center": "42"}},
    {"experiment_id": "9", "name": "retired", "lifecycle_stage": "deleted"},
]

RECORDS: list[dict[str, Any]] = [
    {
        "run_id": "a",
        "experiment_id": "7",
        "run_name": "alpha",
        "user_id": "ann",
        "status": "FINISHED",
        "start_time": T0,
        "end_time": T0 + 5000,
        "params": {"lr": "0.1", "model": "xgb", "empty": ""},
        "tags": {"team": "vision", "note": "O'Brien's 50% run"},
        "metrics": {
            # Logged out of step order: the latest is the highest step, not the last logged point.
            "loss": [
                {"value": 0.9, "step": 0, "timestamp": T0},
                {"value": 0.2, "step": 2, "timestamp": T0 + 2},
                {"value": 0.5, "step": 1, "timestamp": T0 + 3},
            ],
            # A tie on step and timestamp: the greater value is the latest.
            "acc": [{"value": 0.7, "step": 1, "timestamp": T0}, {"value": 0.8, "step": 1, "timestamp": T0}],
            "nan": math.nan,
            "up": math.inf,
            "down": -math.inf,
        },
        "inputs": [
            {"dataset": {"name": "train", "digest": "d1"}, "tags": {"mlflow.data.context": "training"}},
            {"dataset": {"name": "eval", "digest": "d2"}, "tags": {}},
        ],
    },
    {
        "run_id": "b",
        "experiment_id": "7",
        "user_id": "bob",
        "status": "RUNNING",
        "start_time": T0 + 1000,
        "tags": {"mlflow.runName": "named by tag"},
        # NaN as the latest point of a history: the NaN must survive, not read back as 0.
        "metrics": {"loss": [{"value": 1.0, "step": 0, "timestamp": T0}, {"value": "NaN", "step": 3}]},
    },
    {
        "run_id": "c",
        "experiment_id": "0",
        "run_name": "gone",
        "user_id": "ann",
        "status": "FAILED",
        "start_time": T0 + 2000,
        "end_time": T0 + 3000,
        "lifecycle_stage": "deleted",
        "params": {"lr": "0.2"},
        "metrics": {"loss": 0.3},
    },
    {
        "run_id": "d",
        "experiment_id": "9",
        "run_name": "in a deleted experiment",
        "user_id": "cy",
        "status": "KILLED",
        "start_time": T0 + 3000,
        "end_time": T0 + 4000,
        "params": {f"p{i}": str(i) for i in range(150)},  # more than one log_batch holds
    },
]


def _stored(value: float) -> float:
    # MLflow's SQL store keeps an infinite metric as the largest finite float.
    return math.copysign(sys.float_info.max, value) if math.isinf(value) else value


def _same_number(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _comparable(value: float) -> float | str:
    # NaN is unequal to itself, so points holding it would never compare equal in a set.
    return "NaN" if math.isnan(value) else value


def _assert_read_back(
    url: str, runs: list[Run], ids: dict[str, str], deleted_experiments: frozenset[str] = frozenset()
) -> None:
    """Every run MLflow was given is in the database as given, as runql's database reader sees it."""
    workspace = from_mlflow_db(url)
    assert sorted(r.info.run_id for r in workspace.runs) == sorted(ids.values())
    for given_run in runs:
        back = workspace.get_run(ids[given_run.info.run_id])
        info, given_info = back.info, given_run.info
        # Deleting an experiment deletes its runs.
        deleted = given_info.lifecycle_stage == "deleted" or given_info.experiment_id in deleted_experiments
        assert (info.user_id, info.status, info.start_time, info.end_time, info.lifecycle_stage) == (
            given_info.user_id,
            given_info.status,
            given_info.start_time,
            given_info.end_time,
            "deleted" if deleted else "active",
        )
        if given_info.run_name:
            assert info.run_name == given_run.data.tags.get("mlflow.runName", given_info.run_name)
        assert back.data.params == given_run.data.params
        # MLflow adds the mlflow.runName tag; every tag given is there as given.
        assert {k: back.data.tags.get(k) for k in given_run.data.tags} == given_run.data.tags
        assert set(back.data.metrics) == set(given_run.data.metrics)
        for key, value in given_run.data.metrics.items():
            assert _same_number(back.data.metrics[key], _stored(value)), (key, back.data.metrics[key], value)
            # A point logged twice is stored once.
            logged = {
                (p.step, p.timestamp, _comparable(_stored(p.value)))
                for p in given_run.data.history(key, given_info.start_time or 0)
            }
            history = workspace.get_metric_history(info.run_id, key)
            assert len(history) == len(logged)
            assert {(p.step, p.timestamp, _comparable(p.value)) for p in history} == logged
        # A dataset given twice to a run is kept once, with the first input's tags.
        given_inputs: dict[tuple[str, str], str | None] = {}
        for item in given_run.inputs.dataset_inputs:
            given_inputs.setdefault((item.dataset.name, item.dataset.digest), item.context)
        read_inputs = {(d.dataset.name, d.dataset.digest): d.context for d in back.inputs.dataset_inputs}
        assert len(read_inputs) == len(back.inputs.dataset_inputs)
        assert read_inputs == given_inputs


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest) -> str:
    """A database without MLflow's schema on each engine: write_with_mlflow creates it."""
    fixture = "fresh_sqlite_url" if request.param == "sqlite" else "fresh_postgres_database"
    url: str = request.getfixturevalue(fixture)
    return url


# -- servers and databases ------------------------------------------------------------------------


def test_postgres_server_answers(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            version = connection.execute(sa.text("SELECT version()")).scalar()
    finally:
        engine.dispose()
    assert str(version).startswith("PostgreSQL ")


def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return sorted(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _databases(postgres_url: str) -> set[str]:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(sa.text("SELECT datname FROM pg_database")).scalars())
    finally:
        engine.dispose()


def test_missing_postgres_skips_here_and_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from support import services

    monkeypatch.setattr(services, "postgres_bin_dir", lambda: None)
    monkeypatch.delenv(services.POSTGRES_URL_VARIABLE, raising=False)
    with pytest.raises(services.PostgresUnavailable) as missing, services.postgres_server():
        pass
    assert str(missing.value) == "PostgreSQL is not installed: `bash .ci/run` installs it"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"bash \.ci/run"):
        services.postgres_unavailable(str(missing.value))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"bash \.ci/run"):
        services.postgres_unavailable(str(missing.value))


def test_fresh_postgres_databases_are_new_empty_and_dropped(
    postgres_url: str, new_postgres_database: Callable[..., str], postgres_server: Any
) -> None:
    first, second = new_postgres_database(), new_postgres_database()
    names = {sa.make_url(first).database, sa.make_url(second).database}
    assert len(names) == 2 and sa.make_url(postgres_url).database not in names
    assert names <= _databases(postgres_url)
    assert _tables(first) == []
    postgres_server.drop_database(first)
    postgres_server.drop_database(second)
    assert not names & _databases(postgres_url)


def test_fresh_postgres_database_fixture(fresh_postgres_database: str, postgres_url: str) -> None:
    assert sa.make_url(fresh_postgres_database).database in _databases(postgres_url)
    assert _tables(fresh_postgres_database) == []


def test_fresh_sqlite_url_names_a_file_not_yet_made(fresh_sqlite_url: str, tmp_path: Path) -> None:
    path = Path(fresh_sqlite_url.removeprefix("sqlite:///"))
    assert path.parent == tmp_path.resolve() and not path.exists()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_databases_with_mlflow_schema_are_separate_copies(kind: str, request: pytest.FixtureRequest) -> None:
    fixture = "fresh_mlflow_sqlite_url" if kind == "sqlite" else "fresh_mlflow_postgres_database"
    factory = request.getfixturevalue("new_sqlite_database" if kind == "sqlite" else "new_postgres_database")
    first, second = request.getfixturevalue(fixture), factory(mlflow_schema=True)
    assert first != second
    assert {"experiments", "runs", "metrics", "latest_metrics", "params", "tags"} <= set(_tables(first))
    client = MlflowClient(tracking_uri=first)
    client.create_experiment("only in the first")
    assert len(MlflowClient(tracking_uri=second).search_experiments()) == 1  # Default alone
    assert "only in the first" in {e.name for e in client.search_experiments()}


# -- writing with MLflow --------------------------------------------------------------------------


def test_write_with_mlflow_reads_back(empty_database: str) -> None:
    written = log_with_mlflow(empty_database, RECORDS, EXPERIMENTS)
    assert set(written.runs) == {"a", "b", "c", "d"}
    assert len(set(written.runs.values())) == 4 and not set(written.runs.values()) & set(written.runs)
    assert written.experiments["0"] == "0"
    assert sorted(experiment_ids(empty_database), key=int) == sorted(written.experiments.values(), key=int)
    runs = [run_from_record(record) for record in RECORDS]
    _assert_read_back(empty_database, runs, written.runs, deleted_experiments=frozenset({"9"}))

    workspace = from_mlflow_db(empty_database)
    by_record = {key: workspace.get_run(value) for key, value in written.runs.items()}
    assert by_record["a"].data.metrics["loss"] == 0.2
    assert by_record["a"].data.metrics["acc"] == 0.8
    assert math.isnan(by_record["a"].data.metrics["nan"])
    assert math.isnan(by_record["b"].data.metrics["loss"])
    assert by_record["b"].info.run_name == "named by tag"
    stages = {key: run.info.lifecycle_stage for key, run in by_record.items()}
    assert stages == {"a": "active", "b": "active", "c": "deleted", "d": "deleted"}
    experiments = {e.experiment_id: e for e in workspace.experiments}
    assert experiments[written.experiments["7"]].tags == {"team": "vision", "cost center": "42"}
    assert experiments[written.experiments["0"]].tags == {"team": "core"}
    assert experiments[written.experiments["9"]].lifecycle_stage == "deleted"
    assert by_record["d"].info.experiment_id == written.experiments["9"]


def test_mlflow_searches_what_it_wrote(fresh_mlflow_sqlite_url: str) -> None:
    written = log_with_mlflow(fresh_mlflow_sqlite_url, RECORDS, EXPERIMENTS)
    client = MlflowClient(tracking_uri=fresh_mlflow_sqlite_url)
    found = client.search_runs([written.experiments["7"]], "metrics.loss < 0.5", order_by=["metrics.loss"])
    assert [r.info.run_id for r in found] == [written.runs["a"]]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_generated_runs_read_back(kind: str, request: pytest.FixtureRequest) -> None:
    factory = request.getfixturevalue("new_sqlite_database" if kind == "sqlite" else "new_postgres_database")
    # A store-safe vocabulary: MLflow's store cannot keep an empty run name, and a NaN point that ties
    # on step and timestamp with another makes MLflow's latest value depend on the stored 0.
    vocabulary = rst.DEFAULT_VOCABULARY.store_safe()

    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rst.runs(vocabulary, min_size=1, max_size=6, experiment_ids=("0", "3")))
    def round_trip(runs: list[Run]) -> None:
        url = factory(mlflow_schema=True)
        _assert_read_back(url, runs, write_with_mlflow(url, runs))

    round_trip()


# -- the benchmark's databases --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_benchmark_database_holds_the_records(kind: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(
        "fresh_mlflow_sqlite_url" if kind == "sqlite" else "fresh_mlflow_postgres_database"
    )
    records = mlflow_db.benchmark_records(300)
    mlflow_db.fill(url, records)
    # What the database must hold: the records, in MLflow's experiment numbering.
    expected = Workspace.from_records(
        runs=[{**r, "experiment_id": mlflow_db.EXPERIMENT_IDS[r["experiment_id"]]} for r in records]
    )
    assert any(math.isnan(v) for r in expected.runs for v in r.data.metrics.values())
    assert any(r.inputs.dataset_inputs for r in expected.runs)
    workspace = from_mlflow_db(url)
    assert len(workspace.runs) == len(records)
    for run in expected.runs:
        back = workspace.get_run(run.info.run_id)
        assert back.info == run.info
        assert (back.data.params, back.data.tags) == (run.data.params, run.data.tags)
        assert {k: _comparable(v) for k, v in back.data.metrics.items()} == {
            k: _comparable(v) for k, v in run.data.metrics.items()
        }
        assert sorted((d.dataset.name, d.context) for d in back.inputs.dataset_inputs) == sorted(
            (d.dataset.name, d.context) for d in run.inputs.dataset_inputs
        )
    names = {e.experiment_id: e.name for e in workspace.experiments}
    assert names == {
        number: name if number != "0" else "Default" for name, number in mlflow_db.EXPERIMENT_IDS.items()
    }

    client = MlflowClient(tracking_uri=url)
    everywhere = list(mlflow_db.EXPERIMENT_IDS.values())
    for filter_string in (
        "metrics.auc > 0.8 AND params.model = 'xgb'",
        "datasets.name = 'train' AND datasets.context = 'training'",
    ):
        found = client.search_runs(everywhere, filter_string, order_by=["metrics.auc DESC"], max_results=1000)
        answer = expected.search_runs(
            experiment_ids=everywhere,
            filter_string=filter_string,
            order_by=["metrics.auc DESC"],
            max_results=1000,
        )
        assert len(found) > 0
        assert [r.info.run_id for r in found] == list(answer["run_id"])


def test_benchmark_sqlite_file_is_built_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(mlflow_db.CACHE_VARIABLE, str(tmp_path))
    url = mlflow_db.build_sqlite(40)
    path = Path(url.removeprefix("sqlite:///"))
    built = path.stat().st_mtime_ns
    assert mlflow_db.build_sqlite(40) == url
    assert path.stat().st_mtime_ns == built
    assert list(tmp_path.iterdir()) == [path]  # no partial file left behind
    assert len(from_mlflow_db(url).runs) == 40
