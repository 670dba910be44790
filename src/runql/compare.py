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
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .optional import require

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    from matplotlib.figure import Figure

    from .records import Run

__all__ = ["DIFFERS", "RunLookup", "compare_runs", "plot_metric_history"]

DIFFERS = "differs"


class RunLookup(Protocol):
    """What finds runs by id: a :class:`~runql.Workspace` does (raising NotFoundError for an unknown id)."""

    def get_run(self, run_id: str) -> Run: ...


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


def compare_runs(
    runs: Sequence[Run] | RunLookup,
    run_ids: Sequence[str] | str | None = None,
    only_differences: bool = False,
) -> pd.DataFrame:
    """A DataFrame indexed by key (params, then metrics, then tags, each sorted), one column per run id
    holding that run's value (None where the run lacks the key), and a boolean ``differs`` column.

    ``runs`` are the runs to compare, or a workspace whose runs ``run_ids`` name (an unknown id is a
    NotFoundError). ``only_differences`` keeps the rows that differ.
    """
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    chosen = _chosen(runs, run_ids)
    rows: dict[str, list[Any]] = {}
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
    key: str | None = None,
    out: str | os.PathLike[str] | None = None,
) -> Figure:
    """A matplotlib Figure with the history of metric ``key`` for each run, one line per run.

    ``runs`` are the runs to draw (then name the metric: ``plot_metric_history(runs, key="loss")``),
    or a workspace whose runs ``run_ids`` name. The x axis is the step; when every point of a run has
    step 0 (logged without steps), the seconds since the run's first point are used instead. Runs
    that never logged ``key`` are left out with a warning; none having it is a ValueError. With
    ``out``, the chart is written there as a PNG. Needs matplotlib (``pip install 'runql[plot]'``);
    no display is used.
    """
    if key is None:
        raise TypeError("plot_metric_history needs the key of the metric to draw")
    require("matplotlib", "plot", "plotting metric histories")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    chosen = _chosen(runs, run_ids)
    histories = {run.info.run_id: run.data.history(key, run.info.start_time or 0) for run in chosen}
    with_key = [run for run in chosen if histories[run.info.run_id]]
    if not with_key:
        raise ValueError(f"none of the runs logged metric {key!r}")
    missing = [run.info.run_id for run in chosen if not histories[run.info.run_id]]
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
