"""Runs written as a run table in Parquet, for Spark and other lakehouse engines (``runql export``).

Two layouts, the two :mod:`runql.engines.spark` reads (``pip install 'runql[parquet]'`` for pyarrow):

* ``flat``: the columns of ``mlflow.search_runs`` (``run_id``, ``experiment_id``, ``status``,
  ``artifact_uri``, ``start_time``, ``end_time``), then ``lifecycle_stage``, ``run_name`` and
  ``user_id``, then one column per key, ``metrics.<key>`` (double), ``params.<key>`` and
  ``tags.<key>`` (string), each group sorted by key;
* ``map``: the same attribute columns, then ``metrics`` (``map<string,double>``), ``params`` and
  ``tags`` (``map<string,string>``), as Databricks' MLflow experiment data source reads runs.

Both end with ``datasets``, ``array<struct<name, digest, context>>``. Times are UTC timestamps in
milliseconds. A metric a run did not log is null and a NaN metric stays NaN, so the table keeps
what ``mlflow.search_runs``' DataFrame loses (there, both are NaN); metrics are the latest values.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from runql.common.optional import require
from runql.model.records import Run

__all__ = ["EXPORT_LAYOUTS", "run_table", "write_run_table"]

EXPORT_LAYOUTS = ("flat", "map")
_ATTRIBUTES = ("run_id", "experiment_id", "status", "artifact_uri")
_PEOPLE = ("lifecycle_stage", "run_name", "user_id")


def _keys(mappings: Iterable[dict[str, Any]]) -> list[str]:
    found: set[str] = set()
    for mapping in mappings:
        found.update(mapping)
    return sorted(found)


def run_table(runs: Sequence[Run], layout: str = "flat") -> Any:
    """``runs`` as a ``pyarrow.Table`` in ``layout`` (``flat`` or ``map``)."""
    if layout not in EXPORT_LAYOUTS:
        raise ValueError(f"layout must be 'flat' or 'map', not {layout!r}")
    pa = require("pyarrow", "parquet", "writing a run table")
    text, number, time = pa.string(), pa.float64(), pa.timestamp("ms", tz="UTC")
    columns: dict[str, Any] = {}

    def add(name: str, values: list[Any], kind: Any) -> None:
        columns[name] = pa.array(values, type=kind)

    infos = [run.info for run in runs]
    for name in _ATTRIBUTES:
        add(name, [getattr(info, name) for info in infos], text)
    add("start_time", [info.start_time for info in infos], time)
    add("end_time", [info.end_time for info in infos], time)
    for name in _PEOPLE:
        add(name, [getattr(info, name) for info in infos], text)
    parts: tuple[tuple[str, Callable[[Run], dict[str, Any]], Any], ...] = (
        ("metrics", lambda r: r.data.metrics, number),
        ("params", lambda r: r.data.params, text),
        ("tags", lambda r: r.data.tags, text),
    )
    for part, read, kind in parts:
        mappings = [read(run) for run in runs]
        if layout == "map":
            add(part, [sorted(m.items()) for m in mappings], pa.map_(pa.string(), kind))
            continue
        for key in _keys(mappings):
            add(f"{part}.{key}", [m.get(key) for m in mappings], kind)
    dataset = pa.struct([("name", text), ("digest", text), ("context", text)])
    add(
        "datasets",
        [
            [
                {"name": item.dataset.name, "digest": item.dataset.digest, "context": item.context}
                for item in run.inputs.dataset_inputs
            ]
            for run in runs
        ],
        pa.list_(dataset),
    )
    return pa.table(columns)


def write_run_table(runs: Iterable[Run], out: str | os.PathLike[str], layout: str = "flat") -> int:
    """Write ``runs`` to the Parquet file ``out`` as a run table in ``layout``; returns how many."""
    runs = list(runs)
    table = run_table(runs, layout)
    parquet = require("pyarrow.parquet", "parquet", "writing a run table")
    parquet.write_table(table, os.fspath(out))
    return len(runs)
