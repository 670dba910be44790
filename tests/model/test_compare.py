"""compare_runs: one row per key, one column per run, differences marked; plot_metric_history: a PNG."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from runql import NotFoundError, Workspace
from runql.model.comparison import DIFFERS, compare_runs, plot_metric_history

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def ws() -> Workspace:
    return Workspace.from_records(
        runs=[
            {
                "run_id": "a",
                "run_name": "first",
                "start_time": 1_000,
                "metrics": {
                    "loss": [{"value": v, "step": s, "timestamp": 1_000 + s} for s, v in enumerate([3, 2, 1])]
                },
                "params": {"lr": "0.1", "depth": "4"},
                "tags": {"team": "x", "note": "same"},
            },
            {
                "run_id": "b",
                "start_time": 2_000,
                "metrics": {
                    "loss": [{"value": v, "step": s, "timestamp": 2_000 + s} for s, v in enumerate([4, 2])]
                },
                "params": {"lr": "0.2", "depth": "4"},
                "tags": {"note": "same"},
            },
            {
                "run_id": "c",
                "start_time": 3_000,
                "metrics": {"loss": math.nan, "acc": 0.5},
                "params": {"lr": "0.1", "depth": "4"},
                "tags": {"note": "same"},
            },
            {
                "run_id": "d",
                "start_time": 4_000,
                "metrics": {"loss": math.nan, "acc": 0.5},
                "params": {"lr": "0.1", "depth": "4"},
                "tags": {"note": "same"},
            },
            {
                "run_id": "timed",
                "start_time": 5_000,
                "metrics": {
                    "loss": [
                        {"value": v, "step": 0, "timestamp": 5_000 + 500 * i} for i, v in enumerate([5, 3])
                    ]
                },
            },
        ]
    )


def test_rows_columns_and_differences(ws: Workspace) -> None:
    frame = compare_runs(ws, ["a", "b"])
    assert list(frame.columns) == ["a", "b", DIFFERS]
    assert list(frame.index) == [
        "params.depth",
        "params.lr",
        "metrics.loss",
        "tags.note",
        "tags.team",
    ]
    assert frame.loc["params.lr", "a"] == "0.1" and frame.loc["params.lr", "b"] == "0.2"
    assert frame.loc["metrics.loss", "a"] == 1.0 and frame.loc["metrics.loss", "b"] == 2.0
    assert frame.loc["tags.team", "b"] is None
    assert frame[DIFFERS].to_dict() == {
        "params.depth": False,
        "params.lr": True,
        "metrics.loss": True,
        "tags.note": False,
        "tags.team": True,
    }


def test_only_differences(ws: Workspace) -> None:
    frame = compare_runs(ws, ["a", "b"], only_differences=True)
    assert list(frame.index) == ["params.lr", "metrics.loss", "tags.team"]
    assert frame[DIFFERS].all()


def test_nan_equals_nan_and_a_missing_key_differs(ws: Workspace) -> None:
    frame = compare_runs(ws, ["c", "d"])
    assert not frame[DIFFERS].any()
    with_a = compare_runs(ws, ["a", "c"])
    assert with_a.loc["metrics.acc", DIFFERS]  # a lacks acc
    assert with_a.loc["metrics.loss", DIFFERS]  # 1.0 against NaN


def test_bad_run_ids(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="Run 'zzz' not found"):
        compare_runs(ws, ["a", "zzz"])
    with pytest.raises(ValueError, match="more than once: a"):
        compare_runs(ws, ["a", "b", "a"])
    with pytest.raises(ValueError, match="at least one run"):
        compare_runs(ws, [])


def test_the_runs_themselves(ws: Workspace) -> None:
    runs = [ws.get_run("a"), ws.get_run("b")]
    assert compare_runs(runs).equals(compare_runs(ws, ["a", "b"]))
    assert compare_runs(runs, only_differences=True).equals(
        compare_runs(ws, ["a", "b"], only_differences=True)
    )
    assert ws.compare_runs(["a", "b"]).equals(compare_runs(runs))
    with pytest.raises(ValueError, match="more than once: a"):
        compare_runs([runs[0], runs[0]])
    with pytest.raises(ValueError, match="at least one run"):
        compare_runs([])
    with pytest.raises(TypeError, match="run_ids"):
        compare_runs(runs, ["a"])
    with pytest.raises(TypeError, match="run_ids"):
        compare_runs(ws)


def test_plot_writes_a_png(ws: Workspace, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "loss.png"
    figure = plot_metric_history(ws, ["a", "b"], "loss", out=out)
    assert out.read_bytes()[:8] == PNG
    (axes,) = figure.axes
    assert axes.get_xlabel() == "step"
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in axes.get_lines()}
    assert lines == {"first (a)": ([0, 1, 2], [3, 2, 1]), "b": ([0, 1], [4, 2])}


def test_plot_the_runs_themselves(ws: Workspace) -> None:
    pytest.importorskip("matplotlib")
    figure = plot_metric_history([ws.get_run("a"), ws.get_run("b")], key="loss")
    drawn = ws.plot_metric_history(["a", "b"], "loss")
    assert [list(line.get_ydata()) for line in figure.axes[0].get_lines()] == [
        list(line.get_ydata()) for line in drawn.axes[0].get_lines()
    ]
    with pytest.raises(TypeError, match="key"):
        plot_metric_history([ws.get_run("a")])


def test_plot_by_time_when_no_steps_were_logged(ws: Workspace) -> None:
    pytest.importorskip("matplotlib")
    figure = plot_metric_history(ws, ["timed"], "loss")
    (axes,) = figure.axes
    assert axes.get_xlabel() == "seconds since the first point"
    assert list(axes.get_lines()[0].get_xdata()) == [0.0, 0.5]


def test_plot_leaves_out_runs_without_the_metric(ws: Workspace) -> None:
    pytest.importorskip("matplotlib")
    with pytest.warns(UserWarning, match="not drawn: a"):
        figure = plot_metric_history(ws, ["a", "c"], "acc")
    assert len(figure.axes[0].patches) == 1  # one value per run: one bar for the run that has it
    with pytest.raises(ValueError, match="none of the runs logged metric 'nope'"):
        plot_metric_history(ws, ["a", "b"], "nope")
