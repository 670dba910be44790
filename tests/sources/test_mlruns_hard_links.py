"""Hard links in an mlruns folder: a file with another name is the same file, possibly outside the store
(``params/leak`` linked to a secret), and no path says where the other names are. MLflow writes none, so
the reader refuses any file with more than one name, as it refuses a symbolic link out of the store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from runql import StoreError, from_mlflow_dir

RUN = "a1b2c3"
T0 = 1_700_000_000_000


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """An mlruns folder as MLflow lays it out: one experiment, one run with a metric, a param and a tag."""
    root = tmp_path / "mlruns"
    run = root / "1" / RUN
    for folder in ("metrics", "params", "tags"):
        (run / folder).mkdir(parents=True)
    (root / "1" / "meta.yaml").write_text(
        f"experiment_id: '1'\nname: one\nartifact_location: file:///tmp/1\nlifecycle_stage: active\n"
        f"creation_time: {T0}\nlast_update_time: {T0}\n"
    )
    (run / "meta.yaml").write_text(
        f"run_id: {RUN}\nrun_uuid: {RUN}\nexperiment_id: '1'\nrun_name: first\nuser_id: alice\nstatus: 3\n"
        f"start_time: {T0}\nend_time: {T0 + 10}\nartifact_uri: file:///tmp/1/{RUN}/artifacts\n"
        "lifecycle_stage: active\n"
    )
    (run / "metrics" / "loss").write_text(f"{T0} 0.5 0\n")
    (run / "params" / "lr").write_text("0.1")
    (run / "tags" / "team").write_text("vision")
    return root


def test_the_store_loads(store: Path) -> None:
    ws = from_mlflow_dir(store)
    assert ws.get_run(RUN).data.params == {"lr": "0.1"}


def test_a_hard_link_to_a_file_outside_the_store_is_refused(store: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2")
    leak = store / "1" / RUN / "params" / "leak"
    os.link(secret, leak)
    with pytest.raises(StoreError) as caught:
        from_mlflow_dir(store)
    error = caught.value
    assert (error.code, error.where) == ("unsafe-store", str(leak))
    assert "2 names (hard links)" in error.message and "hunter2" not in str(error)


@pytest.mark.parametrize("name", ["meta.yaml", "metrics/loss", "tags/team"])
def test_any_file_with_a_second_name_is_refused(store: Path, tmp_path: Path, name: str) -> None:
    read = store / "1" / RUN / name
    os.link(read, tmp_path / "second-name")
    with pytest.raises(StoreError) as caught:
        from_mlflow_dir(store)
    assert (caught.value.code, caught.value.where) == ("unsafe-store", str(read))
