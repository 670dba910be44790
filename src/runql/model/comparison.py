"""Runs side by side, as a compare panel shows them: a table of their keys and a chart of a metric.

:func:`compare_runs` gives one row per param, metric and tag key (``params.lr``, ``metrics.auc``,
``tags.team``), one column per run, and a ``differs`` column marking the rows whose values are not
all the same (a key one run lacks differs; NaN equals NaN). :func:`plot_metric_history` draws the
history of one metric for several runs on one chart and can write it as a PNG.

Both take the runs themselves (``ws.search_runs(..., output_format="list")``), or anything that
looks runs up by id (a :class:`~runql.Workspace`) followed by the ids.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from runql.common.optional import require
from runql.common.redact import shown

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    from matplotlib.figure import Figure

    from runql.model.entities import Run

__all__ = ["DIFFERS", "RunLookup", "compare_runs", "plot_metric_history"]

DIFFERS = "differs"


class RunLookup(Protocol):
    """What finds runs by id: a :class:`~runql.Workspace` does (raising NotFoundError for an unknown id)."""

    def get_run(self, run_id: str) -> Run:
        """The run with id ``run_id``; :class:`~runql.errors.NotFoundError` when there is none."""


def _check_ids(ids: list[str]) -> None:
    if not ids:
        raise ValueError("name at least one run to compare")
    repeated = sorted(run_id for run_id, count in Counter(ids).items() if count > 1)
    if repeated:
        raise ValueError(f"run ids appear more than once: {', '.join(repeated)}")


def _chosen(runs: Sequence[Run] | RunLookup, run_ids: Sequence[str] | str | None) -> list[Run]:
    """The runs to compare, in column order: ``runs``, or the runs of ``runs`` that ``run_ids`` name."""
    if isinstance(runs, Sequence):
        if run_ids is not None:
            raise TypeError(
                "run_ids name the runs of a workspace: pass a workspace with them, or the runs alone"
            )
        chosen = list(runs)
        _check_ids([run.info.run_id for run in chosen])
        return chosen
    if run_ids is None:
        raise TypeError("name the runs of the workspace to compare: run_ids")
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    _check_ids(ids)
    return [runs.get_run(run_id) for run_id in ids]


def _same(values: list[Any]) -> bool:
    first = values[0]
    for value in values[1:]:
        both_nan = (
            isinstance(value, float) and isinstance(first, float) and math.isnan(value) and math.isnan(first)
        )
        if not both_nan and (value != first or type(value) is not type(first)):
            return False
    return True


def _attribute_rows(chosen: list[Run]) -> dict[str, list[Any]]:
    """The rows of the runs' attributes and dataset inputs (datasets only when some run has them)."""
    from datetime import datetime, timedelta, timezone

    infos = [run.info for run in chosen]
    rows: dict[str, list[Any]] = {
        "attributes.status": [i.status for i in infos],
        "attributes.start_time": [
            None if i.start_time is None else datetime.fromtimestamp(i.start_time / 1000, tz=timezone.utc)
            for i in infos
        ],
        "attributes.duration": [
            None
            if i.start_time is None or i.end_time is None
            else timedelta(milliseconds=i.end_time - i.start_time)
            for i in infos
        ],
        "attributes.experiment_id": [i.experiment_id for i in infos],
    }
    datasets = [
        ", ".join(
            f"{d.dataset.name}@{d.dataset.digest}" + (f" ({d.context})" if d.context else "")
            for d in run.inputs.dataset_inputs
        )
        or None
        for run in chosen
    ]
    if any(datasets):
        rows["datasets"] = datasets
    return rows


def compare_runs(
    runs: Sequence[Run] | RunLookup,
    run_ids: Sequence[str] | str | None = None,
    only_differences: bool = False,
    attributes: bool = False,
) -> pd.DataFrame:
    """A DataFrame indexed by key (params, then metrics, then tags, each sorted), one column per run id
    holding that run's value (None where the run lacks the key), and a boolean ``differs`` column.

    ``runs`` are the runs to compare, or a workspace whose runs ``run_ids`` name (an unknown id is a
    NotFoundError). ``only_differences`` keeps the rows that differ. ``attributes`` puts first the
    rows ``attributes.status``, ``attributes.start_time`` (UTC), ``attributes.duration`` (a
    timedelta), ``attributes.experiment_id`` and, when a run has dataset inputs, ``datasets``
    (``name@digest (context)``).
    """
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    chosen = _chosen(runs, run_ids)
    rows: dict[str, list[Any]] = _attribute_rows(chosen) if attributes else {}
    for part in ("params", "metrics", "tags"):
        mappings = [getattr(run.data, part) for run in chosen]
        for key in sorted(set().union(*mappings)):
            rows[f"{part}.{key}"] = [m.get(key) for m in mappings]
    differs = [not _same(values) for values in rows.values()]
    frame = pd.DataFrame(
        [list(values) for values in rows.values()],
        index=pd.Index(list(rows), name="key", dtype=object),
        columns=[run.info.run_id for run in chosen],
        dtype=object,
    )
    frame[DIFFERS] = differs
    if only_differences:
        frame = frame[frame[DIFFERS]]
    return frame


def plot_metric_history(
    runs: Sequence[Run] | RunLookup,
    run_ids: Sequence[str] | str | None = None,
    key: str | Sequence[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    x: str = "auto",
) -> Figure:
    """A matplotlib Figure with the history of metric ``key`` for each run, one line per run.

    ``runs`` are the runs to draw (then name the metric: ``plot_metric_history(runs, key="loss")``),
    or a workspace whose runs ``run_ids`` name. ``key`` may be a list of metrics: one chart each,
    stacked. ``x`` is ``"step"``, ``"time"`` (seconds since the run's first point) or ``"auto"``:
    the step, unless every point has step 0 (logged without steps). A metric with one point per run
    is drawn as bars, one per run. Runs that never logged a key are left out of its chart with a
    warning; none having it is a ValueError. A value that is NaN, infinite (MLflow's SQL store keeps an
    infinity as ±1.8e308) or beyond ±1e300 is not drawn: a note on the chart, and a warning, name the
    runs that have some and what they are, and a bar that is not drawn is marked where it would stand.
    With ``out``, the figure is written there as a PNG. Needs matplotlib (``pip install 'runql[plot]'``);
    no display is used.
    """
    if key is None:
        raise TypeError("plot_metric_history needs the key of the metric to draw")
    if x not in ("auto", "step", "time"):
        raise ValueError(f"x is 'step', 'time' or 'auto', not {x!r}")
    keys = [key] if isinstance(key, str) else list(key)
    if not keys:
        raise ValueError("name at least one metric to plot")
    require("matplotlib", "plot", "plotting metric histories")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    chosen = _chosen(runs, run_ids)
    drawn = [(name, _histories(chosen, name)) for name in keys]
    figure = Figure(figsize=(8, 4.5 * len(keys)), layout="constrained")
    FigureCanvasAgg(figure)
    for index, (name, histories) in enumerate(drawn, start=1):
        _draw(figure.add_subplot(len(keys), 1, index), name, histories, x)
    if out is not None:
        figure.savefig(os.fspath(out), format="png", dpi=100)
    return figure


def _histories(chosen: list[Run], key: str) -> list[tuple[Run, list[Any]]]:
    """The runs that logged ``key``, each with its history (a warning names those that did not)."""
    histories = [(run, run.data.history(key, run.info.start_time or 0)) for run in chosen]
    if not any(history for _, history in histories):
        raise ValueError(f"none of the runs logged metric {_quoted(key)}")
    missing = [run.info.run_id for run, history in histories if not history]
    if missing:
        warnings.warn(
            f"runs without metric {_quoted(key)} are not drawn: {shown(', '.join(missing))}", stacklevel=3
        )
    return [(run, history) for run, history in histories if history]


def _quoted(key: str) -> str:
    """A metric's key in a message: quoted, on one line, cut (a key may be as long as its writer liked)."""
    return shown(repr(key), 80)


def _label(run: Run) -> str:
    if run.info.run_name:
        return f"{run.info.run_name} ({run.info.run_id[:8]})"
    return run.info.run_id


# MLflow's SQL store keeps an infinity as the largest float, of its sign; matplotlib cannot scale an axis
# that reaches near it (its margins overflow, and the whole chart comes out empty), so values beyond
# ±1e300 are left out with the NaNs and the infinities, and a note on the chart says which.
_STORED_INFINITY = sys.float_info.max
_LARGEST_DRAWN = 1e300
# Runs a note names one by one; the rest are counted.
_NOTED_RUNS = 6


def _not_drawn(value: float) -> str:
    """Why ``value`` is left out of a chart ("" when it is drawn)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value) or abs(value) >= _STORED_INFINITY:
        return "+inf" if value > 0 else "-inf"
    if abs(value) > _LARGEST_DRAWN:
        return "beyond ±1e300"
    return ""


def _counted(counts: Counter[str]) -> str:
    """``+inf (1 point), NaN (3 points)``."""
    return ", ".join(f"{why} ({count} point{'' if count == 1 else 's'})" for why, count in counts.items())


def _note_left_out(axes: Any, key: str, left_out: list[tuple[str, Counter[str]]]) -> None:
    """Draw the legend, titled with the runs whose values are not drawn and what those are (the legend
    takes the place on the chart where it hides the least), and warn of them."""
    if not left_out:
        if axes.lines:
            axes.legend(fontsize="small")
        return
    lines = [f"{shown(label, 60)}: {_counted(counts)}" for label, counts in left_out]
    more = len(lines) - _NOTED_RUNS
    note = "\n".join(["not drawn:", *lines[:_NOTED_RUNS], *([f"and {more} more runs"] if more > 0 else [])])
    # The lines of the chart, when it has some, are listed below the note.
    handles, labels = axes.get_legend_handles_labels()
    legend = axes.legend(handles, labels, title=note, fontsize="small", title_fontsize="small")
    legend.get_title().set_color("darkred")
    warnings.warn(f"values of metric {_quoted(key)} not drawn: {'; '.join(lines)}", stacklevel=4)


def _draw(axes: Any, key: str, histories: list[tuple[Run, list[Any]]], x: str) -> None:
    left_out: list[tuple[str, Counter[str]]] = []
    if all(len(history) == 1 for _, history in histories):
        # One value per run has no line to draw: one bar per run.
        labels = [_label(run) for run, _ in histories]
        values = [history[0].value for _, history in histories]
        reasons = [_not_drawn(value) for value in values]
        axes.bar(
            range(len(labels)),
            [math.nan if why else value for value, why in zip(values, reasons, strict=True)],
        )
        for index, (label, why) in enumerate(zip(labels, reasons, strict=True)):
            if why:
                # Where the bar would stand, what its value is.
                axes.text(index, 0, why, ha="center", va="bottom", fontsize="small", color="darkred")
                left_out.append((label, Counter([why])))
        # Every run keeps its place, the bars left out too (matplotlib would fit the axis to the drawn ones).
        axes.set_xlim(-0.5, len(labels) - 0.5)
        axes.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize="small")
        axes.set_ylabel(key)
        axes.set_title(f"{key} (one value per run)")
        axes.grid(True, axis="y", alpha=0.3)
        _note_left_out(axes, key, left_out)
        return
    if x == "auto":
        no_steps = all(all(p.step == 0 for p in h) for _, h in histories)
        by_time = no_steps and any(len(h) > 1 for _, h in histories)
    else:
        by_time = x == "time"
    for run, history in histories:
        if by_time:
            start = min(p.timestamp for p in history)
            points = sorted(((p.timestamp - start) / 1000, p.value) for p in history)
        else:
            points = sorted((p.step, p.value) for p in history)
        counts = Counter(why for why in map(_not_drawn, (py for _, py in points)) if why)
        if counts:
            left_out.append((_label(run), counts))
            points = [(px, py) for px, py in points if not _not_drawn(py)]
        if points:
            xs, ys = [px for px, _ in points], [py for _, py in points]
            axes.plot(xs, ys, marker="o" if len(points) < 30 else None, markersize=3, label=_label(run))
    axes.set_xlabel("seconds since the first point" if by_time else "step")
    axes.set_ylabel(key)
    axes.set_title(f"{key} by {'time' if by_time else 'step'}")
    axes.grid(True, alpha=0.3)
    _note_left_out(axes, key, left_out)
