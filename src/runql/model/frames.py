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

from runql.errors import ArgumentError

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

__all__ = ["INFO_COLUMNS", "OUTPUT_FORMATS", "check_output_format", "format_runs", "runs_to_frame"]

INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")
OUTPUT_FORMATS = ("pandas", "list")


def check_output_format(output_format: str) -> None:
    """Refuse an ``output_format`` other than ``"pandas"`` and ``"list"`` with MLflow's message, as an
    :class:`ArgumentError` (``bad-output-format``)."""
    if output_format not in OUTPUT_FORMATS:
        raise ArgumentError(
            f"Unsupported output format: {output_format!r}. Supported string values are 'pandas' or 'list'",
            code="bad-output-format",
            where="output_format",
            hint='use output_format="pandas" for a DataFrame or output_format="list" for Run objects',
        )


def first_seen(mappings: Sequence[dict[str, Any]]) -> list[str]:
    """Keys in the order they first appear; the new keys of one mapping are taken sorted."""
    seen: dict[str, None] = {}
    for mapping in mappings:
        if mapping.keys() - seen.keys():
            for key in sorted(mapping.keys() - seen.keys()):
                seen[key] = None
    return list(seen)


def _times(values: Sequence[Any]) -> Any:
    """Milliseconds (None or NaN when missing) as UTC timestamps, typed as MLflow's column is."""
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    ms = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    missing = np.isnan(ms)
    if missing.all():
        # MLflow converts each value on its own; with no value at all pandas types the column from
        # the converted None, so do exactly that.
        return [pd.to_datetime(None, unit="ms", utc=True)] * len(values)
    if not missing.any():  # whole milliseconds convert exactly from integers
        return pd.to_datetime(ms.astype(np.int64), unit="ms", utc=True)
    return pd.to_datetime(ms, unit="ms", utc=True)


def runs_to_frame(runs: Sequence[Any]) -> pd.DataFrame:
    """The DataFrame ``mlflow.search_runs`` builds for ``runs`` (any Run-shaped objects)."""
    import numpy as np

    infos = [run.info for run in runs]
    columns: dict[str, Any] = {name: [getattr(i, name) for i in infos] for name in INFO_COLUMNS}
    for part, prefix, missing in (
        ("metrics", "metrics.", np.nan),
        ("params", "params.", None),
        ("tags", "tags.", None),
    ):
        mappings = [getattr(run.data, part) for run in runs]
        for key in first_seen(mappings):
            columns[prefix + key] = [m.get(key, missing) for m in mappings]
    return frame_from_columns(columns, len(runs))


def frame_from_columns(columns: dict[str, Any], size: int) -> pd.DataFrame:
    """The frame from its columns, already in order; ``start_time``/``end_time`` hold milliseconds
    (None or NaN when missing) and become UTC timestamps here."""
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    if not size:
        return pd.DataFrame({name: [] for name in INFO_COLUMNS})
    for name in ("start_time", "end_time"):
        times = _times(columns[name])
        # A DatetimeIndex would carry its own index into the frame; hand pandas plain arrays instead.
        columns[name] = times.array if isinstance(times, pd.DatetimeIndex) else times
    return pd.DataFrame(columns)


def format_runs(runs: Iterable[Any], output_format: str = "pandas") -> Any:
    """``runs`` as a DataFrame (``"pandas"``) or a list of Run objects (``"list"``)."""
    check_output_format(output_format)
    runs = list(runs)
    if output_format == "list":
        return runs
    return runs_to_frame(runs)
