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

Spark reads a column's name ignoring case (``spark.sql.caseSensitive`` is false by default) and refuses
a file with two names that differ only in case, so runs with keys ``A`` and ``a`` of one kind have no
flat table: they are refused with ``case-collision``, and the map layout, whose map keys keep their
case, holds them. The file is written as ``Workspace.save`` writes one: beside the target, then renamed
over it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from runql.common.optional import require
from runql.common.redact import shown
from runql.errors import ArgumentError
from runql.model.entities import Run
from runql.sources.jsonl import replaced

__all__ = ["EXPORT_LAYOUTS", "run_table", "write_run_table"]

EXPORT_LAYOUTS = ("flat", "map")
_ATTRIBUTES = ("run_id", "experiment_id", "status", "artifact_uri")
_PEOPLE = ("lifecycle_stage", "run_name", "user_id")


def _keys(mappings: Iterable[dict[str, Any]]) -> list[str]:
    found: set[str] = set()
    for mapping in mappings:
        found.update(mapping)
    return sorted(found)


def _case_collisions(part: str, keys: list[str]) -> list[str]:
    """The columns ``<part>.<key>`` that Spark, ignoring case, takes for another of them."""
    by_folded: dict[str, list[str]] = {}
    for key in keys:
        # Spark folds a name with Java's toLowerCase(Locale.ROOT), which str.lower() follows.
        by_folded.setdefault(key.lower(), []).append(f"{part}.{key}")
    return [name for names in by_folded.values() if len(names) > 1 for name in names]


def run_table(runs: Sequence[Run], layout: str = "flat") -> Any:
    """``runs`` as a ``pyarrow.Table`` in ``layout`` (``flat`` or ``map``).

    Runs whose keys of one kind differ only in case (metrics ``A`` and ``a``) have no flat table Spark
    reads: they raise :class:`~runql.errors.ArgumentError` (``case-collision``) naming the columns.
    """
    if layout not in EXPORT_LAYOUTS:
        raise ArgumentError(
            f"layout must be 'flat' or 'map', not {shown(repr(layout), 80)}",
            code="bad-layout",
            where="layout",
        )
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
        keys = _keys(mappings)
        colliding = _case_collisions(part, keys)
        if colliding:
            raise ArgumentError(
                f"the columns {shown(', '.join(colliding))} differ only in case: Spark reads column names "
                "ignoring case, and refuses a file that holds both",
                code="case-collision",
                where="layout",
                hint="write the map layout, whose map keys keep their case: layout='map' "
                "(runql export --layout map)",
            )
        for key in keys:
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


def write_run_table(
    runs: Iterable[Run], out: str | os.PathLike[str], layout: str = "flat", *, replace: bool = True
) -> int:
    """Write ``runs`` to the Parquet file ``out`` as a run table in ``layout``; returns how many.

    The table is written beside ``out`` and renamed over it once whole (:func:`runql.sources.jsonl.replaced`):
    a failed export leaves the file that was there, and through a symbolic link the file it points to is
    replaced. With ``replace=False``, a file at ``out`` is an :class:`~runql.errors.ArgumentError`
    (``out-exists``), and so is a symbolic link there, even one to nothing (``os.path.exists`` is false
    for that one, and writing through it would create its target).
    """
    if not replace and os.path.lexists(out):
        found = f"is a symbolic link to {shown(os.readlink(out))}" if os.path.islink(out) else "exists"
        raise ArgumentError(
            f"{shown(os.fspath(out))} {found}: not replaced",
            code="out-exists",
            where="out",
            hint="name another file, or pass replace=True (runql export --force)",
        )
    runs = list(runs)
    table = run_table(runs, layout)
    parquet = require("pyarrow.parquet", "parquet", "writing a run table")
    with replaced(out) as handle:
        parquet.write_table(table, handle)
    return len(runs)
