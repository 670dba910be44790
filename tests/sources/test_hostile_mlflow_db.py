"""Hostile MLflow tracking databases: a SQLite file MLflow wrote, then rows changed behind its back.

SQLite keeps whatever a row is given (text in an integer column, a blob in a text one), and a file from
anyone need not carry the constraints MLflow declares: the tests drop them (the table made anew without
any) before changing a row. Each change is refused with a :class:`StoreError` (``corrupt-store``) naming
the table and the run, at load, or when a history is read for a row of ``metrics``: never a foreign
exception, at load or at a later search, and never a value that reads as another.
"""

from __future__ import annotations

import gc
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")
pytest.importorskip("sqlalchemy")

from support.mlflow_stores import write_with_mlflow
from support.services import free_port

import runql
from runql import StoreError

T0 = 1_700_000_000_000
EXPERIMENTS = [{"experiment_id": "1", "name": "hostile", "tags": {"team": "vision"}}]
RECORDS = [
    {
        "run_id": "a",
        "experiment_id": "1",
        "user_id": "alice",
        "start_time": T0,
        "end_time": T0 + 1000,
        "metrics": {
            "loss": [
                {"value": 0.5, "step": 0, "timestamp": T0},
                {"value": 0.3, "step": 1, "timestamp": T0 + 500},
            ],
            "auc": 0.9,
        },
        "params": {"lr": "0.1"},
        "tags": {"team": "x"},
        "inputs": [
            {"dataset": {"name": "train", "digest": "abc123"}, "tags": {"mlflow.data.context": "training"}}
        ],
    },
    {
        "run_id": "b",
        "experiment_id": "1",
        "user_id": "bob",
        "start_time": T0,
        "metrics": {"loss": 0.2, "auc": 0.8},
        "params": {"lr": "0.2"},
    },
]


@dataclass(frozen=True)
class Written:
    path: Path
    runs: dict[str, str]  # the records' run ids to MLflow's


@pytest.fixture(scope="module")
def pristine(new_sqlite_database: Callable[..., str]) -> Written:
    """The database MLflow wrote, never changed: each test changes a copy."""
    url = new_sqlite_database(mlflow_schema=True)
    runs = write_with_mlflow(url, RECORDS, EXPERIMENTS)
    return Written(Path(url.removeprefix("sqlite:///")), runs)


@pytest.fixture
def copy(pristine: Written, tmp_path: Path) -> Written:
    path = tmp_path / "mlflow.db"
    shutil.copyfile(pristine.path, path)
    return Written(path, pristine.runs)


def change(path: Path, table: str, statement: str, **values: Any) -> None:
    """Run ``statement`` on the file, after making ``table`` anew without MLflow's constraints."""
    with closing(sqlite3.connect(path)) as db:
        # SQLite cannot drop a constraint from a table: the table is copied without any (CREATE TABLE AS
        # keeps each column's type affinity, as MLflow's table has it).
        db.execute(f"CREATE TABLE loose AS SELECT * FROM {table}")
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE loose RENAME TO {table}")
        db.execute(statement, values)
        db.commit()


def refusal(call: Callable[[], object]) -> StoreError:
    with pytest.raises(StoreError) as caught:
        call()
    return caught.value


def experiment_id(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db:
        return str(db.execute("SELECT experiment_id FROM experiments WHERE name = 'hostile'").fetchone()[0])


# The table of a row of run 'a', the change made to the row, and what the refusal says.
RUN_ROWS = [
    (
        "runs",
        "start_time = 'today'",
        "start_time must be milliseconds since the epoch (an integer), not 'today'",
    ),
    ("runs", "end_time = 1.5", "end_time must be milliseconds since the epoch (an integer), not 1.5"),
    ("runs", "start_time = 9007199254740993", "start_time must be between"),
    ("runs", "status = 'BOGUS'", "status must be one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED"),
    ("runs", "lifecycle_stage = 'zombie'", "lifecycle_stage must be one of active, deleted"),
    ("runs", "user_id = x'00ff'", "user_id must be text, not b'\\x00\\xff'"),
    ("runs", "experiment_id = NULL", "experiment_id must be an integer or text, not None"),
    ("params", "value = x'01'", "value must be text"),
    ("params", "value = NULL", "value must be text, not None"),
    ("tags", "key = NULL", "key must be text, not None"),
    ("latest_metrics", "value = 'high'", "value must be a number, not 'high'"),
    ("latest_metrics", "value = NULL, is_nan = 0", "value must be a number, not None"),
    ("latest_metrics", "value = x'00'", "value must be a number"),
    ("latest_metrics", "is_nan = 'yes'", "is_nan must be a boolean (0 or 1), not 'yes'"),
    ("latest_metrics", "key = NULL", "key must be text, not None"),
]


@pytest.mark.parametrize(("table", "assignment", "message"), RUN_ROWS)
def test_a_row_of_the_wrong_type_is_refused_at_load_naming_table_and_run(
    copy: Written, table: str, assignment: str, message: str
) -> None:
    run_id = copy.runs["a"]
    change(copy.path, table, f"UPDATE {table} SET {assignment} WHERE run_uuid = :run", run=run_id)
    error = refusal(lambda: runql.from_mlflow_db(copy.path))
    assert error.code == "corrupt-store"
    assert error.where == f"{copy.path}, table {table}, run {run_id}"
    assert message in error.message


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("creation_time = 'x'", "creation_time must be milliseconds since the epoch (an integer), not 'x'"),
        ("name = NULL", "name must be text, not None"),
        ("lifecycle_stage = 'gone'", "lifecycle_stage must be one of active, deleted"),
    ],
)
def test_an_experiment_of_the_wrong_type_is_refused_naming_it(
    copy: Written, assignment: str, message: str
) -> None:
    experiment = experiment_id(copy.path)
    change(copy.path, "experiments", f"UPDATE experiments SET {assignment} WHERE name = 'hostile'")
    error = refusal(lambda: runql.from_mlflow_db(copy.path))
    assert (error.code, error.where) == (
        "corrupt-store",
        f"{copy.path}, table experiments, experiment {experiment}",
    )
    assert message in error.message


def test_a_dataset_without_a_digest_is_refused_naming_it(copy: Written) -> None:
    change(copy.path, "datasets", "UPDATE datasets SET digest = NULL")
    error = refusal(lambda: runql.from_mlflow_db(copy.path))
    assert error.code == "corrupt-store"
    assert error.where.startswith(f"{copy.path}, table datasets, dataset ")
    assert "digest must be text, not None" in error.message


def test_a_run_twice_is_refused(copy: Written) -> None:
    run_id = copy.runs["a"]
    change(copy.path, "runs", "INSERT INTO runs SELECT * FROM runs WHERE run_uuid = :run", run=run_id)
    error = refusal(lambda: runql.from_mlflow_db(copy.path))
    assert (error.where, error.message) == (f"{copy.path}, table runs, run {run_id}", "the run appears twice")


def test_text_that_is_not_utf8_names_the_row(copy: Written) -> None:
    run_id = copy.runs["a"]
    change(
        copy.path, "tags", "UPDATE tags SET value = CAST(x'ff41' AS TEXT) WHERE run_uuid = :run", run=run_id
    )
    error = refusal(lambda: runql.from_mlflow_db(copy.path))
    assert error.code == "corrupt-store"
    assert error.where == f"{copy.path}, table tags, run {run_id}"
    assert error.message == "value holds text that is not UTF-8 (invalid start byte at byte 0)"


def test_a_hostile_run_id_is_shown_cut_and_escaped(copy: Written) -> None:
    hostile = "evil\nrun" + "x" * 5000
    change(
        copy.path,
        "runs",
        "UPDATE runs SET run_uuid = :hostile, start_time = 'x' WHERE run_uuid = :run",
        hostile=hostile,
        run=copy.runs["a"],
    )
    error = refusal(lambda: runql.from_mlflow_db(copy.path))
    assert "\n" not in str(error) and len(str(error)) < 500
    assert "table runs, run evil\\nrun" in error.where


# -- metrics: read when a history is asked for ------------------------------------------------------

POINT_ROWS = [
    ("step = 'one'", "step must be an integer, not 'one'"),
    ("timestamp = 'now'", "timestamp must be an integer, not 'now'"),
    ("timestamp = NULL", "timestamp must be an integer, not None"),
    ("value = 'x'", "value must be a number, not 'x'"),
    ("value = NULL, is_nan = 0", "value must be a number, not None"),
    ("is_nan = 2", "is_nan must be a boolean (0 or 1), not 2"),
]


@pytest.fixture(params=POINT_ROWS, ids=[row[0] for row in POINT_ROWS])
def bad_point(copy: Written, request: pytest.FixtureRequest) -> Iterator[tuple[Written, str]]:
    assignment, message = request.param
    change(
        copy.path,
        "metrics",
        f"UPDATE metrics SET {assignment} WHERE run_uuid = :run AND key = 'loss' AND step = 1",
        run=copy.runs["a"],
    )
    yield copy, message


def check_point_refusal(error: StoreError, written: Written, message: str) -> None:
    assert error.code == "corrupt-store"
    assert error.where == f"{written.path}, table metrics, run {written.runs['a']}"
    assert message in error.message


def test_a_bad_point_is_refused_when_its_history_is_read(bad_point: tuple[Written, str]) -> None:
    written, message = bad_point
    ws = runql.from_mlflow_db(written.path)  # the latest values load; the histories stay in the database
    error = refusal(lambda: ws.get_metric_history(written.runs["a"], "loss"))
    check_point_refusal(error, written, message)


def test_a_bad_point_is_refused_by_a_search_of_histories(bad_point: tuple[Written, str]) -> None:
    written, message = bad_point
    ws = runql.from_mlflow_db(written.path)
    search = lambda: ws.search_runs(  # noqa: E731
        search_all_experiments=True, filter_string="min(metrics.loss) < 10", profile="extended"
    )
    check_point_refusal(refusal(search), written, message)


def test_a_bad_point_is_refused_at_load_with_every_history(bad_point: tuple[Written, str]) -> None:
    written, message = bad_point
    error = refusal(lambda: runql.from_mlflow_db(written.path, histories=True))
    check_point_refusal(error, written, message)


def test_a_refused_load_leaves_no_cursor_open_on_a_closed_database(
    bad_point: tuple[Written, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cursor of the table being read is closed before the connection, also when a row is refused:
    no "Exception ignored ... Cannot operate on a closed database" when it is collected."""
    written, _ = bad_point
    ignored: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: ignored.append(unraisable.exc_value))
    refusal(lambda: runql.from_mlflow_db(written.path, histories=True))
    gc.collect()
    assert ignored == []


# -- NULL where MLflow's schema allows it -----------------------------------------------------------


def test_a_null_tag_value_is_no_tag_and_stays_none_through_a_save(copy: Written, tmp_path: Path) -> None:
    """MLflow's schema lets a tag's value be NULL: the run reads as without the tag, as a search reads
    it, and a saved workspace does not turn it into the text 'None'."""
    run_id = copy.runs["a"]
    change(
        copy.path, "tags", "UPDATE tags SET value = NULL WHERE run_uuid = :run AND key = 'team'", run=run_id
    )
    change(copy.path, "experiment_tags", "UPDATE experiment_tags SET value = NULL WHERE key = 'team'")
    ws = runql.from_mlflow_db(copy.path)
    assert "team" not in ws.get_run(run_id).data.tags
    assert "team" not in ws.get_experiment_by_name("hostile").tags  # type: ignore[union-attr]
    saved = tmp_path / "saved.jsonl"
    ws.save(saved)
    again = runql.Workspace.load(saved)
    assert "team" not in again.get_run(run_id).data.tags
    assert "team" not in again.get_experiment_by_name("hostile").tags  # type: ignore[union-attr]


# -- files that are no database, or a damaged one; a server that is not there -------------------------


def test_a_file_that_is_not_sqlite_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n")
    error = refusal(lambda: runql.from_mlflow_db(path))
    assert (error.code, error.where) == ("not-a-store", str(path))
    assert "not a SQLite database file" in error.message


def test_a_damaged_sqlite_file_is_corrupt(pristine: Written, tmp_path: Path) -> None:
    data = pristine.path.read_bytes()
    path = tmp_path / "damaged.db"
    # The header stays, the pages after it are zeros: SQLite opens the file and finds it malformed.
    path.write_bytes(data[:100] + bytes(len(data) - 100))
    error = refusal(lambda: runql.from_mlflow_db(path))
    assert error.code == "corrupt-store"
    assert "the database file is damaged" in error.message


def test_a_server_that_does_not_answer_is_unreachable() -> None:
    url = f"postgresql+psycopg2://someone:secret@127.0.0.1:{free_port()}/mlflow"
    error = refusal(lambda: runql.from_mlflow_db(url))
    assert error.code == "unreachable-store"
    assert "cannot connect to the database" in error.message and "secret" not in str(error)


# -- a database MLflow is writing -----------------------------------------------------------------------


def test_a_database_in_wal_mode_is_read_with_its_latest_commits(copy: Written) -> None:
    """Read-only, not immutable: what a writer committed to the write-ahead log and not yet to the file
    is read (immutable=1 would read the file as it was, with no lock against the writer)."""
    run_id = copy.runs["a"]
    with closing(sqlite3.connect(copy.path)) as writer:
        assert writer.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
        writer.execute("PRAGMA wal_autocheckpoint=0")  # the commit stays in the log while the writer is open
        writer.execute("UPDATE runs SET name = 'renamed' WHERE run_uuid = ?", (run_id,))
        writer.commit()
        assert (copy.path.parent / "mlflow.db-wal").stat().st_size > 0
        assert runql.from_mlflow_db(copy.path).get_run(run_id).info.run_name == "renamed"


@pytest.mark.parametrize("key", ["lo\ud800ss", "lo\x00ss"])
def test_a_key_no_database_can_hold_has_no_history(pristine: Written, key: str) -> None:
    ws = runql.from_mlflow_db(f"sqlite:///{pristine.path}")
    run_id = pristine.runs["a"]
    assert ws.get_metric_history(run_id, key) == []
    with pytest.warns(runql.QueryWarning, match="unknown-key"):
        found = ws.search_runs(
            search_all_experiments=True, filter_string=f"max(metrics.`{key}`) > 0", profile="extended"
        )
    assert len(found) == 0
