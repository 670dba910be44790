"""A Parquet run table (``runql export``, either layout) loads back into a workspace as columns: the same
runs and the same answers as the workspace it was written from; a file that is no run table is refused
naming what is wrong.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
parquet = pytest.importorskip("pyarrow.parquet")

from support.commands import run_command  # noqa: E402

import runql  # noqa: E402
from runql.engines.column_first import ColumnFirstRuns  # noqa: E402
from runql.errors import StoreError  # noqa: E402
from runql.model.entities import Run  # noqa: E402
from runql.sources.export import write_run_table  # noqa: E402
from runql.sources.schemes import source_kind  # noqa: E402

QUERIES = [
    ("", []),
    ("metrics.auc > 0.5", ["params.model", "metrics.`f1-score` DESC"]),
    ("tags.team != 'vision' AND attributes.status = 'FINISHED'", ["attributes.end_time"]),
    ("datasets.context = 'training'", []),
]


def _numbers(metrics: dict[str, float]) -> dict[str, object]:
    return {key: "NaN" if math.isnan(value) else value for key, value in metrics.items()}


def _datasets(run: Run) -> list[tuple[str, str, str | None]]:
    return [(i.dataset.name, i.dataset.digest, i.context) for i in run.inputs.dataset_inputs]


@pytest.fixture(scope="module")
def sample() -> runql.Workspace:
    return runql.Workspace.sample()


@pytest.mark.parametrize("layout", ["flat", "map"])
def test_a_run_table_loads_back_as_the_runs_it_was_written_from(
    sample: runql.Workspace, tmp_path: Path, layout: str
) -> None:
    path = tmp_path / "runs.parquet"
    write_run_table(sample.runs, path, layout)
    assert source_kind(path) == "parquet"
    loaded = runql.Workspace.load(path)
    assert isinstance(loaded._columns(), ColumnFirstRuns)
    for run in loaded.runs:
        original = sample.get_run(run.info.run_id)
        assert run.info == original.info
        assert _numbers(run.data.metrics) == _numbers(original.data.metrics)
        assert (run.data.params, run.data.tags) == (original.data.params, original.data.tags)
        assert _datasets(run) == _datasets(original)  # what the table keeps of them
    experiments = sorted({run.info.experiment_id for run in sample.runs})
    every = {"run_view_type": "ALL"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for filter_string, order_by in QUERIES:
            found = loaded.search_runs(experiments, filter_string, order_by=order_by, **every)
            assert found.equals(sample.search_runs(experiments, filter_string, order_by=order_by, **every))


def test_the_command_reads_a_run_table(sample: runql.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "runs.table"  # told by its first bytes, whatever its name
    write_run_table(sample.runs, path)
    assert source_kind(path) == "parquet"
    done = run_command("runs", "--source", str(path), "--filter", "metrics.auc > 0.9", "--max-results", "3")
    assert done.returncode == 0, done.stderr
    assert "auc" in done.stdout


# One run's attributes, as a flat run table holds them.
RUN: dict[str, list[object]] = {
    **{name: ["x"] for name in ("run_id", "experiment_id", "artifact_uri", "run_name", "user_id")},
    "status": ["FINISHED"],
    "lifecycle_stage": ["active"],
    "start_time": [pa.scalar(1, type=pa.timestamp("ms", tz="UTC"))],
    "end_time": [pa.scalar(None, type=pa.timestamp("ms", tz="UTC"))],
}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"run_id": ["a"]}, "lacks the columns experiment_id, status"),
        ({**RUN, "start_time": [1]}, "column start_time must hold a timestamp, not int64"),
        ({**RUN, "status": ["DONE"]}, "status must be one of RUNNING, .*, not 'DONE'"),
        ({**{k: v * 2 for k, v in RUN.items()}, "run_id": ["a", "a"]}, "must name each run once"),
    ],
)
def test_a_file_that_is_no_run_table_is_refused(
    tmp_path: Path, table: dict[str, list[object]], message: str
) -> None:
    path = tmp_path / "other.parquet"
    parquet.write_table(pa.table(table), path)
    with pytest.raises(StoreError, match=message) as caught:
        runql.Workspace.load(path)
    assert caught.value.where == str(path)
