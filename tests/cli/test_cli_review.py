"""``runql runs`` after the review of issue 22: a child whose parent is not printed says so in ``--tree``,
the lifecycle stage and user are columns (shown for ``--view deleted`` and ``all``), and functions of a
metric's history are columns, shown for the functions a query names."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from runql import Workspace
from runql.cli import main
from runql.cli.search_commands import PARENT_TAG

LOSS = {"child-a": [0.9, 0.2, 0.5], "child-b": [0.4, 0.3], "grandchild": [0.7]}


@pytest.fixture(scope="module")
def nested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A workspace file: a parent, its children child-a and child-b, child-a's grandchild, a run of
    its own and a deleted run, started in that order; and the ids of the runs by name."""
    ws = Workspace()
    experiment = ws.create_experiment("nested")
    ids: dict[str, str] = {}
    parents = {"child-a": "parent", "child-b": "parent", "grandchild": "child-a"}
    for time, name in enumerate(["parent", "child-a", "child-b", "grandchild", "solo", "gone"]):
        tags = {PARENT_TAG: ids[parents[name]]} if name in parents else None
        run = ws.create_run(experiment, start_time=1_700_000_000_000 + time * 1000, tags=tags, run_name=name)
        ids[name] = run.info.run_id
        for step, value in enumerate(LOSS.get(name, [])):
            ws.log_metric(run.info.run_id, "loss", value, timestamp=1_700_000_000_000 + step, step=step)
        ws.set_terminated(run.info.run_id)
    ws.delete_run(ids["gone"])
    path = tmp_path_factory.mktemp("nested") / "nested.jsonl"
    ws.save(path)
    return path, ids


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def cells(table: str, column: str) -> list[str]:
    """The cells of ``column`` in a printed table, spaces kept (the table's last column)."""
    lines = table.rstrip("\n").splitlines()
    start = lines[0].index(column)
    return [line[start:].rstrip() for line in lines[2:]]


def table_rows(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


# -- finding 1: --tree and parents that are not printed ----------------------------------------------


def test_a_child_whose_parent_is_filtered_out_is_under_a_line_saying_so(
    capsys: pytest.CaptureFixture[str], nested: tuple[Path, dict[str, str]]
) -> None:
    path, ids = nested
    code, out, _ = run(
        capsys, "runs", "--source", str(path), "--tree", "--filter", "tags.mlflow.runName != 'parent'",
        "--columns", "run_id", "run_name",
    )  # fmt: skip
    assert code == 0
    assert cells(out, "run_name") == [
        "solo",
        f"(parent {ids['parent'][:8]} not shown)",
        "  └ child-b",
        "  └ child-a",
        "    └ grandchild",
    ]
    # The line of a parent not shown is no run: its run_id cell is empty.
    assert [line.split()[0] for line in out.splitlines()[2:]][1] == "(parent"


def test_a_page_cut_between_parent_and_child_says_so(
    capsys: pytest.CaptureFixture[str], nested: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ids = nested
    monkeypatch.setattr("runql.cli.render.terminal_width", lambda out: 200)  # as on a terminal
    code, out, err = run(
        capsys, "runs", "--source", str(path), "--tree", "-n", "3", "-c", "run_id", "run_name"
    )
    assert code == 0
    assert cells(out, "run_name") == [
        "solo",
        f"(parent {ids['child-a'][:8]} not shown)",
        "  └ grandchild",
        f"(parent {ids['parent'][:8]} not shown)",
        "  └ child-b",
    ]
    assert err.splitlines()[0] == "3 runs"  # the lines of parents not shown are not runs


def test_csv_and_json_trees_hold_runs_only(
    capsys: pytest.CaptureFixture[str], nested: tuple[Path, dict[str, str]]
) -> None:
    path, ids = nested
    _, out, _ = run(capsys, "runs", "--source", str(path), "--tree", "-n", "3", "--format", "csv")
    assert [r["run_name"] for r in table_rows(out)] == ["solo", "grandchild", "child-b"]
    _, out, _ = run(capsys, "runs", "--source", str(path), "--tree", "--format", "json")
    assert [r["run_id"] for r in json.loads(out)] == [
        ids[name] for name in ("solo", "parent", "child-b", "child-a", "grandchild")
    ]


# -- finding 2: lifecycle_stage and user_id --------------------------------------------------------


def test_view_all_shows_which_runs_are_deleted(
    capsys: pytest.CaptureFixture[str], nested: tuple[Path, dict[str, str]]
) -> None:
    path, _ = nested
    _, out, _ = run(
        capsys, "runs", "--source", str(path), "--view", "all", "-c", "run_name", "lifecycle_stage"
    )
    assert dict(line.split() for line in out.splitlines()[2:])["gone"] == "deleted"
    for view in ("all", "deleted"):
        _, out, _ = run(capsys, "runs", "--source", str(path), "--view", view)
        header = out.splitlines()[0].split()
        assert header[header.index("status") + 1] == "lifecycle_stage"
    _, out, _ = run(capsys, "runs", "--source", str(path))
    assert "lifecycle_stage" not in out.splitlines()[0]


def test_every_run_attribute_of_mlflows_frame_is_a_column(
    capsys: pytest.CaptureFixture[str], nested: tuple[Path, dict[str, str]]
) -> None:
    path, _ = nested
    ws = Workspace.load(path)
    frame = ws.search_runs(search_all_experiments=True)
    attributes = [c for c in frame.columns if not c.startswith(("metrics.", "params.", "tags."))]
    code, out, err = run(
        capsys,
        "runs",
        "--source",
        str(path),
        "--format",
        "csv",
        "-c",
        *attributes,
        "lifecycle_stage",
        "user_id",
    )
    assert code == 0, err
    printed = table_rows(out)
    assert {r["user_id"] for r in printed} == {r.info.user_id for r in ws.runs}
    assert {r["lifecycle_stage"] for r in printed} == {"active"}
    _, out, _ = run(capsys, "runs", "--source", str(path), "--format", "csv", "--view", "all")
    assert {"lifecycle_stage", "user_id"} <= set(table_rows(out)[0])


# -- finding 7: functions of a metric's history as columns ------------------------------------------


def test_the_function_a_filter_names_is_shown_with_its_value(
    capsys: pytest.CaptureFixture[str], nested: tuple[Path, dict[str, str]]
) -> None:
    path, _ = nested
    code, out, err = run(
        capsys, "runs", "--source", str(path), "-p", "extended", "--filter", "min(metrics.loss) < 0.25",
        "--order-by", "max(metrics.loss) DESC",
    )  # fmt: skip
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert header[:4] == ["run_id", "run_name", "min(metrics.loss)", "max(metrics.loss)"]
    (row,) = [line.split() for line in out.splitlines()[2:]]
    assert row[1:4] == ["child-a", "0.2", "0.9"]
    assert row[header.index("metrics.loss")] == "0.5"  # the latest value, which the filter did not read
    _, out, _ = run(
        capsys, "runs", "--source", str(path), "-p", "extended", "--filter", "min(metrics.loss) < 0.25",
        "--format", "json",
    )  # fmt: skip
    assert json.loads(out)[0]["min(metrics.loss)"] == 0.2


def test_columns_name_functions_of_a_history(
    capsys: pytest.CaptureFixture[str], nested: tuple[Path, dict[str, str]]
) -> None:
    path, _ = nested
    code, out, err = run(
        capsys, "runs", "--source", str(path), "--format", "csv", "--order-by", "run_name",
        "-c", "run_name,at_step(metrics.loss, 1),count(metrics.loss)", "avg( metrics.loss )",
        "first(metrics.loss)",
    )  # fmt: skip
    assert code == 0, err
    printed = table_rows(out)
    assert list(printed[0]) == [
        "run_name",
        "at_step(metrics.loss, 1)",
        "count(metrics.loss)",
        "avg(metrics.loss)",
        "first(metrics.loss)",
    ]
    by_name = {r["run_name"]: r for r in printed}
    assert by_name["child-a"]["at_step(metrics.loss, 1)"] == "0.2"
    assert by_name["child-b"]["avg(metrics.loss)"] == repr((0.4 + 0.3) / 2)
    assert by_name["grandchild"]["at_step(metrics.loss, 1)"] == ""  # no point at step 1
    assert by_name["solo"]["count(metrics.loss)"] == ""  # no point at all
    assert by_name["child-a"]["first(metrics.loss)"] == "0.9"


def test_a_function_column_that_is_wrong_is_one_message(
    capsys: pytest.CaptureFixture[str], nested: tuple[Path, dict[str, str]]
) -> None:
    path, _ = nested
    code, _, err = run(capsys, "runs", "--source", str(path), "-c", "mni(metrics.loss)")
    assert code == 1 and "--columns" in err and "unknown function 'mni'" in err and "did you mean min" in err
    code, _, err = run(capsys, "runs", "--source", str(path), "-c", "min(metrics.loss) DESC")
    assert code == 1 and "unknown column 'min(metrics.loss) DESC'" in err
    code, _, err = run(capsys, "runs", "--source", str(path), "-c", "run_id", "max(metrics.lost)")
    assert code == 0 and "has a metric 'lost'; did you mean 'loss'" in err
    code, out, _ = run(capsys, "runs", "--source", str(path), "-c", "params.f(x)", "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "params.f(x)"  # a param's name, not a function


def test_functions_are_read_from_a_tracking_database(
    capsys: pytest.CaptureFixture[str], fresh_mlflow_sqlite_url: str
) -> None:
    mlflow = pytest.importorskip("mlflow")
    client = mlflow.MlflowClient(tracking_uri=fresh_mlflow_sqlite_url)
    experiment = client.create_experiment("db")
    for name, values in LOSS.items():
        created = client.create_run(experiment, run_name=name)
        for step, value in enumerate(values):
            client.log_metric(
                created.info.run_id, "loss", value, timestamp=1_700_000_000_000 + step, step=step
            )
        client.set_terminated(created.info.run_id)
    database = fresh_mlflow_sqlite_url.removeprefix("sqlite:///")
    for load in ([], ["--load"]):
        code, out, err = run(
            capsys, "runs", "--source", database, *load, "--format", "csv", "--order-by", "run_name",
            "-c", "run_name", "min(metrics.loss)", "metrics.loss",
        )  # fmt: skip
        assert code == 0, err
        assert [(r["min(metrics.loss)"], r["metrics.loss"]) for r in table_rows(out)] == [
            ("0.2", "0.5"),
            ("0.3", "0.3"),
            ("0.7", "0.7"),
        ]
