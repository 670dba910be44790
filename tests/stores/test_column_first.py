"""A workspace whose runs were read as columns (``from_mlflow_db``) answers and changes as one built from
Run objects (the same database read row by row), and makes only the runs a caller asks for.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import runql
from runql.engines.column_first import ColumnFirstRuns
from runql.sources import mlflow_tables
from runql.stores import workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mlflow_db

# The answers are compared, not the warnings of keys some searched runs lack.
pytestmark = pytest.mark.filterwarnings("ignore::runql.QueryWarning")

EVERY = {"search_all_experiments": True, "run_view_type": "ALL"}
QUERIES = [
    ("", []),
    ("metrics.auc > 0.7", ["metrics.auc DESC"]),
    ("params.model = 'xgb' AND tags.team LIKE '%a%'", ["params.learning_rate", "attributes.start_time"]),
    ("attributes.status != 'FAILED'", ["attributes.run_name DESC"]),
    ("datasets.name = 'train'", []),
]


@pytest.fixture(scope="module")
def database(new_sqlite_database: Callable[..., str]) -> str:
    url = new_sqlite_database(mlflow_schema=True)
    mlflow_db.fill(url, mlflow_db.benchmark_records(120))
    return url


def _both(url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[runql.Workspace, runql.Workspace]:
    """The database as columns, and as Run objects (the row reader)."""
    columns = runql.from_mlflow_db(url)
    assert isinstance(columns._columns(), ColumnFirstRuns)
    with monkeypatch.context() as rows:
        rows.setattr(mlflow_tables, "read_run_columns", lambda *args: None)
        objects = runql.from_mlflow_db(url)
    assert not isinstance(objects._columns(), ColumnFirstRuns)
    return columns, objects


def _agree(columns: runql.Workspace, objects: runql.Workspace) -> None:
    for filter_string, order_by in QUERIES:
        found = columns.search_runs(filter_string, order_by=order_by, **EVERY)
        assert found.equals(objects.search_runs(filter_string, order_by=order_by, **EVERY)), filter_string
        page = columns.search_runs(
            filter_string, order_by=order_by, max_results=7, output_format="list", **EVERY
        )
        expected = objects.search_runs(
            filter_string, order_by=order_by, max_results=7, output_format="list", **EVERY
        )
        assert page == expected, filter_string
    last = columns.last_active_run()
    expected_last = objects.last_active_run()
    assert (last and last.info.run_id) == (expected_last and expected_last.info.run_id)


def test_edits_and_searches_agree_with_a_workspace_of_run_objects(
    database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(workspace, "_now_ms", lambda: 1_700_000_000_000)  # the same edit times in both
    columns, objects = _both(database, monkeypatch)
    _agree(columns, objects)
    first, second = sorted(r.info.run_id for r in objects.runs)[:2]
    experiment = objects.get_run(first).info.experiment_id
    edits: list[Callable[[runql.Workspace], object]] = [
        lambda ws: ws.log_metric(first, "auc", 0.99, timestamp=1, step=10**6),
        lambda ws: ws.log_metric(first, "brand new", 1.5, timestamp=2, step=0),
        lambda ws: ws.log_param(first, "another param", "x"),
        lambda ws: ws.set_tag(first, "mlflow.runName", "renamed"),
        lambda ws: ws.set_terminated(second, "KILLED", end_time=5),
        lambda ws: ws.delete_run(second),
        lambda ws: ws.delete_experiment(experiment),
        lambda ws: ws.restore_experiment(experiment),
    ]
    for edit in edits:
        edit(columns)
        edit(objects)
        _agree(columns, objects)
    assert columns.get_run(first) == objects.get_run(first)
    assert columns.get_metric_history(first, "auc") == objects.get_metric_history(first, "auc")
    # A new run makes every run an object, once; then the two are the same kind of workspace.
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=7))  # the same new run in both
    for ws in (columns, objects):
        run = ws.create_run(experiment, start_time=10**13, run_name="latest")
        ws.log_metric(run.info.run_id, "auc", 0.5, timestamp=3)
    _agree(columns, objects)
    columns.save(tmp_path / "columns.jsonl")
    objects.save(tmp_path / "objects.jsonl")
    saved = [json.loads(line) for line in (tmp_path / "columns.jsonl").read_text().splitlines()]
    expected = [json.loads(line) for line in (tmp_path / "objects.jsonl").read_text().splitlines()]
    assert [r for r in saved if r.get("kind") != "run"] == [r for r in expected if r.get("kind") != "run"]
    key = "run_id"
    assert sorted((r for r in saved if key in r), key=lambda r: r[key]) == sorted(
        (r for r in expected if key in r), key=lambda r: r[key]
    )


def test_only_the_runs_asked_for_are_made(database: str) -> None:
    workspace = runql.from_mlflow_db(database)
    store = workspace._columns()
    assert isinstance(store, ColumnFirstRuns)
    made: list[int] = []
    make = store._make

    def counted(rows: object) -> object:
        made.append(len(rows))  # type: ignore[arg-type]
        return make(rows)  # type: ignore[arg-type]

    store._make = counted  # type: ignore[method-assign]
    frame = workspace.search_runs(search_all_experiments=True)
    assert len(frame) > 0 and made == []  # a DataFrame is read from the columns
    page = workspace.search_runs(search_all_experiments=True, max_results=5, output_format="list")
    assert len(page) == 5 and made == [5]
    run_id = page[0].info.run_id
    assert workspace.get_run(run_id) == page[0]
    assert workspace.get_run(run_id) is workspace.get_run(run_id)  # held once looked up
    assert store._held.keys() == {store.row_of(run_id)}
    assert len(workspace.run_ids_starting(run_id[:3])) >= 1 and len(store._held) == 1
