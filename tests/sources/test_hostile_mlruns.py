"""Hostile mlruns folders: links out of the store, pipes and devices, YAML alias bombs, fields of the
wrong type. Each is refused with a :class:`StoreError` naming the path at fault, before any search."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from runql import StoreError, Workspace, from_mlflow_dir

RUN = "a1b2c3"
T0 = 1_700_000_000_000


def experiment_meta(**fields: object) -> str:
    values = {
        "experiment_id": "'1'",
        "name": "one",
        "artifact_location": "file:///tmp/1",
        "lifecycle_stage": "active",
        "creation_time": T0,
        "last_update_time": T0,
        **fields,
    }
    return "".join(f"{key}: {value}\n" for key, value in values.items())


def run_meta(**fields: object) -> str:
    values = {
        "run_id": RUN,
        "run_uuid": RUN,
        "experiment_id": "'1'",
        "run_name": "first",
        "user_id": "alice",
        "status": 3,
        "start_time": T0,
        "end_time": T0 + 10,
        "artifact_uri": "file:///tmp/1/a/artifacts",
        "lifecycle_stage": "active",
        **fields,
    }
    return "".join(f"{key}: {value}\n" for key, value in values.items())


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A small mlruns folder, as MLflow lays it out: one experiment, one run with a metric, a param
    and a tag."""
    root = tmp_path / "mlruns"
    run = root / "1" / RUN
    for folder in ("metrics", "params", "tags"):
        (run / folder).mkdir(parents=True)
    (root / "1" / "meta.yaml").write_text(experiment_meta())
    (run / "meta.yaml").write_text(run_meta())
    (run / "metrics" / "loss").write_text(f"{T0} 0.5 0\n")
    (run / "params" / "lr").write_text("0.1")
    (run / "tags" / "team").write_text("vision")
    return root


def test_the_plain_store_loads(store: Path) -> None:
    ws = from_mlflow_dir(store)
    (run,) = ws.runs
    assert (run.data.params, run.data.tags, run.data.metrics) == (
        {"lr": "0.1"},
        {"team": "vision"},
        {"loss": 0.5},
    )


# -- links and special files (finding 8) -----------------------------------------------------------


@pytest.mark.parametrize("part", ["tags", "params", "metrics"])
def test_a_link_out_of_the_store_is_refused(store: Path, tmp_path: Path, part: str) -> None:
    secret = tmp_path / "secret"
    secret.write_text(f"{T0} 1 0\n" if part == "metrics" else "the password")
    link = store / "1" / RUN / part / "leak"
    link.symlink_to(secret)
    with pytest.raises(StoreError, match="outside the store: refused") as raised:
        from_mlflow_dir(store)
    assert raised.value.where == str(link) and raised.value.code == "unsafe-store"


def test_a_link_to_a_device_is_refused(store: Path) -> None:
    link = store / "1" / RUN / "tags" / "zero"
    link.symlink_to("/dev/zero")
    with pytest.raises(StoreError, match="outside the store") as raised:
        from_mlflow_dir(store)
    assert raised.value.where == str(link)


def test_a_linked_folder_out_of_the_store_is_refused(store: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "shadow").write_text("root:x")
    link = store / "1" / RUN / "tags" / "etc"
    link.symlink_to(outside, target_is_directory=True)
    with pytest.raises(StoreError, match="outside the store") as raised:
        from_mlflow_dir(store)
    assert raised.value.where == str(link)
    link.unlink()
    run_link = store / "1" / "b2c3d4"
    run_link.symlink_to(outside, target_is_directory=True)
    with pytest.raises(StoreError, match="outside the store") as raised:
        from_mlflow_dir(store)
    assert raised.value.where == str(run_link)


def test_a_meta_yaml_linked_out_of_the_store_is_refused(store: Path, tmp_path: Path) -> None:
    meta = store / "1" / RUN / "meta.yaml"
    copy = tmp_path / "meta.yaml"
    copy.write_text(meta.read_text())
    meta.unlink()
    meta.symlink_to(copy)
    with pytest.raises(StoreError, match="outside the store") as raised:
        from_mlflow_dir(store)
    assert raised.value.where == str(meta)


def test_a_link_that_stays_in_the_store_is_read(store: Path) -> None:
    shared = store / "1" / RUN / "tags" / "team"
    (store / "1" / RUN / "params" / "team").symlink_to(shared)
    (run,) = from_mlflow_dir(store).runs
    assert run.data.params == {"lr": "0.1", "team": "vision"}


def test_a_folder_link_that_loops_is_refused(store: Path) -> None:
    tags = store / "1" / RUN / "tags"
    (tags / "nested").mkdir()
    (tags / "nested" / "back").symlink_to(tags, target_is_directory=True)
    with pytest.raises(StoreError, match="loops") as raised:
        from_mlflow_dir(store)
    assert (
        raised.value.where.startswith(str(tags / "nested" / "back")) and raised.value.code == "unsafe-store"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_without_hanging(store: Path) -> None:
    pipe = store / "1" / RUN / "tags" / "pipe"
    os.mkfifo(pipe)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            from_mlflow_dir(store)
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(timeout=60)
    if reader.is_alive():
        # The load hangs on the pipe: open a writer so that it ends, then fail.
        with open(pipe, "w"):
            pass
        reader.join()
        pytest.fail("the load blocked on a named pipe")
    (error,) = outcome
    assert isinstance(error, StoreError) and error.code == "unsafe-store"
    assert error.where == str(pipe) and "named pipe" in error.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_as_meta_yaml_is_refused(store: Path) -> None:
    meta = store / "1" / RUN / "meta.yaml"
    meta.unlink()
    os.mkfifo(meta)
    with pytest.raises(StoreError, match="named pipe") as raised:
        from_mlflow_dir(store)
    assert raised.value.where == str(meta)


def test_a_dataset_folder_outside_the_datasets_is_refused(store: Path) -> None:
    inputs = store / "1" / RUN / "inputs" / "i1"
    inputs.mkdir(parents=True)
    (inputs / "meta.yaml").write_text("source_type: DATASET\nsource_id: ../..\ndestination_type: RUN\n")
    with pytest.raises(StoreError, match="not a dataset's folder name") as raised:
        from_mlflow_dir(store)
    assert raised.value.where == str(inputs / "meta.yaml")


# -- YAML aliases (finding 9) ----------------------------------------------------------------------

BOMB = "".join(f"x{i}: &a{i + 1} [" + ", ".join([f"*a{i}"] * 9) + "]\n" for i in range(1, 12))


@pytest.mark.parametrize(
    ("which", "field"),
    [("experiment", "name"), ("experiment", "tags"), ("run", "user_id"), ("run", "run_name")],
)
def test_yaml_aliases_are_refused(store: Path, which: str, field: str) -> None:
    meta = store / "1" / "meta.yaml" if which == "experiment" else store / "1" / RUN / "meta.yaml"
    text = experiment_meta() if which == "experiment" else run_meta()
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith(f"{field}:")]
    meta.write_text("x0: &a1 [lol]\n" + BOMB + "".join(lines) + f"{field}: *a12\n")
    with pytest.raises(StoreError, match="YAML aliases") as raised:
        from_mlflow_dir(store)
    assert raised.value.where == str(meta) and raised.value.code == "unsafe-store"


def test_a_star_in_a_value_is_no_alias(store: Path) -> None:
    (store / "1" / RUN / "meta.yaml").write_text(run_meta(run_name="'a*b'", user_id="x*y"))
    (run,) = from_mlflow_dir(store).runs
    assert (run.info.run_name, run.info.user_id) == ("a*b", "x*y")


# -- fields of the wrong type (findings 9 and 10) --------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"user_id": "{a: 1}"}, "user_id must be a string"),
        ({"run_name": "[1, 2]"}, "run_name must be a string"),
        ({"start_time": -(10**18)}, "start_time must be between"),
        ({"end_time": "1e400"}, "end_time must be an integer"),
        ({"artifact_uri": "[x]"}, "artifact_uri must be a string"),
        ({"status": "[3]"}, "unknown run status"),
        ({"lifecycle_stage": "{x: 1}"}, "unknown lifecycle_stage"),
        ({"run_id": "{a: 1}"}, "run_id must be a string"),
    ],
)
def test_a_run_field_of_the_wrong_type_names_the_file(
    store: Path, fields: dict[str, object], message: str
) -> None:
    meta = store / "1" / RUN / "meta.yaml"
    meta.write_text(run_meta(**fields))
    with pytest.raises(StoreError, match=message) as raised:
        from_mlflow_dir(store)
    assert raised.value.where == str(meta)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "{a: 1}"}, "name must be a string"),
        ({"tags": "{a: [1, 2]}"}, "tags must map names to plain values"),
        ({"tags": "5"}, "tags must be a mapping"),
        ({"artifact_location": "[1]"}, "artifact_location must be a string"),
        ({"creation_time": 10**17}, "creation_time must be between"),
        ({"lifecycle_stage": "purged"}, "unknown lifecycle_stage"),
    ],
)
def test_an_experiment_field_of_the_wrong_type_names_the_file(
    store: Path, fields: dict[str, object], message: str
) -> None:
    meta = store / "1" / "meta.yaml"
    meta.write_text(experiment_meta(**fields))
    with pytest.raises(StoreError, match=message) as raised:
        from_mlflow_dir(store)
    assert raised.value.where == str(meta)


def test_what_loads_can_be_searched(store: Path) -> None:
    (store / "1" / "meta.yaml").write_text(experiment_meta(tags="{team: 5, legacy: true}"))
    ws = Workspace.load(store)
    assert ws.get_experiment("1").tags == {"team": "5", "legacy": "True"}
    assert len(ws.search_runs(["1"], "attributes.user_id = 'alice'")) == 1
