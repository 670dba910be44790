"""A runql workspace file: JSON Lines, a header line, then one experiment or run record a line.

The header (``{"kind": "workspace", "format": "runql-workspace", "version": 1, ...}``) holds the active
experiment and the last active run; every other line is ``{"kind": "experiment", ...}`` or
``{"kind": "run", ...}`` with the fields of :meth:`~runql.Workspace.from_records`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import StoreError
from .base import StoreRecords

__all__ = ["read_jsonl", "write_jsonl"]

FORMAT = "runql-workspace"
FORMAT_VERSION = 1


def write_jsonl(
    path: str | os.PathLike[str],
    experiments: Iterable[Mapping[str, Any]],
    runs: Iterable[Mapping[str, Any]],
    *,
    active_experiment_id: str | None,
    last_active_run_id: str | None,
) -> None:
    """Write the records; a temporary file is renamed over ``path`` at the end, so a failed write
    leaves the old file whole."""
    target = Path(path)
    header = {
        "kind": "workspace",
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "active_experiment_id": active_experiment_id,
        "last_active_run_id": last_active_run_id,
    }
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with open(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(header) + "\n")
            for kind, records in (("experiment", experiments), ("run", runs)):
                for record in records:
                    line = {"kind": kind, **record}
                    handle.write(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_jsonl(path: str | os.PathLike[str]) -> StoreRecords:
    """The records of a file :func:`write_jsonl` wrote; a line that is not one is a :class:`StoreError`
    naming the line."""
    records = StoreRecords([], [], where=str(path))
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}, line {number}"
            try:
                record = json.loads(line)
            except ValueError as error:
                raise StoreError(f"not JSON ({error})", where=where) from None
            kind = record.pop("kind", "run") if isinstance(record, dict) else None
            if kind == "workspace":
                if record.get("format") != FORMAT or record.get("version", 0) > FORMAT_VERSION:
                    raise StoreError(
                        "not a runql workspace this version reads", where=where, code="not-a-store"
                    )
                records.active_experiment_id = record.get("active_experiment_id")
                records.last_active_run_id = record.get("last_active_run_id")
            elif kind == "experiment":
                records.experiments.append(record)
            elif kind == "run":
                records.runs.append(record)
            else:
                raise StoreError("expected a run or experiment record", where=where)
    return records
