"""runql.connect: searches answered in SQL on databases MLflow wrote, on SQLite and on PostgreSQL.

The reference is runql's reference evaluator over the same runs read back whole (``from_mlflow_db``);
for the mlflow profile, MLflow's own ``MlflowClient.search_runs`` on the same database too. Queries
and runs are generated with a fixed seed (no test depends on a lucky draw).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import strategies as st
from support.mlflow_stores import log_with_mlflow
from support.rlike_cases import CATASTROPHIC, RLIKE_KEYS, RLIKE_PATTERNS, rlike_records

import runql
from runql import Compare, Entity, In, Key, Literal, Op
from runql.model.entities import LifecycleStage, Run
from runql.model.paging import parse_page_token
from runql.stores.sql import SqlStore
from runql.testing.conformance import examples
from runql.testing.strategies import DEFAULT_VOCABULARY, Vocabulary, queries, runs

COUNT = int(os.environ.get("RUNQL_SQL_EXAMPLES", "150"))
SEED = 20261129
BACKENDS = ("sqlite", "postgresql")


@dataclass
class Database:
    url: str
    store: runql.stores.sql.SqlStore
    reference: runql.Workspace
    experiments: list[str]  # one per generated workspace
    vocabulary: Vocabulary  # what the runs and the queries are drawn from

    def runs_of(self, experiment_id: str, view: str = "active") -> list[Run]:
        stages = {"active": {LifecycleStage.ACTIVE}, "all": {LifecycleStage.ACTIVE, LifecycleStage.DELETED}}
        return [
            r
            for r in self.reference.runs
            if r.info.experiment_id == experiment_id and r.info.lifecycle_stage in stages[view]
        ]


def _database(
    request: pytest.FixtureRequest, vocabulary: Vocabulary, backend: str | None = None
) -> Iterator[Database]:
    """Generated runs in three experiments, logged by MLflow into a new database of the backend (the
    fixture's parameter unless given)."""
    backend = backend or request.param
    make = request.getfixturevalue("new_sqlite_database" if backend == "sqlite" else "new_postgres_database")
    url = make(mlflow_schema=True)
    experiments = []
    for index, generated in enumerate(examples(runs(vocabulary, min_size=8, max_size=14), 3, SEED)):
        for run in generated:
            run.info.experiment_id = f"w{index}"
        described = [{"experiment_id": f"w{index}", "name": f"workspace {index}"}]
        experiments.append(log_with_mlflow(url, generated, described).experiments[f"w{index}"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = runql.from_mlflow_db(url)
    store = runql.connect(url)
    yield Database(url, store, reference, experiments, vocabulary)
    store.close()


def _ascii_case(vocabulary: Vocabulary) -> Vocabulary:
    """Without letters whose case only Unicode folds: ILIKE on PostgreSQL folds case as the database's
    locale does, and the test server's is C (docs/compatibility.md, ``postgres-ilike``)."""

    def folds_alike(text: str) -> bool:
        return all(c.isascii() or c.lower() == c.upper() for c in text)

    return replace(
        vocabulary,
        texts=tuple(filter(folds_alike, vocabulary.texts)),
        run_names=tuple(filter(folds_alike, vocabulary.run_names)),
        users=tuple(filter(folds_alike, vocabulary.users)),
        dataset_names=tuple(filter(folds_alike, vocabulary.dataset_names)),
        contexts=tuple(filter(folds_alike, vocabulary.contexts)),
    )


@pytest.fixture(scope="module", params=BACKENDS)
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    vocabulary = DEFAULT_VOCABULARY if request.param == "sqlite" else _ascii_case(DEFAULT_VOCABULARY)
    yield from _database(request, vocabulary)


@pytest.fixture(scope="module", params=[(b, v) for v in ("full", "parting") for b in BACKENDS], ids="-".join)
def mlflow_database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """Runs of the whole vocabulary, or of the values alone on which MLflow's SQL store and its in-memory
    search part (newlines, non-ASCII case, backslashes): the mlflow profile answers as that store does."""
    backend, drawn = request.param
    vocabulary = DEFAULT_VOCABULARY if drawn == "full" else DEFAULT_VOCABULARY.where_stores_part()
    yield from _database(request, vocabulary, backend)


def _cases(database: Database, profile: str) -> list[tuple[int, runql.Query, int]]:
    cases = []
    for index, experiment_id in enumerate(database.experiments):
        rows = database.runs_of(experiment_id)
        strategy = st.tuples(
            queries(profile, "runs", database.vocabulary, rows), st.sampled_from([1, 3, 1000])
        )
        for query, page in examples(strategy, COUNT // len(database.experiments), SEED + index):
            cases.append((index, query, page))
    return cases


def _ids(runs_: list[Any]) -> list[str]:
    return [r.info.run_id for r in runs_]


# The mlflow profile's reference on a database is MLflow's SQL store there (the next test).
@pytest.mark.parametrize("profile", ["azureml", "extended"])
def test_pages_equal_the_reference_evaluator(database: Database, profile: str) -> None:
    for index, query, page in _cases(database, profile):
        experiment_id = database.experiments[index]
        text, order_by = query.filter_string, list(query.order_by_strings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = runql.profiles.compiled.compile_quietly(text, order_by, profile=profile)
            expected, expected_token = compiled.search(database.runs_of(experiment_id), page)
            found, token = database.store.search_runs_paged(
                [experiment_id], text, max_results=page, order_by=order_by, profile=profile
            )
        assert _ids(found) == _ids(expected), (text, order_by, page)
        assert token == expected_token, (text, order_by, page)
        if token is not None:  # the next page continues where this one ended
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rest, _ = database.store.search_runs_paged(
                    [experiment_id],
                    text,
                    order_by=order_by,
                    page_token=token,
                    max_results=None,
                    profile=profile,
                )
                expected_rest, _ = compiled.search(database.runs_of(experiment_id), None, token)
            assert _ids(rest) == _ids(expected_rest)


def test_pages_equal_mlflows_sql_store(mlflow_database: Database) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    database = mlflow_database
    client = MlflowClient(tracking_uri=database.url)
    refused = 0
    for index, experiment_id in enumerate(database.experiments):
        rows = database.runs_of(experiment_id)
        strategy = st.tuples(queries("mlflow", "runs", database.vocabulary, rows), st.sampled_from([2, 1000]))
        for query, page in examples(strategy, COUNT // len(database.experiments), SEED + 7 + index):
            text, order_by = query.filter_string, list(query.order_by_strings)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    theirs = client.search_runs([experiment_id], text, order_by=order_by, max_results=page)
                except MlflowException:  # a pattern PostgreSQL refuses (a lone backslash at its end)
                    with pytest.raises(runql.EvaluationError, match="lone backslash"):
                        database.store.search_runs_paged([experiment_id], text, order_by=order_by)
                    refused += 1
                    continue
                mine, token = database.store.search_runs_paged(
                    [experiment_id], text, order_by=order_by, max_results=page
                )
            assert _ids(mine) == _ids(theirs), (text, order_by)
            assert parse_page_token(token) == parse_page_token(theirs.token), (text, order_by)
    assert refused == 0 or database.store.dialect == "postgresql"


def test_dataframe_equals_the_loaded_workspace(database: Database) -> None:
    for experiment_id in database.experiments:
        mine = database.store.search_runs([experiment_id], order_by=["metrics.acc DESC"])
        theirs = database.reference.search_runs([experiment_id], order_by=["metrics.acc DESC"])
        assert list(mine.columns) == list(theirs.columns)
        assert mine.equals(theirs)


def test_reads_match_the_loaded_workspace(database: Database) -> None:
    store, reference = database.store, database.reference
    assert store.search_experiments(view_type="ALL") == reference.search_experiments(view_type="ALL")
    name = reference.get_experiment(database.experiments[0]).name
    assert store.get_experiment_by_name(name) == reference.get_experiment_by_name(name)
    assert store.get_experiment(database.experiments[0]) == reference.get_experiment(database.experiments[0])
    for run in reference.runs[:5]:
        found = store.get_run(run.info.run_id)
        assert (found.info, found.data.metrics, found.data.params, found.data.tags) == (
            run.info,
            run.data.metrics,
            run.data.params,
            run.data.tags,
        ) or _nan_equal(found, run)
        for key in run.data.metrics:
            mine = [(m.value, m.timestamp, m.step) for m in store.get_metric_history(run.info.run_id, key)]
            theirs = [
                (m.value, m.timestamp, m.step) for m in reference.get_metric_history(run.info.run_id, key)
            ]
            assert str(mine) == str(theirs)  # str: NaN equals NaN
    with pytest.raises(runql.NotFoundError):
        store.get_run("no-such-run")
    with pytest.raises(runql.NotFoundError):
        store.get_experiment("987654")


def _nan_equal(found: Run, run: Run) -> bool:
    return str(found.data.metrics) == str(run.data.metrics) and found.info == run.info


HOSTILE = [
    "'; DROP TABLE runs; --",
    "O'Brien",
    'say "hi"',
    "back\\slash",
    "50% off",
    "a_b",
    "%",
    "_",
    "x" * 10_000,
    "a\x00b",
    "\x00",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_bound_never_written_into_the_statement(database: Database, value: str) -> None:
    from runql.engines.sql import runs_select

    # Built as trees: the language has no escape for a quote inside a quoted value.
    filters = [
        Compare(Key(Entity.PARAM, "model"), Op.EQ, Literal(value)),
        Compare(Key(Entity.TAG, "team"), Op.LIKE, Literal(value)),
        In(Key(Entity.PARAM, "lr"), (Literal(value), Literal("a"))),
        Compare(Key(Entity.ATTRIBUTE, "run_name"), Op.ILIKE, Literal(f"%{value}%")),
        Compare(Key(Entity.TAG, "team"), Op.RLIKE, Literal(re.escape(value))),
    ]
    before = _counts(database.url)
    for expr in filters:
        compiled = runql.compile(expr, profile="extended")
        statement = runs_select(
            compiled,
            database.store.tables,
            database.store.dialect,
            experiment_ids=[int(database.experiments[0])],
            lifecycle_stages=["active"],
            distinct_values=lambda values: [value],  # what PostgreSQL's RLIKE would read
        )
        sql = statement.compile(database.store.engine)
        if len(value) > 3:  # short values such as "_" occur in any statement's own text
            assert value not in str(sql)
        if isinstance(expr, Compare) and expr.op is Op.EQ and "\x00" not in value:
            assert value in sql.params.values()
        found = database.store.search_runs_paged([database.experiments[0]], expr, profile="extended")[0]
        expected = compiled.search(database.runs_of(database.experiments[0]))[0]
        assert _ids(found) == _ids(expected)
    assert _counts(database.url) == before


RlikeDatabase = tuple[SqlStore, str, list[Run]]


@pytest.fixture(scope="module", params=BACKENDS)
def rlike_database(request: pytest.FixtureRequest) -> Iterator[RlikeDatabase]:
    make = request.getfixturevalue(
        "new_sqlite_database" if request.param == "sqlite" else "new_postgres_database"
    )
    url = make(mlflow_schema=True)
    written = log_with_mlflow(url, rlike_records(), [{"experiment_id": "r", "name": "patterns"}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs_ = list(runql.from_mlflow_db(url).runs)
    store = runql.connect(url)
    yield store, written.experiments["r"], runs_
    store.close()


@pytest.mark.parametrize("negated", [False, True])
def test_rlike_answers_as_pythons_re_search(rlike_database: RlikeDatabase, negated: bool) -> None:
    store, experiment_id, runs_ = rlike_database
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    operator = "NOT RLIKE" if negated else "RLIKE"
    for key, value_of in RLIKE_KEYS.items():
        for pattern in RLIKE_PATTERNS:
            text = f"{key} {operator} '{pattern}'"
            found = store.search_runs([experiment_id], text, profile="extended", output_format="list")
            held = [(r.info.run_id, v) for r in runs_ if (v := value_of(r)) is not None]
            matched = sorted(i for i, v in held if (re.search(pattern, v) is not None) != negated)
            assert sorted(_ids(found)) == matched, text
            assert _ids(found) == _ids(runql.compile(text, profile="extended").search(runs_)[0]), text
    assert not [s for s in statements if "~" in s or "REGEXP" in s.upper()]  # never the database's regex


def test_rlike_on_datasets_and_a_catastrophic_pattern(rlike_database: RlikeDatabase) -> None:
    store, experiment_id, runs_ = rlike_database
    for text, count in (
        ("datasets.name RLIKE '^(?:vision|nlp)-(?:2-)?train'", 2),
        ("datasets.context NOT RLIKE 'train'", 3),
        ("datasets.digest RLIKE '[3-5]'", 3),
        *CATASTROPHIC,
    ):
        found = store.search_runs([experiment_id], text, profile="extended", output_format="list")
        assert len(found) == count, text
        assert _ids(found) == _ids(runql.compile(text, profile="extended").search(runs_)[0]), text


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("runs", "params", "tags", "latest_metrics", "experiments")
            }
    finally:
        engine.dispose()


def test_extended_or_and_not_answer_in_sql(database: Database) -> None:
    experiment_id = database.experiments[0]
    text = "metrics.acc > 0.5 OR NOT params.model = 'a' OR tags.team IS NULL"
    found = database.store.search_runs_paged([experiment_id], text, profile="extended")[0]
    expected = runql.compile(text, profile="extended").search(database.runs_of(experiment_id))[0]
    assert _ids(found) == _ids(expected)
    with pytest.raises(runql.UnsupportedQueryError):
        database.store.search_runs_paged([experiment_id], text)  # the store's profile is mlflow's


def test_deleted_runs_and_views(database: Database) -> None:
    for experiment_id in database.experiments:
        for view in ("active", "all"):
            found = database.store.search_runs_paged(
                [experiment_id], "", run_view_type={"active": "ACTIVE_ONLY", "all": "ALL"}[view]
            )[0]
            expected = runql.compile("").search(database.runs_of(experiment_id, view))[0]
            assert _ids(found) == _ids(expected)


def test_a_database_missing_a_table_names_it(new_sqlite_database: Callable[..., str]) -> None:
    url = new_sqlite_database(mlflow_schema=True)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE latest_metrics")
    engine.dispose()
    with pytest.raises(runql.StoreError, match="latest_metrics") as caught:
        runql.connect(url)
    assert caught.value.code == "missing-table"


def test_an_older_schema_names_the_missing_column(new_sqlite_database: Callable[..., str]) -> None:
    url = new_sqlite_database(mlflow_schema=True)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:  # MLflow before 1.28 had no is_nan in latest_metrics
        connection.exec_driver_sql(
            "CREATE TABLE old AS SELECT key, value, timestamp, step, run_uuid FROM latest_metrics"
        )
        connection.exec_driver_sql("DROP TABLE latest_metrics")
        connection.exec_driver_sql("ALTER TABLE old RENAME TO latest_metrics")
    engine.dispose()
    with pytest.raises(runql.StoreError, match=r"latest_metrics.*is_nan"):
        runql.connect(url)


def test_a_database_that_is_not_mlflows(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE things (id INTEGER)")
    engine.dispose()
    with pytest.raises(runql.StoreError, match="experiments"):
        runql.connect(path)
    with pytest.raises(runql.StoreError, match="no such database file"):
        runql.connect(tmp_path / "missing.db")


def test_a_wrong_password_is_one_line_without_the_password(postgres_url: str) -> None:
    url = sa.make_url(postgres_url).set(password="not-the-password-4f2a")
    with pytest.raises(runql.StoreError) as caught:
        runql.connect(url.render_as_string(hide_password=False))
    message = str(caught.value)
    assert "not-the-password-4f2a" not in message
    assert "\n" not in message and "password" in message
    assert caught.value.code == "unreachable-store"


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    from support.services import free_port

    with pytest.raises(runql.StoreError) as caught:
        runql.connect(f"postgresql+psycopg2://someone:secret-77@127.0.0.1:{free_port()}/db")
    message = str(caught.value)
    assert "secret-77" not in message and "\n" not in message
    assert "127.0.0.1" in message


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_without_start_time_sorts_last(backend: str, request: pytest.FixtureRequest) -> None:
    make = request.getfixturevalue("new_sqlite_database" if backend == "sqlite" else "new_postgres_database")
    url = make(mlflow_schema=True)
    records = [
        {
            "run_id": f"r{i}",
            "run_name": f"r{i}",
            "user_id": "ann",
            "start_time": 1000 + i,
            "experiment_id": "e",
        }
        for i in range(3)
    ]
    written = log_with_mlflow(url, records, [{"experiment_id": "e", "name": "e"}])
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE runs SET start_time = NULL WHERE run_uuid = :r"), {"r": written.runs["r2"]}
        )
    engine.dispose()
    with runql.connect(url) as store:
        found = store.search_runs_paged([written.experiments["e"]])[0]
    assert _ids(found) == [written.runs["r1"], written.runs["r0"], written.runs["r2"]]


def test_each_call_reads_in_one_read_only_transaction(database: Database) -> None:
    with database.store._reading() as connection:
        if database.store.dialect == "postgresql":
            assert connection.exec_driver_sql("SHOW transaction_read_only").scalar() == "on"
            assert connection.exec_driver_sql("SHOW transaction_isolation").scalar() == "repeatable read"
        else:  # the file is opened read-only, and the transaction begins before the first statement
            assert connection.connection.dbapi_connection.in_transaction
        with pytest.raises(sa.exc.DBAPIError):
            connection.exec_driver_sql("DELETE FROM runs")


def test_a_schema_maps_tables_and_columns_named_otherwise(new_sqlite_database: Callable[..., str]) -> None:
    from runql.engines.sql import Schema

    url = new_sqlite_database(mlflow_schema=True)
    records = [
        {
            "run_id": f"r{i}",
            "run_name": f"r{i}",
            "user_id": "ann",
            "start_time": i,
            "experiment_id": "e",
            "params": {"model": "xgb" if i % 2 else "lr"},
            "tags": {"team": "a"},
        }
        for i in range(4)
    ]
    written = log_with_mlflow(url, records, [{"experiment_id": "e", "name": "e"}])
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE tags RENAME TO run_tags")
        connection.exec_driver_sql("ALTER TABLE params RENAME COLUMN value TO param_value")
    engine.dispose()
    with pytest.raises(runql.StoreError, match="'params' lacks column value"):
        runql.connect(url)
    schema = Schema(tables={"tags": "run_tags"}, columns={("params", "value"): "param_value"})
    with runql.connect(url, schema=schema) as store:
        found = store.search_runs_paged(
            [written.experiments["e"]], "params.model = 'xgb' AND tags.team = 'a'"
        )[0]
        assert _ids(found) == [written.runs["r3"], written.runs["r1"]]
        assert found[0].data.params == {"model": "xgb"} and found[0].data.tags["team"] == "a"


def test_a_key_no_run_has_is_warned_of_in_sql_too(database: Database) -> None:
    experiment_id = database.experiments[0]
    with pytest.warns(runql.QueryWarning, match="no run in the searched experiments has a param 'no such'"):
        found, _ = database.store.search_runs_paged([experiment_id], "params.`no such` = 'x'")
    assert found == []


@pytest.mark.parametrize(
    "text",
    [
        "metrics.m1 < 1" + "0" * 400,
        "attributes.start_time < 1" + "0" * 400,
        "attributes.start_time > -1" + "0" * 30,
        "attributes.end_time != 1" + "0" * 30,
    ],
)
def test_integers_longer_than_the_databases_hold(database: Database, text: str) -> None:
    experiment_id = database.experiments[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found, _ = database.store.search_runs_paged([experiment_id], text, max_results=1000)
    expected = runql.compile(text).search(database.runs_of(experiment_id))[0]
    assert _ids(found) == _ids(expected)
