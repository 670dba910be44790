"""A chart of a metric some runs hold NaN or infinity for (MLflow's SQL store keeps an infinity as the
largest float): the finite values are drawn, the others are named on the chart and in a warning, and no
chart comes out empty without a word."""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib")

from runql.model.comparison import plot_metric_history
from runql.model.entities import Run
from runql.model.records import run_from_record

STORED_INFINITY = sys.float_info.max


def run(run_id: str, values: list[float]) -> Run:
    points = [{"value": value, "step": step, "timestamp": 1000 * step} for step, value in enumerate(values)]
    return run_from_record({"run_id": run_id, "metrics": {"loss": points}})


def drawn(runs: list[Run], out: Path) -> tuple[Any, list[warnings.WarningMessage]]:
    """The chart's axes and the warnings drawing it (and writing it as a PNG) issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = plot_metric_history(runs, key="loss", out=out)
    return figure.axes[0], caught


def note(axes: Any) -> str:
    legend = axes.get_legend()
    return "" if legend is None else str(legend.get_title().get_text())


def test_a_stored_infinity_leaves_the_other_values_drawn(tmp_path: Path) -> None:
    axes, caught = drawn(
        [run("a", [1.0, 0.5, 0.25]), run("b", [STORED_INFINITY, 0.4, 0.3])], tmp_path / "c.png"
    )
    lines = {line.get_label(): list(line.get_ydata()) for line in axes.lines}
    assert lines == {"a": [1.0, 0.5, 0.25], "b": [0.4, 0.3]}
    low, high = axes.get_ylim()
    assert 0 < low < 0.25 and 1.0 < high < 2  # scaled to the values drawn, not to the infinity
    assert note(axes) == "not drawn:\nb: +inf (1 point)"
    assert [str(w.message) for w in caught] == ["values of metric 'loss' not drawn: b: +inf (1 point)"]
    assert (tmp_path / "c.png").stat().st_size > 0


def test_a_nan_or_infinite_bar_is_marked_where_it_would_stand(tmp_path: Path) -> None:
    runs = [run("a", [0.5]), run("b", [math.nan]), run("c", [-STORED_INFINITY]), run("d", [math.inf])]
    axes, caught = drawn(runs, tmp_path / "bars.png")
    heights = [bar.get_height() for bar in axes.patches]
    assert heights[0] == 0.5 and all(math.isnan(h) for h in heights[1:])
    marks = {round(text.get_position()[0]): text.get_text() for text in axes.texts}
    assert marks == {1: "NaN", 2: "-inf", 3: "+inf"}
    assert axes.get_xlim() == (-0.5, 3.5)  # every run keeps its place
    assert note(axes) == "not drawn:\nb: NaN (1 point)\nc: -inf (1 point)\nd: +inf (1 point)"
    assert len(caught) == 1 and "b: NaN (1 point); c: -inf (1 point)" in str(caught[0].message)


def test_a_chart_with_no_finite_value_says_so(tmp_path: Path) -> None:
    axes, _ = drawn([run("a", [math.nan, math.inf]), run("b", [math.nan, 1e305])], tmp_path / "none.png")
    assert len(axes.lines) == 0
    assert (
        note(axes)
        == "not drawn:\na: NaN (1 point), +inf (1 point)\nb: NaN (1 point), beyond ±1e300 (1 point)"
    )


def test_many_runs_are_counted_after_the_first_few(tmp_path: Path) -> None:
    axes, _ = drawn([run(f"r{i}", [math.nan, 1.0]) for i in range(9)], tmp_path / "many.png")
    assert note(axes).splitlines()[-1] == "and 3 more runs"


def test_finite_values_draw_no_note(tmp_path: Path) -> None:
    axes, caught = drawn([run("a", [1.0, 0.5]), run("b", [0.9, 0.4])], tmp_path / "fine.png")
    assert note(axes) == "" and caught == []
