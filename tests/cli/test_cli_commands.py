"""The runql command: runs, experiments, history and compare, on the sample and on stores MLflow wrote.

A few tests run the command as a subprocess (exit codes, stdout and stderr as a user sees them);
the rest call ``main`` in-process. Every example in every command's ``--help`` is run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.commands import run_command

from runql import Workspace
from runql.cli import main
from runql.cli.registry import COMMANDS
from runql.sources.discovery import SAMPLE_NOTICE

PNG = b"\x89PNG\r\n\x1a\n"
README_COMMAND = 'runql runs --filter "metrics.auc > 0.8" --order-by "metrics.auc DESC" --max-results 5'


def runql(*args: str, **options: Any) -> subprocess.CompletedProcess[str]:
    return run_command(*args, **{"columns": 120, **options})


@pytest.fixture(autouse=True)
def _no_store_around(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process commands run in an empty folder with no MLFLOW_TRACKING_URI: they read the sample."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))


def rows(table: str) -> list[list[str]]:
    """The data rows of a printed table, split on runs of two spaces or more."""
    import re

    lines = table.rstrip("\n").splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}
    return [re.split(r"\s{2,}", line.strip()) for line in lines[2:]]


@pytest.fixture(scope="module")
def sample() -> Workspace:
    return Workspace.sample()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    pytest.importorskip("mlflow")
    pytest.importorskip("yaml")
    pytest.importorskip("sqlalchemy")
    from support.conformance_store import write_store

    previous = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    root = tmp_path_factory.mktemp("cli-stores")
    folder, database = root / "mlruns", root / "mlflow.db"
    ids = {"dir": write_store(folder.as_uri()), "db": write_store(f"sqlite:///{database}")}
    yield {"root": root, "dir": folder, "db": database, "ids": ids}
    if previous is None:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
    else:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = previous


# -- as a subprocess -----------------------------------------------------------------------------


def test_readme_command_prints_five_sample_runs(sample: Workspace) -> None:
    done = runql(*shlex.split(README_COMMAND)[1:])
    assert done.returncode == 0, done.stderr
    table = rows(done.stdout)
    expected = sample.search_runs(
        search_all_experiments=True,
        filter_string="metrics.auc > 0.8",
        order_by=["metrics.auc DESC"],
        max_results=5,
    )
    assert [r[0] for r in table] == list(expected["run_id"])
    header = done.stdout.splitlines()[0].split()
    aucs = [float(r[header.index("metrics.auc")]) for r in table]
    assert aucs == sorted(aucs, reverse=True) and min(aucs) > 0.8
    # Said on stderr: the runs are the sample's, and the next page's token.
    assert done.stderr.splitlines()[0] == SAMPLE_NOTICE
    assert done.stderr.splitlines()[1].startswith("more runs: --page-token ")


@pytest.mark.parametrize("kind", ["dir", "db"])
def test_runs_on_a_store_mlflow_wrote(stores: dict[str, Any], kind: str) -> None:
    import mlflow

    done = runql("runs", "--source", str(stores[kind]), "--filter", "metrics.acc > 0.5", "--format", "csv")
    assert done.returncode == 0, done.stderr
    printed = list(csv.DictReader(io.StringIO(done.stdout)))
    uri = stores[kind].as_uri() if kind == "dir" else f"sqlite:///{stores[kind]}"
    expected = mlflow.MlflowClient(uri).search_runs(
        list(stores["ids"][kind]["experiments"].values()), "metrics.acc > 0.5"
    )
    assert [row["run_id"] for row in printed] == [r.info.run_id for r in expected]
    assert len(printed) >= 3
    assert all(float(row["metrics.acc"]) > 0.5 for row in printed)


def test_bad_input_gives_a_message_and_exit_1(tmp_path: Path) -> None:
    missing = runql("runs", "--source", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and missing.stdout == ""
    assert f"error: {tmp_path / 'nowhere'}: no such file or folder" in missing.stderr
    malformed = runql("runs", "--filter", "metrics.auc >> 0.8")
    assert malformed.returncode == 1 and malformed.stdout == ""
    assert "[syntax]" in malformed.stderr
    assert "  metrics.auc >> 0.8\n" + " " * 14 + "^^" in malformed.stderr
    unknown = runql("history", "no-such-run", "auc")
    assert unknown.returncode == 1 and "Run 'no-such-run' not found" in unknown.stderr
    usage = runql("runs", "--view", "sideways")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


# -- in-process ----------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Print as to a terminal as wide as COLUMNS says."""
    monkeypatch.setattr("runql.cli.render.terminal_width", lambda out: shutil.get_terminal_size().columns)


def test_table_fits_the_terminal(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    on_a_terminal(monkeypatch)
    monkeypatch.setenv("COLUMNS", "70")
    code, out, err = run(capsys, "runs", "--filter", "params.model = 'xgboost'", "--max-results", "20")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 70
    assert out.splitlines()[0].split()[:2] == ["run_id", "run_name"]
    assert "more columns with --columns or --format csv" in err
    monkeypatch.setenv("COLUMNS", "250")
    code, wide, err = run(capsys, "runs", "--filter", "params.model = 'xgboost'", "--max-results", "20")
    assert "more columns" not in err
    assert len(wide.splitlines()[0]) > 70


def test_long_cells_are_elided(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    on_a_terminal(monkeypatch)
    monkeypatch.setenv("COLUMNS", "60")
    code, out, _ = run(capsys, "runs", "--columns", "run_id,artifact_uri", "--max-results", "3")
    assert code == 0
    assert all(line.endswith("…") for line in out.splitlines()[2:])
    assert max(len(line) for line in out.splitlines()) <= 60


def test_formats(capsys: pytest.CaptureFixture[str], sample: Workspace) -> None:
    query = (
        "runs",
        "--filter",
        "metrics.auc > 0.9",
        "--order-by",
        "metrics.auc DESC",
        "--columns",
        "run_id,metrics.auc",
    )
    expected = sample.search_runs(
        search_all_experiments=True, filter_string="metrics.auc > 0.9", order_by=["metrics.auc DESC"]
    )
    _, out, _ = run(capsys, *query, "--format", "json")
    items = json.loads(out)
    assert [i["run_id"] for i in items] == list(expected["run_id"])
    assert [i["metrics.auc"] for i in items] == list(expected["metrics.auc"])
    _, out, _ = run(capsys, *query, "--format", "csv")
    assert [r["run_id"] for r in csv.DictReader(io.StringIO(out))] == list(expected["run_id"])
    _, out, _ = run(capsys, *query, "--format", "markdown")
    lines = out.splitlines()
    assert lines[0] == "| run_id | metrics.auc |" and lines[1] == "| --- | --- |"
    assert len(lines) == 2 + len(expected)


def test_csv_and_json_default_to_every_column(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "runs", "--max-results", "2", "--format", "json")
    first = json.loads(out)[0]
    assert {"run_id", "artifact_uri", "end_time", "tags.mlflow.runName"} <= set(first)
    assert first["start_time"].endswith("+00:00")


def test_views_and_experiment_options(capsys: pytest.CaptureFixture[str], sample: Workspace) -> None:
    _, active, _ = run(capsys, "runs", "--format", "csv", "--columns", "run_id")
    _, every, _ = run(capsys, "runs", "--format", "csv", "--columns", "run_id", "--view", "all")
    _, deleted, _ = run(capsys, "runs", "--format", "csv", "--columns", "run_id", "--view", "deleted")
    count = {name: len(text.splitlines()) - 1 for name, text in [("a", active), ("e", every), ("d", deleted)]}
    assert count["a"] + count["d"] == count["e"] == len(sample.runs)
    _, mine, _ = run(
        capsys, "runs", "-e", "my_experiment", "--format", "csv", "--columns", "run_id,experiment"
    )
    assert {r["experiment"] for r in csv.DictReader(io.StringIO(mine))} == {"my_experiment"}
    code, _, err = run(capsys, "runs", "-e", "nope")
    assert code == 1 and "no experiment named 'nope'" in err
    code, _, err = run(capsys, "runs", "-i", "nope")
    assert code == 1 and "No Experiment with id=nope" in err


def test_unknown_column_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "runs", "--columns", "run_idd")
    assert code == 1 and "unknown column 'run_idd' (did you mean run_id" in err
    code, out, _ = run(
        capsys, "runs", "--columns", "run_id,metrics.never", "--max-results", "1", "--format", "csv"
    )
    assert code == 0 and out.splitlines()[0] == "run_id,metrics.never"


def test_profile_refusal_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "runs", "--filter", "tags.team != 'x'", "--profile", "azureml")
    assert code == 1 and out == ""
    assert "[unsupported-operator]" in err and "^^" in err


def test_experiments(capsys: pytest.CaptureFixture[str], sample: Workspace) -> None:
    _, out, _ = run(capsys, "experiments", "--format", "csv")
    names = [r["name"] for r in csv.DictReader(io.StringIO(out))]
    assert names == [e.name for e in sample.search_experiments()]
    assert "archived-prototype" not in names
    _, out, _ = run(capsys, "experiments", "--view", "all", "--format", "json")
    assert "archived-prototype" in [e["name"] for e in json.loads(out)]
    code, out, _ = run(capsys, "experiments", "--filter", "name LIKE '%classifier%'")
    assert code == 0 and [r[1] for r in rows(out)] == ["image-classifier"]


def test_history(capsys: pytest.CaptureFixture[str], sample: Workspace) -> None:
    code, out, _ = run(capsys, "history", "1234-5678-90AB-CDEFG", "auc", "--format", "csv")
    assert code == 0
    printed = [(int(r["step"]), float(r["value"])) for r in csv.DictReader(io.StringIO(out))]
    assert printed == [(p.step, p.value) for p in sample.get_metric_history("1234-5678-90AB-CDEFG", "auc")]
    code, _, err = run(capsys, "history", "1234-5678-90AB-CDEFG", "nope")
    assert code == 1 and "has no metric 'nope'; its metrics: accuracy, auc, log_loss" in err


def test_compare_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out_file = tmp_path / "auc.png"
    ids = ("1234-5678-90AB-CDEFG", "5678-1234-90AB-CDEFG")
    code, out, err = run(
        capsys, "compare", *ids, "--only-differences", "--plot", "auc", "--out", str(out_file)
    )
    assert code == 0, err
    assert out.splitlines()[0].split() == ["key", "xgboost-classifier", "xgboost-deeper", "differs"]
    keys = [r[0] for r in rows(out)]
    assert "params.max_depth" in keys and "params.model" not in keys
    assert out_file.read_bytes()[:8] == PNG and f"wrote {out_file}" in err
    code, out, _ = run(capsys, "compare", *ids, "--format", "json")
    assert {"key", *ids, "differs"} == set(json.loads(out)[0])
    code, _, err = run(capsys, "compare", ids[0], "no-such-run")
    assert code == 1 and "Run 'no-such-run' not found" in err
    code, _, err = run(capsys, "compare", ids[0])
    assert code == 1 and "two runs or more" in err
    code, _, err = run(capsys, "compare", *ids, "--plot", "auc")
    assert code == 1 and "--plot KEY and --out FILE.png go together" in err


def test_compare_on_a_store(capsys: pytest.CaptureFixture[str], stores: dict[str, Any]) -> None:
    ids = stores["ids"]["db"]["runs"]
    code, out, _ = run(
        capsys, "compare", ids["r01"], ids["r02"], "--source", str(stores["db"]), "--format", "csv"
    )
    assert code == 0
    by_key = {r["key"]: r for r in csv.DictReader(io.StringIO(out))}
    assert by_key["tags.mlflow.parentRunId"][ids["r02"]] == ids["r01"]
    assert by_key["params.opt/lr"]["differs"] == "True"


# -- every --help example works ------------------------------------------------------------------


def _examples() -> list[tuple[str, str]]:
    found = []
    for command in COMMANDS:
        for line in command.examples.splitlines():
            if line.startswith("  runql "):
                found.append((command.name, line.strip()))
    return found


def test_every_command_has_examples() -> None:
    named = {name for name, _ in _examples()}
    assert named == {c.name for c in COMMANDS}


@pytest.mark.parametrize(("name", "example"), _examples())
def test_help_example_runs(
    name: str,
    example: str,
    stores: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    arguments = shlex.split(example, comments=True)[1:]
    if "--source" in arguments:  # the examples of --source name ./mlruns; the others read the sample
        shutil.copytree(stores["dir"], tmp_path / "mlruns")
    monkeypatch.chdir(tmp_path)
    if arguments[0] == "profiles":
        arguments = arguments[:1]  # the example redirects the output to a file
    code = main(arguments)
    out, err = capsys.readouterr()
    expected = 1 if "# refused" in example else 0
    assert code == expected, err
    assert out or err


def test_help_shows_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("runs", "experiments", "history", "compare"):
        with pytest.raises(SystemExit) as stopped:
            main([command, "--help"])
        assert stopped.value.code == 0
        out, _ = capsys.readouterr()
        assert "examples:" in out and f"runql {command} " in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "1234-5678-90AB-CDEFG", "1234-5678-90AB-CDEFG"], "more than once"),
        (
            ["compare", "1234-5678-90AB-CDEFG", "5678-1234-90AB-CDEFG", "--plot", "nosuch", "--out", "x.png"],
            "nosuch",
        ),
        (["runs", "--source", "mysql+pymysql://u:pw@127.0.0.1:9/db"], "driver"),
        (["runs", "--source", "postgresql://u:pw@127.0.0.1:9/db"], "127.0.0.1"),
        (["runs", "--source", "postgresql://u:pw@127.0.0.1:9/db", "--load"], "127.0.0.1"),
    ],
)
def test_ordinary_failures_are_messages_not_tracebacks(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, *args)
    assert code == 1
    assert "error: " in err and message in err and "Traceback" not in err


def test_a_file_that_is_not_a_workspace_is_a_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    code, _, err = run(capsys, "runs", "--source", str(other))
    assert code == 1 and err.startswith("error: ") and "not JSON" in err


def test_export_writes_a_run_table_and_keeps_an_existing_file(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "runs.parquet"
    for layout in ("flat", "map"):
        done = subprocess.run(
            [sys.executable, "-m", "runql", "export", "--out", str(out), "--layout", layout, "--force"],
            capture_output=True, text=True, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        table = pq.read_table(out)
        assert table.num_rows == len(Workspace.sample().runs)
        assert ("metrics" in table.schema.names) == (layout == "map")
    again = subprocess.run(
        [sys.executable, "-m", "runql", "export", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert again.returncode == 1 and "exists" in again.stderr


@pytest.mark.parametrize("command", ["export", "plot"])
def test_out_never_writes_through_a_link_to_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    target = tmp_path / "elsewhere" / "made.out"
    target.parent.mkdir()
    link = tmp_path / "out.file"
    link.symlink_to(target)
    ids = ("1234-5678-90AB-CDEFG", "5678-1234-90AB-CDEFG")
    args = ["export"] if command == "export" else ["compare", *ids, "--plot", "auc"]
    code, _, err = run(capsys, *args, "--out", str(link))
    assert code == 1 and "exists" in err
    assert not target.exists()


def test_plot_out_replaces_a_file_whole(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "auc.png"
    out_file.write_bytes(b"old")
    ids = ("1234-5678-90AB-CDEFG", "5678-1234-90AB-CDEFG")
    code, _, err = run(capsys, "compare", *ids, "--plot", "auc", "--out", str(out_file), "--force")
    assert code == 0, err
    assert out_file.read_bytes()[:8] == PNG
    assert [p.name for p in tmp_path.iterdir()] == ["auc.png"]  # no temporary file left beside it
