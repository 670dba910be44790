"""The DataFrame and list shapes of search results (checklist rows 59-62)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from runql import ArgumentError, Run, Workspace
from runql.model.frames import INFO_COLUMNS, check_output_format, format_runs, runs_to_frame
from runql.model.records import run_from_record

T0 = 1_655_703_168_000


def make(run_id: str, start: int | None = T0, end: int | None = None, **parts: Any) -> Run:
    return run_from_record(
        {"run_id": run_id, "experiment_id": "7", "start_time": start, "end_time": end, **parts}
    )


def row_by_row(runs: list[Run]) -> pd.DataFrame:
    """The frame built one run at a time, converting each time on its own, as mlflow.search_runs does."""
    data: dict[str, list[Any]] = {name: [] for name in INFO_COLUMNS}
    groups: dict[str, dict[str, list[Any]]] = {"metrics": {}, "params": {}, "tags": {}}
    for index, run in enumerate(runs):
        for name in ("run_id", "experiment_id", "status", "artifact_uri"):
            data[name].append(getattr(run.info, name))
        data["start_time"].append(pd.to_datetime(run.info.start_time, unit="ms", utc=True))
        data["end_time"].append(pd.to_datetime(run.info.end_time, unit="ms", utc=True))
        for part, columns in groups.items():
            values = getattr(run.data, part)
            missing = np.nan if part == "metrics" else None
            for key, column in columns.items():
                column.append(values.get(key, missing))
            for key in sorted(set(values) - set(columns)):
                columns[key] = [missing] * index + [values[key]]
    for part, columns in groups.items():
        for key, column in columns.items():
            data[f"{part}.{key}"] = column
    return pd.DataFrame(data)


def test_empty_result_has_the_six_info_columns() -> None:
    frame = runs_to_frame([])
    assert list(frame.columns) == list(INFO_COLUMNS)
    assert len(frame) == 0
    pd.testing.assert_frame_equal(frame, row_by_row([]))
    assert set(frame.dtypes.astype(str)) == {"float64"}


def test_column_groups_in_first_seen_order_sorted_within_a_run() -> None:
    runs = [
        make("a", metrics={"z": 1, "b": 2}, params={"y": "1"}, tags={"t2": "x", "t1": "y"}),
        make("b", metrics={"a": 3, "z": 4}, params={"x": "2", "y": "3"}, tags={"t0": "z"}),
    ]
    frame = runs_to_frame(runs)
    assert list(frame.columns) == [
        *INFO_COLUMNS,
        "metrics.b",
        "metrics.z",
        "metrics.a",
        "params.y",
        "params.x",
        "tags.t1",
        "tags.t2",
        "tags.t0",
    ]
    pd.testing.assert_frame_equal(frame, row_by_row(runs))


def test_missing_metric_is_nan_and_missing_param_or_tag_is_null() -> None:
    runs = [make("a", metrics={"m": 1.5}, params={"p": "v"}), make("b", tags={"t": "w"})]
    frame = runs_to_frame(runs)
    assert frame["metrics.m"].dtype == np.float64
    assert math.isnan(frame.loc[1, "metrics.m"])
    assert pd.isna(frame.loc[1, "params.p"]) and pd.isna(frame.loc[0, "tags.t"])
    pd.testing.assert_frame_equal(frame, row_by_row(runs))


def test_times_are_utc_aware_like_mlflow() -> None:
    runs = [make("a", end=T0 + 5), make("b", start=T0 + 1)]
    frame = runs_to_frame(runs)
    assert str(frame["start_time"].dtype) == str(pd.Series([pd.to_datetime(T0, unit="ms", utc=True)]).dtype)
    assert frame.loc[0, "start_time"] == pd.Timestamp("2022-06-20 05:32:48", tz="UTC")
    assert frame.loc[0, "end_time"] == pd.Timestamp("2022-06-20 05:32:48.005", tz="UTC")
    assert pd.isna(frame.loc[1, "end_time"])
    pd.testing.assert_frame_equal(frame, row_by_row(runs))


def test_no_run_has_ended() -> None:
    runs = [make("a"), make("b")]
    pd.testing.assert_frame_equal(runs_to_frame(runs), row_by_row(runs))


def test_unusual_values_survive() -> None:
    runs = [
        make("a", metrics={"m": "NaN", "inf": "Infinity"}, params={"p": ""}, tags={"t": "a\nb"}),
        make("b", metrics={"m": "-Infinity"}, artifact_uri="file:///tmp/x"),
    ]
    frame = runs_to_frame(runs)
    assert math.isnan(frame.loc[0, "metrics.m"]) and frame.loc[1, "metrics.m"] == -math.inf
    assert frame.loc[0, "params.p"] == "" and frame.loc[0, "tags.t"] == "a\nb"
    pd.testing.assert_frame_equal(frame, row_by_row(runs))


def test_list_output_returns_the_run_objects() -> None:
    runs = [make("a"), make("b")]
    listed = format_runs(runs, "list")
    assert listed == runs and all(x is y for x, y in zip(listed, runs, strict=True))


@pytest.mark.parametrize("bad", ["json", "PANDAS", "", "dataframe"])
def test_unsupported_output_format(bad: str) -> None:
    with pytest.raises(ArgumentError) as raised:
        check_output_format(bad)
    assert raised.value.code == "bad-output-format"
    assert isinstance(raised.value, ValueError)
    assert "Unsupported output format" in str(raised.value)


def test_workspace_checks_the_format_before_searching() -> None:
    ws = Workspace.from_records(runs=[{"run_id": "a", "experiment_id": "0", "start_time": T0}])
    with pytest.raises(ArgumentError):
        ws.search_runs(output_format="json")


def test_sample_frame() -> None:
    ws = Workspace.sample()
    frame = ws.search_runs(search_all_experiments=True)
    runs = ws.search_runs(search_all_experiments=True, output_format="list")
    assert list(frame["run_id"]) == [r.info.run_id for r in runs]
    pd.testing.assert_frame_equal(frame, row_by_row(runs))
    assert frame.columns[6].startswith("metrics.")
    assert {"tags.mlflow.runName", "tags.mlflow.parentRunId", "params.num_boost_round"} <= set(frame.columns)
