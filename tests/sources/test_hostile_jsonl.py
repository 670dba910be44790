"""Hostile and damaged workspace files, and what a save keeps.

Every bad record is refused at load with a :class:`StoreError` naming the file and line, so no
search can trip on it later; a save keeps the permissions of the file it replaces, writes through a
symbolic link, leaves nothing behind when killed, refuses keys JSON would rename, and writes a
closing line that a file cut short lacks.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from runql import StoreError, Workspace
from runql.sources.jsonl import read_jsonl

T0 = 1_700_000_000_000


def run(run_id: str, **fields: Any) -> dict[str, Any]:
    return {"run_id": run_id, "experiment_id": "1", "start_time": T0, "metrics": {"m": 1.0}, **fields}


def workspace(count: int = 5) -> Workspace:
    return Workspace.from_records(
        experiments=[{"experiment_id": "1", "name": "one", "creation_time": T0}],
        runs=[run(f"r{i}", params={"p": str(i)}) for i in range(count)],
    )


def write_lines(path: Path, *records: Any) -> None:
    path.write_text("".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in records))


# -- bad records are refused at load, naming the line (findings 10 and 12) -------------------------

BAD_RUNS = [
    ({"user_id": {"a": 1}}, "user_id must be a string"),
    ({"run_name": [1, 2]}, "run_name must be a string"),
    ({"start_time": -1e18}, "start_time must be between"),
    ({"end_time": 10**17}, "end_time must be between"),
    ({"status": ["RUNNING"]}, "status must be one of"),
    ({"status": "DONE"}, "status must be one of"),
    ({"lifecycle_stage": "purged"}, "lifecycle_stage must be one of"),
    ({"artifact_uri": 5}, "artifact_uri must be a string"),
    ({"experiment_id": {"x": 1}}, "experiment_id must be a string"),
    ({"metrics": [1]}, "metrics must be a mapping"),
    ({"metrics": {"m": {"value": 1}}}, "a metric value must be a number"),
    ({"metrics": {"m": [{"step": 1}]}}, "has no 'value'"),
    ({"metrics": {"m": [{"value": 1, "step": 2**70}]}}, "a metric step must be between"),
    ({"inputs": "abc"}, "inputs must be a list"),
    ({"inputs": ["abc"]}, "an input must be a mapping"),
    ({"inputs": [{"dataset": "x"}]}, "an input's dataset must be a mapping"),
    ({"inputs": [{"dataset": {"digest": "d"}}]}, "a dataset needs a 'name'"),
    ({"inputs": [{"dataset": {"name": "d", "source": ["x"]}}]}, "a dataset source must be a string"),
    ({"params": {"p": {"nested": 1}}}, "param 'p' must be a string"),
    ({"tags": {"t": [1]}}, "tag 't' must be a string"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_RUNS)
def test_a_bad_run_record_is_refused_at_load_naming_its_line(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    target = tmp_path / "ws.jsonl"
    write_lines(target, {"kind": "run", **run("good")}, {"kind": "run", **run("bad", **fields)})
    with pytest.raises(StoreError, match=message) as raised:
        Workspace.load(target)
    assert raised.value.where == f"{target}, line 2"
    with pytest.raises(ValueError, match=message):
        Workspace.from_records(runs=[run("bad", **fields)])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": {"a": 1}}, "an experiment name must be a string"),
        ({"lifecycle_stage": 3}, "lifecycle_stage must be one of"),
        ({"creation_time": 1e300}, "creation_time must be between"),
        ({"artifact_location": ["x"]}, "artifact_location must be a string"),
        ({"tags": {"t": {"x": 1}}}, "experiment tag 't' must be a string"),
    ],
)
def test_a_bad_experiment_record_names_its_line(tmp_path: Path, fields: dict[str, Any], message: str) -> None:
    target = tmp_path / "ws.jsonl"
    write_lines(target, "\n", {"kind": "experiment", "experiment_id": "1", **fields})
    with pytest.raises(StoreError, match=message) as raised:
        Workspace.load(target)
    assert raised.value.where == f"{target}, line 2"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"kind": "workspace", "format": "runql-workspace", "version": "2"}\n', "not a runql workspace"),
        ('{"kind": "workspace", "format": "runql-workspace", "version": 99}\n', "not a runql workspace"),
        (
            '{"kind": "workspace", "format": "runql-workspace", "active_experiment_id": [1]}\n',
            "must be a string",
        ),
        ("[1, 2]\n", "expected a JSON object, not list"),
        ('"run"\n', "expected a JSON object, not str"),
        ('{"kind": ["run"]}\n', "expected a run or experiment record"),
        ("[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
        (
            '{"kind": "run", "run_id": "a", "tags": ' + '{"a": ' * 50_000 + "1" + "}" * 50_001 + "\n",
            "nested too deeply",
        ),
    ],
)
def test_hostile_lines_are_store_errors(tmp_path: Path, line: str, message: str) -> None:
    target = tmp_path / "ws.jsonl"
    target.write_text('{"kind": "experiment", "experiment_id": "1"}\n' + line)
    with pytest.raises(StoreError, match=message) as raised:
        Workspace.load(target)
    assert raised.value.where == f"{target}, line 2"


def test_a_file_that_is_not_utf8_is_a_store_error(tmp_path: Path) -> None:
    target = tmp_path / "ws.jsonl"
    target.write_bytes(b'{"kind": "run", "run_id": "\xff"}\n')
    with pytest.raises(StoreError, match="not UTF-8"):
        Workspace.load(target)


def test_every_search_works_on_what_loaded(tmp_path: Path) -> None:
    # The loophole of finding 10: values that loaded but broke every search. Valid edge values load and
    # search; the frame shows their times.
    target = tmp_path / "ws.jsonl"
    write_lines(
        target,
        {"kind": "run", **run("a", start_time=2**53 - 1, user_id="u", run_name="n")},
        {"kind": "run", **run("b", start_time=-(2**53), end_time=None)},
    )
    ws = Workspace.load(target)
    frame = ws.search_runs(experiment_ids=["1"], order_by=["attributes.user_id"])
    assert list(frame["run_id"]) == ["a", "b"]
    assert [
        r.info.run_id for r in ws.search_runs(["1"], "attributes.user_id = 'u'", output_format="list")
    ] == ["a"]


# -- save fidelity (finding 13) --------------------------------------------------------------------


def test_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "ws.jsonl"
    workspace().save(target)
    for mode in (0o644, 0o640, 0o600):
        os.chmod(target, mode)
        workspace().save(target)
        assert stat.S_IMODE(target.stat().st_mode) == mode


def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        workspace().save(tmp_path / "new.jsonl")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.jsonl").stat().st_mode) == 0o644


def test_save_through_a_symbolic_link_replaces_the_file_it_points_to(tmp_path: Path) -> None:
    real = tmp_path / "data" / "ws.jsonl"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "ws.jsonl"
    link.symlink_to(real)
    workspace(3).save(link)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert len(Workspace.load(real).runs) == 3
    assert sorted(p.name for p in real.parent.iterdir()) == ["ws.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "ws.jsonl"]


@pytest.mark.parametrize(
    ("part", "key", "shown"),
    [("params", 5, "5"), ("tags", None, "None"), ("metrics", 1.5, "1.5")],
)
def test_save_refuses_keys_json_would_rename(tmp_path: Path, part: str, key: Any, shown: str) -> None:
    target = tmp_path / "ws.jsonl"
    ws = workspace(2)
    ws.save(target)
    before = target.read_bytes()
    getattr(ws.runs[0].data, part)[key] = 1.0 if part == "metrics" else "x"
    with pytest.raises(ValueError, match=f"keys must be strings, not {shown}"):
        ws.save(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ws.jsonl"]


def test_writes_refuse_keys_that_are_not_strings() -> None:
    ws = workspace(1)
    run_id = ws.runs[0].info.run_id
    for write in (
        lambda: ws.log_param(run_id, 5, "x"),  # type: ignore[arg-type]
        lambda: ws.set_tag(run_id, None, "x"),  # type: ignore[arg-type]
        lambda: ws.log_metric(run_id, 1.5, 1.0),  # type: ignore[arg-type]
        lambda: ws.create_run("1", tags={5: "x"}),  # type: ignore[dict-item]
    ):
        with pytest.raises(ValueError, match="must be a string"):
            write()
    with pytest.raises(ValueError, match="keys must be strings"):
        Workspace.from_records(runs=[run("a", metrics={5: 1.0})])
    assert len(ws.runs) == 1 and ws.runs[0].data.params == {"p": "0"}


@pytest.mark.parametrize("kept", [1, 2, 4, 6])
def test_a_file_cut_at_a_line_boundary_is_refused(tmp_path: Path, kept: int) -> None:
    target = tmp_path / "ws.jsonl"
    workspace(5).save(target)
    lines = target.read_text().splitlines(keepends=True)
    assert len(lines) == 8  # header, experiment, five runs, closing line
    target.write_text("".join(lines[:kept]))
    with pytest.raises(StoreError, match="cut short") as raised:
        Workspace.load(target)
    assert raised.value.where == str(target)


def test_a_closing_line_that_disagrees_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "ws.jsonl"
    workspace(5).save(target)
    lines = target.read_text().splitlines(keepends=True)
    target.write_text("".join(lines[:3] + lines[4:]))  # one run line taken out of the middle
    with pytest.raises(StoreError, match="counts 5 runs, but the file holds 4") as raised:
        Workspace.load(target)
    assert raised.value.where == f"{target}, line 7"
    target.write_text("".join(lines) + json.dumps({"kind": "run", **run("late")}) + "\n")
    with pytest.raises(StoreError, match="after the closing line"):
        Workspace.load(target)


def test_files_of_the_first_format_still_load(tmp_path: Path) -> None:
    target = tmp_path / "old.jsonl"
    write_lines(
        target,
        {"kind": "workspace", "format": "runql-workspace", "version": 1, "active_experiment_id": "1"},
        {"kind": "experiment", "experiment_id": "1", "name": "one"},
        {"kind": "run", **run("a")},
    )
    ws = Workspace.load(target)
    assert [r.info.run_id for r in ws.runs] == ["a"] and ws.active_experiment_id == "1"
    # A file with no header at all (hand-written records) also loads as before.
    write_lines(target, {"kind": "run", **run("a")})
    assert [r.info.run_id for r in Workspace.load(target).runs] == ["a"]


def test_a_save_round_trips_through_the_new_format(tmp_path: Path) -> None:
    target = tmp_path / "ws.jsonl"
    ws = workspace(5)
    ws.save(target)
    records = read_jsonl(target)
    assert (len(records.experiments), len(records.runs)) == (1, 5)
    assert Workspace.load(target).runs == ws.runs


# A save killed midway: the subprocess saves a workspace whose histories come from a source that, once
# asked (the temporary file exists by then), tells the parent and waits to be killed.
_KILLED_SAVE = textwrap.dedent(
    """
    import sys, time
    from runql import Workspace

    class Stalling:
        def history(self, run_id, key):
            return []
        def histories(self, run_ids):
            print("saving", flush=True)
            time.sleep(600)
            return {}

    ws = Workspace.from_records(runs=[{"run_id": "a", "metrics": {"m": 1.0}}], history_source=Stalling())
    ws.save(sys.argv[1])
    """
)


@pytest.mark.skipif(os.name != "posix", reason="kill -9 and process liveness are POSIX")
def test_a_save_killed_midway_leaves_the_old_file_and_its_leftover_is_cleaned(tmp_path: Path) -> None:
    target = tmp_path / "ws.jsonl"
    workspace(2).save(target)
    before = target.read_bytes()
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SAVE, str(target)], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "saving\n"
        leftovers = [p.name for p in tmp_path.iterdir() if p.name != "ws.jsonl"]
        assert len(leftovers) == 1 and leftovers[0].startswith(".ws.jsonl.")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
    assert target.read_bytes() == before
    assert len(Workspace.load(target).runs) == 2  # the leftover is hidden and is no part of the file
    workspace(3).save(target)
    assert [p.name for p in tmp_path.iterdir()] == ["ws.jsonl"]
    assert len(Workspace.load(target).runs) == 3


def test_a_save_leaves_the_files_of_live_saves_alone(tmp_path: Path) -> None:
    import socket

    target = tmp_path / "ws.jsonl"
    mine = tmp_path / f".ws.jsonl.{socket.gethostname()}.{os.getpid()}.abc.runql-save"
    mine.write_text("being written")
    other_file = tmp_path / ".other.jsonl.x.1.abc.runql-save"
    other_file.write_text("another target's")
    workspace(1).save(target)
    assert mine.exists() and other_file.exists()
