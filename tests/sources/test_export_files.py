"""Writing a run table (``runql export``): what is at ``--out`` is kept unless replacing it was asked for,
a symbolic link to nothing included; a replaced file is replaced whole or not at all; and runs whose keys
differ only in case have no flat table (Spark, ignoring case, refuses the file)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from runql import ArgumentError  # noqa: E402
from runql.model.records import run_from_record  # noqa: E402
from runql.sources.export import run_table, write_run_table  # noqa: E402

RUNS = [
    run_from_record({"run_id": "r1", "metrics": {"auc": 0.9}, "params": {"lr": "0.1"}}),
    run_from_record({"run_id": "r2", "metrics": {"auc": 0.8}, "params": {"lr": "0.2"}}),
]


def run_ids(path: Path) -> list[str]:
    return [str(value) for value in pq.read_table(path).column("run_id").to_pylist()]


def test_a_link_to_nothing_is_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "planted.parquet"
    target.parent.mkdir()
    out = tmp_path / "runs.parquet"
    out.symlink_to(target)
    assert not os.path.exists(out)  # what a check for an existing file sees
    with pytest.raises(ArgumentError) as caught:
        write_run_table(RUNS, out, replace=False)
    assert (caught.value.code, caught.value.where) == ("out-exists", "out")
    assert f"a symbolic link to {target}" in caught.value.message
    assert not target.exists() and out.is_symlink()


def test_a_file_there_is_kept_unless_replacing_is_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "runs.parquet"
    out.write_bytes(b"mine")
    with pytest.raises(ArgumentError) as caught:
        write_run_table(RUNS, out, replace=False)
    assert caught.value.code == "out-exists" and out.read_bytes() == b"mine"
    assert write_run_table(RUNS, out) == 2
    assert run_ids(out) == ["r1", "r2"]


def test_a_failed_export_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "runs.parquet"
    write_run_table(RUNS[:1], out)
    before = out.read_bytes()
    write_table = pq.write_table

    def fails_after_writing(table: Any, where: Any, **options: Any) -> None:
        write_table(table, where, **options)  # the new table is written, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", fails_after_writing)
    with pytest.raises(OSError, match="No space left"):
        write_run_table(RUNS, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.parquet"]  # no temporary file left


def test_replacing_keeps_the_link_and_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "tables" / "runs.parquet"
    target.parent.mkdir()
    write_run_table(RUNS[:1], target)
    os.chmod(target, 0o640)
    link = tmp_path / "runs.parquet"
    link.symlink_to(target)
    write_run_table(RUNS, link)
    assert link.is_symlink() and run_ids(target) == ["r1", "r2"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize(
    ("part", "keys"), [("metrics", ("A", "a")), ("params", ("Lr", "lr")), ("tags", ("É", "é"))]
)
def test_keys_that_differ_only_in_case_have_no_flat_table(part: str, keys: tuple[str, str]) -> None:
    values: dict[str, Any] = {"metrics": 1.0, "params": "x", "tags": "y"}
    runs = [
        run_from_record({"run_id": "r1", part: {keys[0]: values[part]}}),
        run_from_record({"run_id": "r2", part: {keys[1]: values[part]}}),
    ]
    with pytest.raises(ArgumentError) as caught:
        run_table(runs, "flat")
    error = caught.value
    assert error.code == "case-collision"
    assert f"{part}.{keys[0]}, {part}.{keys[1]}" in error.message
    assert "runql export --layout map" in error.hint
    table = run_table(runs, "map")  # the map layout keeps both keys apart
    assert [dict(row) for row in table.column(part).to_pylist()] == [
        {keys[0]: values[part]},
        {keys[1]: values[part]},
    ]


def test_an_unknown_layout_is_an_argument_error(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError) as caught:
        write_run_table(RUNS, tmp_path / "runs.parquet", "wide")
    assert (caught.value.code, caught.value.where) == ("bad-layout", "layout")
    assert not (tmp_path / "runs.parquet").exists()
