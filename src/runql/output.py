"""Search results shaped as ``mlflow.search_runs`` returns them: a DataFrame, or the list of runs.

The DataFrame has the columns ``run_id, experiment_id, status, artifact_uri, start_time, end_time``,
then ``metrics.<key>``, ``params.<key>`` and ``tags.<key>``, each group in the order its keys are
first seen across the runs (within one run, by key: MLflow's own order there depends on the hash
seed). Times are UTC-aware timestamps made the way MLflow makes them; a missing metric is NaN and a
missing param or tag is None before pandas types the column. The frame is built column by column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import QueryValueError

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

__all__ = ["INFO_COLUMNS", "OUTPUT_FORMATS", "check_output_format", "format_runs", "runs_to_frame"]

INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")
OUTPUT_FORMATS = ("pandas", "list")


def check_output_format(output_format: str) -> None:
    if output_format not in OUTPUT_FORMATS:
        raise QueryValueError(
            f"Unsupported output format: {output_format!r}. Supported string values are 'pandas' or 'list'",
            code="bad-output-format",
            where="output_format",
            hint='use output_format="pandas" for a DataFrame or output_format="list" for Run objects',
        )


def _first_seen(mappings: Sequence[dict[str, Any]]) -> list[str]:
    """Keys in the order they first appear; the new keys of one mapping are taken sorted."""
    seen: dict[str, None] = {}
    for mapping in mappings:
        if mapping.keys() - seen.keys():
            for key in sorted(mapping.keys() - seen.keys()):
                seen[key] = None
    return list(seen)


def _times(values: list[int | None]) -> Any:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    if all(v is None for v in values):
        # MLflow converts each value on its own; with no value at all pandas types the column from
        # the converted None, so do exactly that.
        return [pd.to_datetime(None, unit="ms", utc=True)] * len(values)
    return pd.to_datetime([math.nan if v is None else v for v in values], unit="ms", utc=True)


def runs_to_frame(runs: Sequence[Any]) -> pd.DataFrame:
    """The DataFrame ``mlflow.search_runs`` builds for ``runs`` (any Run-shaped objects)."""
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    infos = [run.info for run in runs]
    columns: dict[str, Any] = {
        "run_id": [i.run_id for i in infos],
        "experiment_id": [i.experiment_id for i in infos],
        "status": [i.status for i in infos],
        "artifact_uri": [i.artifact_uri for i in infos],
    }
    if runs:
        columns["start_time"] = _times([i.start_time for i in infos])
        columns["end_time"] = _times([i.end_time for i in infos])
    else:
        columns["start_time"], columns["end_time"] = [], []
    for part, prefix, missing in (
        ("metrics", "metrics.", np.nan),
        ("params", "params.", None),
        ("tags", "tags.", None),
    ):
        mappings = [getattr(run.data, part) for run in runs]
        for key in _first_seen(mappings):
            columns[prefix + key] = [m.get(key, missing) for m in mappings]
    # A DatetimeIndex would carry its own index into the frame; hand pandas plain arrays instead.
    for name in ("start_time", "end_time"):
        if isinstance(columns[name], pd.DatetimeIndex):
            columns[name] = columns[name].array
    return pd.DataFrame(columns)


def format_runs(runs: Iterable[Any], output_format: str = "pandas") -> Any:
    """``runs`` as a DataFrame (``"pandas"``) or a list of Run objects (``"list"``)."""
    check_output_format(output_format)
    runs = list(runs)
    if output_format == "list":
        return runs
    return runs_to_frame(runs)
