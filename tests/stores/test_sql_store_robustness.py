"""runql.connect on a tracking database given what a caller or a database should not give it: many threads
at once, experiment ids MLflow never writes, rows of the wrong type, damaged files, a database in WAL mode,
and a missing driver. Each answer is a runql error with a code (docs/errors.md), or the right answer; never
a foreign exception, never a wrong answer. On SQLite and on PostgreSQL wherever the database can hold it.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from support.mlflow_stores import log_with_mlflow

import runql
from runql.model.entities import Run
from runql.stores.sql import SqlStore

BACKENDS = ("sqlite", "postgresql")


def _records() -> list[dict[str, Any]]:
    """Three runs of one experiment, with a metric's history, a param, a tag and a dataset input each."""
    return [
        {
            "run_id": f"r{i}",
            "run_name": f"r{i}",
            "experiment_id": "e",
            "user_id": "ann",
            "start_time": 1_700_000_000_000 + i,
            "metrics": {
                "m": [
                    {"value": i / 10, "step": 0, "timestamp": 1},
                    {"value": i / 5, "step": 1, "timestamp": 2},
                ]
            },
            "params": {"a": f"p{i}"},
            "tags": {"t": f"t{i}"},
            "inputs": [
                {"dataset": {"name": f"data{i}", "digest": f"d{i}"}, "tags": {"mlflow.data.context": "x"}}
            ],
        }
        for i in range(3)
    ]


@dataclass(frozen=True)
class Stored:
    """A database MLflow wrote the runs of :func:`_records` into; ``runs`` are their ids, r0 to r2."""

    backend: str
    url: str
    experiment: str
    runs: list[str]


def _store(url: str) -> Stored:
    written = log_with_mlflow(url, _records(), [{"experiment_id": "e", "name": "hostile"}])
    backend = sa.make_url(url).get_backend_name()
    return Stored(backend, url, written.experiments["e"], [written.runs[f"r{i}"] for i in range(3)])


@pytest.fixture(scope="module")
def sqlite_stored(new_sqlite_database: Callable[..., str]) -> Stored:
    return _store(new_sqlite_database(mlflow_schema=True))


@pytest.fixture(scope="module")
def postgres_stored(new_postgres_database: Callable[..., str]) -> Stored:
    return _store(new_postgres_database(mlflow_schema=True))


STORED = {"sqlite": "sqlite_stored", "postgresql": "postgres_stored"}


@pytest.fixture(params=BACKENDS)
def stored(request: pytest.FixtureRequest) -> Stored:
    found: Stored = request.getfixturevalue(STORED[request.param])
    return found


@pytest.fixture
def copy_of(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Stored], str]:
    """``copy_of(stored)``: the URL of a new copy of the database, for a test to damage."""

    def copy(stored: Stored) -> str:
        if stored.backend == "sqlite":
            path = tmp_path / "copy.db"
            shutil.copyfile(sa.make_url(stored.url).database or "", path)
            return f"sqlite:///{path}"
        server = request.getfixturevalue("postgres_server")
        url: str = server.create_database(template=stored.url)
        return url

    return copy


def _execute(url: str, *statements: str, **values: Any) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement), values)
    finally:
        engine.dispose()


def _ids(runs: list[Run]) -> list[str]:
    return [run.info.run_id for run in runs]


# -- threads ---------------------------------------------------------------------------------------


def _answers(store: SqlStore, stored: Stored) -> list[Any]:
    """What a thread asks the store, and compares with the answers of one thread alone."""
    return [
        _ids(
            store.search_runs(
                [stored.experiment], "params.a != 'p1'", order_by=["metrics.m"], output_format="list"
            )
        ),
        store.search_runs_paged([stored.experiment], max_results=2)[1],
        store.get_run(stored.runs[1]).data.params,
        [point.value for point in store.get_metric_history(stored.runs[2], "m")],
        [experiment.name for experiment in store.search_experiments()],
    ]


def test_forty_threads_share_a_store_whose_pool_is_smaller(stored: Stored) -> None:
    # Forty threads take turns at two connections. The timeout is far beyond any wait here: a call
    # that waited for it would be a store that never frees its connections.
    with runql.connect(stored.url, pool_size=2, max_overflow=0, pool_timeout=600) as store:
        expected = _answers(store, stored)
        start = threading.Barrier(40)
        found: list[Any] = []
        failures: list[BaseException] = []

        def work() -> None:
            start.wait()
            try:
                for _ in range(5):
                    found.append(_answers(store, stored))
            except BaseException as error:  # reported by the main thread
                failures.append(error)

        threads = [threading.Thread(target=work) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    assert found == [expected] * 200


def test_a_call_that_waits_past_pool_timeout_is_refused_as_busy(stored: Stored) -> None:
    holding, release = threading.Event(), threading.Event()
    store = runql.connect(stored.url, pool_size=1, max_overflow=0, pool_timeout=0.05)
    assert isinstance(store, SqlStore)

    def hold(*_: Any) -> None:  # keeps the only connection busy until the main thread is done
        if threading.current_thread() is holder:
            holding.set()
            release.wait()

    held: list[list[str]] = []
    holder = threading.Thread(
        target=lambda: held.append(_ids(store.search_runs([stored.experiment], output_format="list")))
    )
    sa.event.listen(store.engine, "before_cursor_execute", hold)
    with store:
        holder.start()
        try:
            assert holding.wait(timeout=60), "the holding thread never read"
            with pytest.raises(runql.StoreError) as caught:
                store.search_runs([stored.experiment])
        finally:
            release.set()
            holder.join()
        assert caught.value.code == "store-busy"
        message = str(caught.value)
        assert "pool_size" in message and "pool_timeout" in message and "\n" not in message
        assert held == [stored.runs[::-1]]  # the call that held the connection answered
        assert len(store.search_runs([stored.experiment])) == 3  # and the pool serves again


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("pool_size", 0),
        ("pool_size", 2.5),
        ("pool_size", True),
        ("pool_size", "5"),
        ("max_overflow", -1),
        ("pool_timeout", 0),
        ("pool_timeout", -1.0),
        ("pool_timeout", float("nan")),
        ("pool_timeout", float("inf")),
        ("pool_timeout", "30"),
    ],
)
def test_a_pool_that_cannot_be_is_refused(argument: str, value: Any, tmp_path: Path) -> None:
    with pytest.raises(runql.ArgumentError) as caught:
        runql.connect(tmp_path / "never-opened.db", **{argument: value})
    assert caught.value.code == "bad-pool-size" and caught.value.where == argument


def test_a_tracking_server_has_no_pool() -> None:
    with pytest.raises(TypeError, match="pool"):
        runql.connect("http://127.0.0.1:1", pool_size=2)  # refused before any request


# -- experiment ids --------------------------------------------------------------------------------


def _odd_ids(experiment_id: str) -> list[str]:
    """Ids that int() or a database might read as ``experiment_id``, or that overflow BIGINT."""
    arabic = experiment_id.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    fullwidth = experiment_id.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return [
        arabic,
        fullwidth,
        f"0{experiment_id}",
        f"+{experiment_id}",
        f" {experiment_id}",
        f"{experiment_id} ",
        f"{experiment_id}\n",
        f"{experiment_id}_0",
        f"-{experiment_id}",
        f"--{experiment_id}",
        f"{experiment_id}.0",
        "-0",
        "²",
        "99999999999999999999",
        str(2**63),
        str(-(2**63) - 1),
        "abc",
        "",
    ]


def test_an_experiment_id_names_an_experiment_only_as_mlflow_writes_it(stored: Stored) -> None:
    every = sorted(stored.runs)
    with runql.connect(stored.url) as store:
        assert sorted(_ids(store.search_runs([stored.experiment], output_format="list"))) == every
        no_keys = store.key_sets([], ["active"])
        for odd in _odd_ids(stored.experiment):
            assert store.search_runs([odd], output_format="list") == [], repr(odd)
            assert store.search_runs_paged([odd]) == ([], None), repr(odd)
            both = store.search_runs([stored.experiment, odd], output_format="list")
            assert sorted(_ids(both)) == every, repr(odd)
            assert store.key_sets([odd], ["active"]) == no_keys, repr(odd)
            with pytest.raises(runql.NotFoundError):
                store.get_experiment(odd)
        # The largest and smallest BIGINT are ids like any other: no experiment has them.
        assert store.search_runs([str(2**63 - 1), str(-(2**63))], output_format="list") == []


# -- rows of the wrong type ------------------------------------------------------------------------


def _rebuilt_without_constraints(table: str) -> list[str]:
    """SQLite statements that make ``table`` a copy of itself without its NOT NULL and CHECK constraints."""
    return [
        f"CREATE TABLE copied AS SELECT * FROM {table}",
        f"DROP TABLE {table}",
        f"ALTER TABLE copied RENAME TO {table}",
    ]


def _dropped_constraints(table: str, kind: str) -> str:
    """A PostgreSQL statement that drops the constraints of ``table`` of ``kind`` ('c' for CHECK, 'p' for
    the primary key), whatever the migrations named them."""
    return (
        "DO $$ DECLARE name text; BEGIN FOR name IN SELECT conname FROM pg_constraint "
        f"WHERE conrelid = '{table}'::regclass AND contype = '{kind}' "
        f"LOOP EXECUTE 'ALTER TABLE {table} DROP CONSTRAINT ' || quote_ident(name); END LOOP; END $$"
    )


@dataclass(frozen=True)
class Damage:
    """Statements that put a row of the wrong type in ``table`` (``:run`` is run r1, ``:experiment`` the
    experiment), per backend; ``reads`` says which calls read the row: the run's, its metric history, or
    the experiments."""

    name: str
    table: str
    reads: str
    sqlite: tuple[str, ...] = ()
    postgresql: tuple[str, ...] = ()


NOT_UTF8 = "CAST(X'6180FF' AS TEXT)"  # 'a', then bytes no UTF-8 text holds

DAMAGES = [
    Damage(
        "a latest metric that is text",
        "latest_metrics",
        "run",
        sqlite=("UPDATE latest_metrics SET value = 'abc' WHERE run_uuid = :run",),
    ),
    Damage(
        "a latest metric that is NULL",
        "latest_metrics",
        "run",
        sqlite=(
            *_rebuilt_without_constraints("latest_metrics"),
            "UPDATE latest_metrics SET value = NULL WHERE run_uuid = :run",
        ),
        postgresql=(
            "ALTER TABLE latest_metrics ALTER COLUMN value DROP NOT NULL",
            "UPDATE latest_metrics SET value = NULL WHERE run_uuid = :run",
        ),
    ),
    Damage(
        "is_nan that is not a boolean",
        "latest_metrics",
        "run",
        sqlite=(
            "PRAGMA ignore_check_constraints = ON",
            "UPDATE latest_metrics SET is_nan = 'yes' WHERE run_uuid = :run",
        ),
    ),
    Damage(
        "a start time that is text",
        "runs",
        "run",
        sqlite=("UPDATE runs SET start_time = 'yesterday' WHERE run_uuid = :run",),
    ),
    Damage(
        "an end time beyond 2**53 milliseconds",
        "runs",
        "run",
        sqlite=("UPDATE runs SET end_time = 1152921504606846976 WHERE run_uuid = :run",),
        postgresql=("UPDATE runs SET end_time = 1152921504606846976 WHERE run_uuid = :run",),
    ),
    Damage(
        "a status MLflow does not have",
        "runs",
        "run",
        sqlite=(
            "PRAGMA ignore_check_constraints = ON",
            "UPDATE runs SET status = 'BOGUS' WHERE run_uuid = :run",
        ),
        postgresql=(
            _dropped_constraints("runs", "c"),
            "UPDATE runs SET status = 'BOGUS' WHERE run_uuid = :run",
        ),
    ),
    Damage(
        "a user that is not UTF-8",
        "runs",
        "run",
        sqlite=(f"UPDATE runs SET user_id = {NOT_UTF8} WHERE run_uuid = :run",),
    ),
    Damage(
        "a param that is not UTF-8",
        "params",
        "run",
        sqlite=(f"UPDATE params SET value = {NOT_UTF8} WHERE run_uuid = :run",),
    ),
    Damage(
        "a param that is bytes",
        "params",
        "run",
        sqlite=("UPDATE params SET value = X'00FF' WHERE run_uuid = :run",),
    ),
    Damage(
        "a param that is NULL",
        "params",
        "run",
        sqlite=(
            *_rebuilt_without_constraints("params"),
            "UPDATE params SET value = NULL WHERE run_uuid = :run",
        ),
        postgresql=(
            "ALTER TABLE params ALTER COLUMN value DROP NOT NULL",
            "UPDATE params SET value = NULL WHERE run_uuid = :run",
        ),
    ),
    Damage(
        "a tag key that is not UTF-8",
        "tags",
        "run",
        sqlite=(f"UPDATE tags SET key = {NOT_UTF8} WHERE run_uuid = :run AND key = 't'",),
    ),
    Damage(
        "a dataset name that is not UTF-8",
        "datasets",
        "run",
        sqlite=(
            f"UPDATE datasets SET name = {NOT_UTF8} WHERE dataset_uuid IN "
            "(SELECT source_id FROM inputs WHERE destination_id = :run)",
        ),
    ),
    Damage(
        "a dataset digest that is NULL",
        "datasets",
        "run",
        postgresql=(
            _dropped_constraints("datasets", "p"),
            "ALTER TABLE datasets ALTER COLUMN digest DROP NOT NULL",
            "UPDATE datasets SET digest = NULL WHERE dataset_uuid IN "
            "(SELECT source_id FROM inputs WHERE destination_id = :run)",
        ),
    ),
    Damage(
        "a logged point that is text",
        "metrics",
        "history",
        sqlite=("UPDATE metrics SET value = 'abc' WHERE run_uuid = :run AND step = 0",),
    ),
    Damage(
        "a logged point's timestamp that is text",
        "metrics",
        "history",
        sqlite=("UPDATE metrics SET timestamp = 'noon' WHERE run_uuid = :run AND step = 0",),
    ),
    Damage(
        "a logged point that is NULL",
        "metrics",
        "history",
        postgresql=(
            _dropped_constraints("metrics", "p"),
            "ALTER TABLE metrics ALTER COLUMN value DROP NOT NULL",
            "UPDATE metrics SET value = NULL WHERE run_uuid = :run AND step = 0",
        ),
    ),
    Damage(
        "an experiment name that is not UTF-8",
        "experiments",
        "experiment",
        sqlite=(f"UPDATE experiments SET name = {NOT_UTF8} WHERE experiment_id = :experiment",),
    ),
    Damage(
        "an experiment's creation time beyond 2**53 milliseconds",
        "experiments",
        "experiment",
        sqlite=(
            "UPDATE experiments SET creation_time = 1152921504606846976 WHERE experiment_id = :experiment",
        ),
        postgresql=(
            "UPDATE experiments SET creation_time = 1152921504606846976 WHERE experiment_id = :experiment",
        ),
    ),
]


def _damages() -> list[Any]:
    return [
        pytest.param(damage, backend, id=f"{backend}: {damage.name}")
        for damage in DAMAGES
        for backend in BACKENDS
        if getattr(damage, backend)
    ]


def _refused(call: Callable[[], object], table: str, row: str) -> None:
    """``call`` raises corrupt-store, in one line naming the table and the row."""
    with pytest.raises(runql.StoreError) as caught:
        call()
    message = str(caught.value)
    assert caught.value.code == "corrupt-store", message
    assert f", table {table}" in message and row in message and "\n" not in message, message


@pytest.mark.parametrize(("damage", "backend"), _damages())
def test_a_row_of_the_wrong_type_is_corrupt_store_naming_table_and_row(
    damage: Damage, backend: str, request: pytest.FixtureRequest, copy_of: Callable[[Stored], str]
) -> None:
    stored: Stored = request.getfixturevalue(STORED[backend])
    url = copy_of(stored)
    run, experiment = stored.runs[1], stored.experiment
    _execute(url, *getattr(damage, backend), run=run, experiment=int(experiment))
    with runql.connect(url) as store:
        if damage.reads == "run":
            _refused(lambda: store.search_runs([experiment]), damage.table, run)
            _refused(lambda: store.search_runs([experiment], output_format="list"), damage.table, run)
            _refused(lambda: store.search_runs_paged([experiment], max_results=2), damage.table, run)
            _refused(lambda: store.get_run(run), damage.table, run)
            # A search whose page the run is not on reads none of its rows.
            others = store.search_runs([experiment], "attributes.run_name = 'r0'", output_format="list")
            assert _ids(others) == [stored.runs[0]]
        elif damage.reads == "history":
            _refused(lambda: store.get_metric_history(run, "m"), damage.table, run)
            assert len(store.search_runs([experiment], output_format="list")) == 3
        else:
            _refused(store.search_experiments, damage.table, f"experiment {experiment}")
            _refused(lambda: store.get_experiment(experiment), damage.table, f"experiment {experiment}")
            _refused(
                lambda: store.search_runs(experiment_names=["x"]), damage.table, f"experiment {experiment}"
            )


def test_like_over_text_that_is_not_utf8_is_corrupt_store(
    sqlite_stored: Stored, copy_of: Callable[[Stored], str]
) -> None:
    url = copy_of(sqlite_stored)
    _execute(url, f"UPDATE params SET value = {NOT_UTF8} WHERE run_uuid = :run", run=sqlite_stored.runs[1])
    with runql.connect(url) as store:
        for text in ("params.a LIKE 'p%'", "params.a RLIKE '^p'"):
            with pytest.raises(runql.StoreError) as caught:
                store.search_runs([sqlite_stored.experiment], text, profile="extended")
            assert caught.value.code == "corrupt-store" and "\n" not in str(caught.value), text


def test_keys_and_run_ids_that_are_not_text_are_corrupt_store(
    sqlite_stored: Stored, copy_of: Callable[[Stored], str]
) -> None:
    url = copy_of(sqlite_stored)
    other, run = sqlite_stored.runs[:2]
    _execute(
        url,
        "UPDATE tags SET key = X'00' WHERE run_uuid = :other AND key = 't'",
        "UPDATE runs SET run_uuid = CAST(run_uuid || X'80' AS TEXT) WHERE run_uuid = :run",
        other=other,
        run=run,
    )
    with runql.connect(url) as store:
        _refused(lambda: store.key_sets([sqlite_stored.experiment], ["active"]), "tags", "key must be text")
        _refused(lambda: store.run_ids_starting(run[:6]), "runs", f"run {run}\\x80: run_uuid holds text")
        # The statement that finds a page's ids reads them: it names the column only.
        with pytest.raises(runql.StoreError) as caught:
            store.search_runs([sqlite_stored.experiment])
        assert caught.value.code == "corrupt-store" and "'run_uuid'" in str(caught.value)


def test_text_that_is_not_utf8_in_postgresql_is_corrupt_store(postgres_server: Any) -> None:
    """A PostgreSQL database holds text that is not UTF-8 only in the SQL_ASCII encoding, which psycopg2
    reads and refuses as it decodes a row."""
    from support.services import DATABASE_PREFIX

    from runql.engines.sql import MLFLOW_SCHEMA

    name = f"{DATABASE_PREFIX}ascii_{os.getpid()}"
    admin = sa.create_engine(postgres_server.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    admin.dispose()
    url = sa.make_url(postgres_server.url).set(drivername="postgresql+psycopg2", database=name)
    shown = url.render_as_string(hide_password=False)
    try:
        tables = MLFLOW_SCHEMA.build().tables
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.begin() as connection:
            tables["runs"].metadata.create_all(connection)
            connection.execute(tables["experiments"].insert(), {"experiment_id": 0, "name": "Default"})
            connection.execute(
                tables["runs"].insert(),
                {"run_uuid": "r", "experiment_id": 0, "status": "FINISHED", "lifecycle_stage": "active"},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO params (key, value, run_uuid) "
                    "VALUES ('a', convert_from('\\x6180ff'::bytea, 'SQL_ASCII'), 'r')"
                )
            )
        engine.dispose()
        with runql.connect(shown) as store, pytest.raises(runql.StoreError) as caught:
            store.search_runs(["0"])
        assert caught.value.code == "corrupt-store" and "\n" not in str(caught.value)
    finally:
        postgres_server.drop_database(shown)


# -- files that are not a sound SQLite database ---------------------------------------------------------


def test_a_damaged_sqlite_file_is_corrupt_store(sqlite_stored: Stored, tmp_path: Path) -> None:
    source = Path(sa.make_url(sqlite_stored.url).database or "")
    header_only = tmp_path / "header.db"  # SQLite's magic, then bytes no database begins with
    header_only.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    cut = tmp_path / "cut.db"  # a database whose pages after the first two are gone
    cut.write_bytes(source.read_bytes()[: 2 * 4096])
    for path in (header_only, cut):
        with pytest.raises(runql.StoreError) as caught, runql.connect(path) as store:
            store.search_runs(search_all_experiments=True)
        message = str(caught.value)
        assert caught.value.code == "corrupt-store" and str(path) in message and "\n" not in message


def test_a_file_that_is_not_sqlite_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(runql.StoreError) as caught:
        runql.connect(path)
    # Refused by its first bytes, or by SQLite when it reads them.
    assert caught.value.code in ("not-a-store", "corrupt-store")
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


# -- WAL mode ------------------------------------------------------------------------------------------


def _wal_copy(stored: Stored, folder: Path) -> Path:
    path = folder / "wal.db"
    shutil.copyfile(sa.make_url(stored.url).database or "", path)
    _execute(f"sqlite:///{path}", "PRAGMA journal_mode = WAL")
    assert sorted(os.listdir(folder)) == ["wal.db"]  # the last connection closed removes -wal and -shm
    return path


def test_a_wal_database_on_a_read_only_file_system_leaves_nothing_beside_it(
    sqlite_stored: Stored, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _wal_copy(sqlite_stored, tmp_path)
    real = os.statvfs
    # What the kernel reports for a file system mounted read-only: nothing can write the file.
    monkeypatch.setattr(os, "statvfs", lambda at: SimpleNamespace(f_flag=real(at).f_flag | os.ST_RDONLY))
    with runql.connect(path) as store:
        assert sorted(_ids(store.search_runs(search_all_experiments=True, output_format="list"))) == sorted(
            sqlite_stored.runs
        )
        assert len(store.get_metric_history(sqlite_stored.runs[2], "m")) == 2
    assert sorted(os.listdir(tmp_path)) == ["wal.db"]


def test_a_wal_database_mlflow_writes_meanwhile_is_read_as_written(
    sqlite_stored: Stored, tmp_path: Path
) -> None:
    path = _wal_copy(sqlite_stored, tmp_path)
    url = f"sqlite:///{path}"
    with runql.connect(path) as store:
        assert store.search_runs(["0"], output_format="list") == []
        written = log_with_mlflow(
            url,
            [{"run_id": "late", "run_name": "late", "user_id": "ann", "start_time": 1, "experiment_id": "0"}],
        )
        assert _ids(store.search_runs(["0"], output_format="list")) == [written.runs["late"]]


# -- drivers -------------------------------------------------------------------------------------------


def test_a_missing_postgres_driver_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("psycopg", "psycopg2"):  # what an import of a package not installed meets
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(runql.MissingDependencyError) as caught:
        runql.connect("postgresql://someone:secret-81@127.0.0.1:1/db")
    message = str(caught.value)
    assert "runql[postgres]" in message and "\n" not in message and "secret-81" not in message
    assert caught.value.code == "missing-dependency"
    with pytest.raises(runql.MissingDependencyError, match="'psycopg2'") as caught:
        runql.connect("postgresql+psycopg2://someone:secret-81@127.0.0.1:1/db")
    assert "secret-81" not in str(caught.value) and "\n" not in str(caught.value)
