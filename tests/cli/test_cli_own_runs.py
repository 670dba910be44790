"""The ``runql`` command on a user's own runs, run as a subprocess the way a user runs it.

It finds the store MLflow would read and says which; a blank cell only ever means "never logged";
a key no run has is pointed out; warnings, pipes, files and terminals behave as in other Unix tools.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.commands import run_command as runql

from runql import Workspace, parse
from runql.common.redact import redact
from runql.errors import QueryWarning
from runql.model.keys import KeySets, absent_keys, warn_absent_keys
from runql.sources.discovery import SAMPLE_NOTICE, find_source

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """An mlruns folder and an mlflow.db, each in a folder of its own, that MLflow wrote."""
    mlflow = pytest.importorskip("mlflow")
    pytest.importorskip("yaml")
    pytest.importorskip("sqlalchemy")
    previous = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    root = tmp_path_factory.mktemp("own")
    (root / "dir").mkdir()
    (root / "db").mkdir()
    for uri in ((root / "dir" / "mlruns").as_uri(), f"sqlite:///{root / 'db' / 'mlflow.db'}"):
        client = mlflow.MlflowClient(tracking_uri=uri)
        experiment = client.create_experiment("own-experiment")
        run = client.create_run(experiment, run_name="my-own-run")
        client.log_metric(run.info.run_id, "accuracy", 0.9)
        client.set_terminated(run.info.run_id)
    yield {"dir": root / "dir", "db": root / "db"}
    if previous is None:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
    else:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = previous


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace file whose runs logged NaN, inf and -inf, and one that logged nothing."""
    ws = Workspace()
    experiment = ws.create_experiment("odd")
    for name, value in [("nan", math.nan), ("inf", math.inf), ("minus", -math.inf), ("none", None)]:
        run = ws.create_run(experiment, run_name=name, start_time=1_700_000_000_123)
        if value is not None:
            ws.log_metric(run.info.run_id, "loss", value)
        ws.set_terminated(run.info.run_id, end_time=1_700_000_060_123)
    path = tmp_path_factory.mktemp("odd") / "odd.jsonl"
    ws.save(path)
    return path


@pytest.fixture(scope="module")
def sample_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "sample.jsonl"
    Workspace.sample().save(path)
    return path


def names(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [row["run_name"] for row in csv.DictReader(io.StringIO(done.stdout))]


# -- 1. the store MLflow would read ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dir", "db"])
def test_runs_next_to_a_store_reads_it_and_says_so(own: dict[str, Path], kind: str) -> None:
    done = runql("runs", "--format", "csv", cwd=own[kind])
    assert done.returncode == 0, done.stderr
    assert names(done) == ["my-own-run"]
    store = "./mlruns" if kind == "dir" else "./mlflow.db"
    assert done.stderr.splitlines() == [f"reading {store} (pass --source to read another store)"]


def test_the_tracking_uri_comes_before_the_current_folder(own: dict[str, Path]) -> None:
    uri = f"sqlite:///{own['db'] / 'mlflow.db'}"
    done = runql("runs", "--format", "csv", env={"MLFLOW_TRACKING_URI": uri})
    assert done.returncode == 0, done.stderr
    assert names(done) == ["my-own-run"]
    assert done.stderr.splitlines() == [f"reading MLFLOW_TRACKING_URI={uri}"]


def test_the_sample_is_read_only_when_nothing_else_is_there_and_said() -> None:
    done = runql("runs", "--format", "csv", "-n", "3")
    assert done.returncode == 0
    assert done.stderr.splitlines()[0] == SAMPLE_NOTICE
    assert "pass --source or set MLFLOW_TRACKING_URI" in SAMPLE_NOTICE


def test_an_explicit_source_is_not_announced(sample_file: Path) -> None:
    done = runql("runs", "--source", str(sample_file), "--format", "csv", "--columns", "run_id")
    assert done.returncode == 0 and done.stderr == ""


def test_find_source_order(tmp_path: Path) -> None:
    assert find_source("x.jsonl", {}, tmp_path).source == "x.jsonl"
    assert find_source(None, {}, tmp_path).source is None
    (tmp_path / "mlflow.db").write_bytes(b"")
    assert find_source(None, {}, tmp_path).source == str(tmp_path / "mlflow.db")
    (tmp_path / "mlruns" / "0").mkdir(parents=True)
    assert find_source(None, {}, tmp_path).source == str(tmp_path / "mlflow.db")  # no experiment in it
    (tmp_path / "mlruns" / "0" / "meta.yaml").write_text("name: Default\n")
    assert find_source(None, {}, tmp_path).source == str(tmp_path / "mlruns")
    assert find_source(None, {"MLFLOW_TRACKING_URI": "http://h:5000"}, tmp_path).source == "http://h:5000"


# -- 2. NaN, inf and missing ----------------------------------------------------------------------


def test_nan_inf_and_missing_print_apart_in_every_format(odd: Path) -> None:
    common = ("runs", "--source", str(odd), "--columns", "run_name", "metrics.loss", "--order-by", "run_name")
    done = runql(*common, "--format", "csv")
    assert {r["run_name"]: r["metrics.loss"] for r in csv.DictReader(io.StringIO(done.stdout))} == {
        "nan": "NaN",
        "inf": "inf",
        "minus": "-inf",
        "none": "",
    }
    done = runql(*common, "--format", "json")
    assert {r["run_name"]: r["metrics.loss"] for r in json.loads(done.stdout)} == {
        "nan": "NaN",
        "inf": "Infinity",
        "minus": "-Infinity",
        "none": None,
    }
    done = runql(*common, "--format", "markdown")
    assert done.stdout.splitlines()[2:] == [
        "| inf | inf |",
        "| minus | -inf |",
        "| nan | NaN |",
        "| none |  |",
    ]
    done = runql(*common)
    cells = [line.split() for line in done.stdout.splitlines()[2:]]
    assert cells == [["inf", "inf"], ["minus", "-inf"], ["nan", "NaN"], ["none"]]


def test_compare_marks_nan_and_missing_as_different_and_shows_them_apart(odd: Path) -> None:
    ws = Workspace.load(odd)
    ids = {r.info.run_name: r.info.run_id for r in ws.runs}
    done = runql("compare", ids["nan"], ids["none"], "--source", str(odd), "--format", "csv")
    row = {r["key"]: r for r in csv.DictReader(io.StringIO(done.stdout))}["metrics.loss"]
    assert (row[ids["nan"]], row[ids["none"]], row["differs"]) == ("NaN", "", "True")


# -- 3. a key no run has ---------------------------------------------------------------------------


def test_a_key_no_run_has_is_pointed_out_and_the_answer_kept() -> None:
    done = runql("runs", "--filter", "metrics.acc > 0.8", "--format", "csv")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1  # the header: no run, as before
    assert "no run in the searched experiments has a metric 'acc'; did you mean 'accuracy'" in done.stderr
    done = runql("runs", "-c", "run_id", "metrics.acuracy", "-n", "2", "--format", "csv")
    assert "has a metric 'acuracy'; did you mean 'accuracy'" in done.stderr
    assert len(done.stdout.splitlines()) == 3  # the column is printed, empty
    done = runql("runs", "--order-by", "params.modle", "-n", "1", "--format", "csv")
    assert "order_by[0]" in done.stderr and "did you mean 'model'" in done.stderr
    done = runql("runs", "--filter", "metrics.accuracy > 0.8", "-n", "1", "--format", "csv")
    assert "unknown-key" not in done.stderr


def test_absent_keys_in_python_warn_and_change_nothing() -> None:
    ws = Workspace.sample()
    present = KeySets.of_runs(ws.runs)
    query = parse("metrics.acc > 0.8 AND params.model = 'x'", ["tags.nope"])
    found = absent_keys(query, present)
    assert [d.code for d in found] == ["unknown-key", "unknown-key"]
    assert "did you mean 'accuracy'" in found[0].message and found[0].span is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_absent_keys(query, present)
    assert [type(w.message) for w in caught] == [QueryWarning, QueryWarning]
    assert "did you mean 'accuracy'" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_absent_keys(parse("metrics.auc > 0.8"), present) == []


# -- 4. warnings as check prints them --------------------------------------------------------------


def test_warnings_print_as_check_prints_them() -> None:
    done = runql("runs", "--filter", "attributes.start_time > 1655703168", "--format", "csv")
    assert done.returncode == 0
    assert "\nwarning: filter_string, line 1, column " in done.stderr
    assert "[seconds-not-milliseconds]" in done.stderr
    assert "QueryWarning" not in done.stderr and "sys.exit" not in done.stderr


# -- 5. columns are cut only on a terminal ---------------------------------------------------------


def test_named_columns_are_never_dropped_and_a_file_is_not_sized(sample_file: Path) -> None:
    named = ["run_id", "run_name", "experiment", "status", "start_time", "metrics.auc", "params.model"]
    done = runql("runs", "--source", str(sample_file), "-n", "3", "--columns", *named, columns=40)
    header = done.stdout.splitlines()[0]
    assert re.split(r"\s{2,}", header) == [*named[:4], "start_time (UTC)", *named[5:]]
    assert "…" not in done.stdout
    wide = runql("runs", "--source", str(sample_file), "-n", "3", columns=40)
    assert len(wide.stdout.splitlines()[0]) > 80 and "…" not in wide.stdout
    assert "more column" not in wide.stderr


# -- 6. a reader that goes away ------------------------------------------------------------------


def test_a_closed_pipe_ends_quietly(sample_file: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    reader = subprocess.Popen(
        [sys.executable, "-m", "runql", "runs", "--source", str(sample_file), "--format", "csv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environ,
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.readline()
    reader.stdout.close()  # as head -1 does: the rest (more than a pipe holds) has nowhere to go
    err = reader.stderr.read()
    assert reader.wait(timeout=120) == 0
    assert err == b""


# -- 7. column globs -------------------------------------------------------------------------------


def test_column_globs_expand(sample_file: Path) -> None:
    ws = Workspace.load(sample_file)
    frame = ws.search_runs(search_all_experiments=True)
    done = runql("runs", "--source", str(sample_file), "-c", "run_id", "params.*", "--format", "csv")
    header = done.stdout.splitlines()[0].split(",")
    assert header[0] == "run_id"
    assert sorted(header[1:]) == sorted(c for c in frame.columns if c.startswith("params."))
    done = runql("runs", "--source", str(sample_file), "-c", "metrics.log*", "--format", "csv")
    assert done.stdout.splitlines()[0] == "metrics.log_loss"


# -- 8. hints --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "wanted", "unwanted"),
    [
        (["--filter", "run_name = trial-1"], "quote string values: 'trial-1'", "expected ')'"),
        (["--filter", "metrics.accuracy > 80%"], "write the fraction 0.8", "AND"),
        (["--filter", "metrics.accuracy == 0.9"], "metrics.accuracy = 0.9", "metrics.acc = 1"),
        (["--filter", "metrics.`val-loss` < 1", "-p", "azureml"], "same comparison", "> ..."),
        (["-o", "-metrics.accuracy"], "use 'metrics.accuracy DESC'", "expected one argument"),
    ],
)
def test_hints_speak_of_what_was_written(args: list[str], wanted: str, unwanted: str) -> None:
    done = runql("runs", *args)
    assert done.returncode == 1
    assert wanted in done.stderr and unwanted not in done.stderr


# -- 9. compare ------------------------------------------------------------------------------------

IDS = ("1234-5678-90AB-CDEFG", "5678-1234-90AB-CDEFG")


def test_compare_checks_the_plot_before_printing(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    done = runql("compare", *IDS, "--plot", "nope", "--out", str(tmp_path / "x.png"))
    assert done.returncode == 1 and done.stdout == ""
    assert "none of the runs logged metric 'nope'" in done.stderr


def test_compare_shows_attributes_datasets_and_right_aligned_numbers() -> None:
    done = runql("compare", *IDS)
    lines = done.stdout.splitlines()
    keys = [line.split()[0] for line in lines[2:]]
    assert keys[:4] == [
        "attributes.status",
        "attributes.start_time",
        "attributes.duration",
        "attributes.experiment",
    ]
    auc = next(line for line in lines if line.startswith("metrics.auc "))
    header = lines[0]
    first_run_end = header.index("differs") - 2
    assert auc[:first_run_end].rstrip() == auc[:first_run_end]  # ends at the column's right edge
    ws = Workspace.sample()
    if any(ws.get_run(i).inputs.dataset_inputs for i in IDS):
        assert "datasets" in keys


def test_compare_plots_several_metrics_and_single_points_as_bars(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from runql.model.comparison import plot_metric_history

    ws = Workspace.sample()
    figure = plot_metric_history(ws, list(IDS), ["auc", "log_loss"], x="time")
    assert len(figure.axes) == 2 and figure.axes[0].get_xlabel() == "seconds since the first point"
    single = Workspace()
    experiment = single.create_experiment("e")
    ids = []
    for value in (0.5, 0.7):
        run = single.create_run(experiment)
        single.log_metric(run.info.run_id, "acc", value)
        ids.append(run.info.run_id)
    bars = plot_metric_history(single, ids, "acc")
    assert len(bars.axes[0].patches) == 2 and not bars.axes[0].get_lines()
    out = tmp_path / "two.png"
    done = runql("compare", *IDS, "--plot", "auc", "--plot", "log_loss", "--x", "step", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"


# -- 10. widths, UTC, milliseconds ---------------------------------------------------------------


def test_wide_characters_align_and_times_say_utc(tmp_path: Path) -> None:
    ws = Workspace()
    experiment = ws.create_experiment("e")
    for name in ("日本語の実験", "plain"):
        run = ws.create_run(experiment, run_name=name, start_time=1_700_000_000_000)
        ws.log_metric(run.info.run_id, "auc", 0.5, timestamp=1_700_000_000_123, step=0)
    path = tmp_path / "w.jsonl"
    ws.save(path)
    done = runql("runs", "--source", str(path), "-c", "run_name", "metrics.auc", "--order-by", "run_name")
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    assert len({width(line) for line in done.stdout.splitlines()[2:]}) == 1
    done = runql("runs", "--source", str(path), "-c", "run_id", "start_time")
    assert "start_time (UTC)" in done.stdout.splitlines()[0]
    run_id = ws.runs[0].info.run_id
    done = runql("history", run_id, "auc", "--source", str(path))
    assert "timestamp (UTC)" in done.stdout and "2023-11-14 22:13:20.123" in done.stdout


# -- 11. the README ----------------------------------------------------------------------------------


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _extras() -> list[str]:
    """The optional dependencies pyproject.toml declares, but the test extra."""
    pyproject = (README.parent / "pyproject.toml").read_text()
    table = pyproject[pyproject.index("[project.optional-dependencies]") :]
    table = table[: table.index("\n[", 1)]
    return [name for name in re.findall(r"^([a-z0-9-]+) = \[", table, flags=re.MULTILINE) if name != "test"]


def test_readme_names_the_extras_of_the_tour() -> None:
    extras = _section(README.read_text(), "Extras")
    assert "'.[plot]'" in extras and "runql[plot]" in extras
    # issue 22, finding 6: "everything at once" is every extra, and each is said what it is for.
    (everything,) = re.findall(r"pip install '\.\[([a-z0-9,-]+)\]'\n", extras)
    assert sorted(everything.split(",")) == sorted(_extras())
    for extra in _extras():
        assert re.search(f"`{extra}`\\s+(for|to)\\s", extras), extra


def test_readme_sets_up_with_two_commands() -> None:
    setup = _section(README.read_text(), "Set up")
    assert re.findall(r"```bash\n(.*?)```", setup, flags=re.DOTALL) == [
        'pip install . && runql runs --filter "metrics.auc > 0.8" --order-by "metrics.auc DESC" '
        "--max-results 5\n",
        'pip install ".[test]" && pytest\n',
    ]
    assert "Java" in setup and "JRE 17" in setup  # the Spark tests need it


def test_readme_says_whose_runs_its_examples_compare() -> None:
    tour = _section(README.read_text(), "A 30-second tour")
    (line,) = [line for line in tour.splitlines() if line.startswith("runql compare ")]
    ids = line.split()[2:4]
    sample = Workspace.sample()
    assert all(sample.get_run(run_id) for run_id in ids)
    after = tour[tour.index(line) :]
    said = after[after.index("```") + 3 :].strip().split("\n\n")[0]  # the paragraph under the example
    assert "bundled sample" in said and all(run_id in said for run_id in ids)
    assert "runql runs --max-results 2 --columns run_id" in tour  # how to get ids of one's own runs


def test_docs_describe_every_command() -> None:
    from runql.cli.registry import COMMANDS

    text = (README.parent / "docs" / "cli.md").read_text()
    intro = text[: text.index("\n## ")]
    for command in COMMANDS:
        assert f"`runql {command.name}`" in intro, command.name
    for command in ("describe", "compare", "plan", "export"):
        assert f"\n## {command}\n" in text, command


# -- issue 12, finding 14 ---------------------------------------------------------------------------


def test_an_unknown_scheme_is_one_line() -> None:
    done = runql("runs", "--source", "foo+bar://x")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("error: foo+bar://x: no store reads the scheme 'foo+bar'")


def test_plot_out_refuses_to_replace_a_file(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    existing = tmp_path / "auc.png"
    existing.write_bytes(b"mine")
    done = runql("compare", *IDS, "--plot", "auc", "--out", str(existing))
    assert done.returncode == 1 and "--force" in done.stderr and done.stdout == ""
    assert existing.read_bytes() == b"mine"
    done = runql("compare", *IDS, "--plot", "auc", "--out", str(existing), "--force")
    assert done.returncode == 0 and existing.read_bytes()[:4] == b"\x89PNG"


def test_credentials_are_not_printed() -> None:
    assert redact("postgresql://alice:s3cret@db/x and http://bob:tok@h") == (
        "postgresql://alice:***@db/x and http://bob:***@h"
    )
    done = runql("runs", "--source", "postgresql://alice:s3cret@127.0.0.1:9/db")
    assert done.returncode == 1 and "s3cret" not in done.stderr


# -- features: run-id prefixes, paging, deleted experiments ---------------------------------------


def test_a_run_id_prefix_names_one_run() -> None:
    done = runql("history", "5678-1234", "log_loss", "--format", "csv")
    assert done.returncode == 0, done.stderr
    full = runql("history", IDS[1], "log_loss", "--format", "csv")
    assert done.stdout == full.stdout
    ambiguous = runql("history", "0", "auc")
    assert ambiguous.returncode == 1 and "starts the ids of several runs" in ambiguous.stderr


def test_page_tokens_continue_the_search() -> None:
    first = runql("runs", "-n", "3", "--format", "csv", "--columns", "run_id")
    token = re.search(r"--page-token (\S+)", first.stderr)
    assert token is not None
    second = runql("runs", "-n", "3", "--format", "csv", "--columns", "run_id", "--page-token", token[1])
    every = runql("runs", "-n", "6", "--format", "csv", "--columns", "run_id")
    assert first.stdout.splitlines()[1:] + second.stdout.splitlines()[1:] == every.stdout.splitlines()[1:]


def test_a_deleted_experiment_says_so() -> None:
    done = runql("runs", "-e", "archived-prototype")
    assert done.returncode == 0
    assert "experiment 'archived-prototype' is deleted" in done.stderr and "--view all" in done.stderr


def test_install_hints_name_both_forms() -> None:
    from runql.common.optional import require
    from runql.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError) as missing:
        require("no_such_module_for_runql", "plot", "--plot")
    assert "pip install 'runql[plot]'" in str(missing.value) and "pip install '.[plot]'" in str(missing.value)


def test_describe_prints_everything_about_one_run() -> None:
    ws = Workspace.sample()
    parent = "7e3a9c1d5b2f4e6a8c0d1f3b5a7c9e2d"
    child = next(r for r in ws.runs if r.data.tags.get("mlflow.parentRunId") == parent)
    done = runql("describe", child.info.run_id[:10], "--format", "json")
    assert done.returncode == 0, done.stderr
    described = json.loads(done.stdout)
    assert described["run_id"] == child.info.run_id and described["parent"] == parent
    assert described["params"] == child.data.params
    assert {k: m["value"] for k, m in described["metrics"].items()} == child.data.metrics
    assert all("step" in m for m in described["metrics"].values())
    of_parent = json.loads(runql("describe", parent, "--format", "json").stdout)
    expected = {r.info.run_id for r in ws.runs if r.data.tags.get("mlflow.parentRunId") == parent}
    assert set(of_parent["children"]) == expected and expected
    table = runql("describe", IDS[1]).stdout
    assert "xgboost-deeper" in table and "\nmetrics:\n" in table and "\nparams:\n" in table


def test_tree_puts_children_under_their_parent() -> None:
    done = runql("runs", "--tree", "--columns", "run_id", "run_name", "-e", "my_experiment")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()[2:]
    ws = Workspace.sample()
    parents = {r.info.run_id: r.data.tags.get("mlflow.parentRunId") for r in ws.runs}
    current_root = None
    for line in lines:
        run_id = line.split()[0]
        if "└" in line:
            assert parents[run_id] == current_root
        else:
            current_root = run_id
    assert any("└" in line for line in lines)
