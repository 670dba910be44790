"""Runs side by side, as a compare panel shows them: a table of their keys and a chart of a metric.

:func:`compare_runs` gives one row per param, metric and tag key (``params.lr``, ``metrics.auc``,
``tags.team``), one column per run, and a ``differs`` column marking the rows whose values are not
all the same (a key one run lacks differs; NaN equals NaN). :func:`plot_metric_history` draws the
history of one metric for several runs on one chart and can write it as a PNG.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    from matplotlib.figure import Figure

    from .records import Run
    from .workspace import Workspace

__all__ = ["DIFFERS", "compare_runs", "plot_metric_history"]

DIFFERS = "differs"


def _runs(workspace: Workspace, run_ids: Sequence[str]) -> list[Run]:
    if isinstance(run_ids, str):
        run_ids = [run_ids]
    if not run_ids:
        raise ValueError("name at least one run to compare")
    repeated = sorted({r for r in run_ids if list(run_ids).count(r) > 1})
    if repeated:
        raise ValueError(f"run ids appear more than once: {', '.join(repeated)}")
    return [workspace.get_run(run_id) for run_id in run_ids]


def _same(values: list[Any]) -> bool:
    first = values[0]
    for value in values[1:]:
        both_nan = (
            isinstance(value, float) and isinstance(first, float) and math.isnan(value) and math.isnan(first)
        )
        if not both_nan and (value != first or type(value) is not type(first)):
            return False
    return True


def compare_runs(
    workspace: Workspace, run_ids: Sequence[str], only_differences: bool = False
) -> pd.DataFrame:
    """A DataFrame indexed by key (params, then metrics, then tags, each sorted), one column per run id
    holding that run's value (None where the run lacks the key), and a boolean ``differs`` column.

    ``only_differences`` keeps the rows that differ. Raises NotFoundError for an unknown run id.
    """
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    runs = _runs(workspace, run_ids)
    rows: dict[str, list[Any]] = {}
    for part in ("params", "metrics", "tags"):
        mappings = [getattr(run.data, part) for run in runs]
        for key in sorted(set().union(*mappings)):
            rows[f"{part}.{key}"] = [m.get(key) for m in mappings]
    differs = [not _same(values) for values in rows.values()]
    frame = pd.DataFrame(
        [list(values) for values in rows.values()],
        index=pd.Index(list(rows), name="key", dtype=object),
        columns=[run.info.run_id for run in runs],
        dtype=object,
    )
    frame[DIFFERS] = differs
    if only_differences:
        frame = frame[frame[DIFFERS]]
    return frame


def plot_metric_history(
    workspace: Workspace,
    run_ids: Sequence[str],
    key: str,
    out: str | os.PathLike[str] | None = None,
) -> Figure:
    """A matplotlib Figure with the history of metric ``key`` for each run, one line per run.

    The x axis is the step; when every point of a run has step 0 (logged without steps), the
    seconds since the run's first point are used instead. Runs that never logged ``key`` are left
    out with a warning; none having it is a ValueError. With ``out``, the chart is written there
    as a PNG. Needs matplotlib (``pip install 'runql[plot]'``); no display is used.
    """
    from .sources import require

    require("matplotlib", "plot", "plotting metric histories")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = _runs(workspace, run_ids)
    histories = {run.info.run_id: workspace.get_metric_history(run.info.run_id, key) for run in runs}
    with_key = [run for run in runs if histories[run.info.run_id]]
    if not with_key:
        raise ValueError(f"none of the runs logged metric {key!r}")
    missing = [run.info.run_id for run in runs if not histories[run.info.run_id]]
    if missing:
        warnings.warn(f"runs without metric {key!r} are not drawn: {', '.join(missing)}", stacklevel=2)
    drawn = [histories[run.info.run_id] for run in with_key]
    by_time = all(all(p.step == 0 for p in h) for h in drawn) and any(len(h) > 1 for h in drawn)
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for run, history in zip(with_key, drawn, strict=True):
        if by_time:
            start = min(p.timestamp for p in history)
            points = sorted(((p.timestamp - start) / 1000, p.value) for p in history)
        else:
            points = sorted((p.step, p.value) for p in history)
        xs, ys = [x for x, _ in points], [y for _, y in points]
        label = run.info.run_name or run.info.run_id
        if run.info.run_name:
            label = f"{label} ({run.info.run_id[:8]})"
        axes.plot(xs, ys, marker="o" if len(points) < 30 else None, markersize=3, label=label)
    axes.set_xlabel("seconds since the first point" if by_time else "step")
    axes.set_ylabel(key)
    axes.set_title(f"{key} by {'time' if by_time else 'step'}")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
    if out is not None:
        figure.savefig(os.fspath(out), format="png", dpi=100)
    return figure
