"""A runql workspace file: JSON Lines, a header line, one experiment or run record a line, a closing line.

The header (``{"kind": "workspace", "format": "runql-workspace", "version": 2, ...}``) holds the active
experiment and the last active run; every other line is ``{"kind": "experiment", ...}`` or
``{"kind": "run", ...}`` with the fields of :meth:`~runql.Workspace.from_records`, and the last is
``{"kind": "end", "experiments": N, "runs": M}``: a file cut short, even at a line boundary, lacks it
or disagrees with it, and is refused. Files of version 1 (no closing line) are still read.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import socket
import stat
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from runql.errors import StoreError
from runql.sources.base import StoreRecords

__all__ = ["read_jsonl", "replaced", "write_jsonl"]

FORMAT = "runql-workspace"
FORMAT_VERSION = 2
# Version 2 added the closing line.
_FIRST_CLOSED_VERSION = 2
# A save writes next to its target, under a hidden name that ends so: a save killed midway leaves one
# behind, which the next save into that folder removes (see _remove_stale).
_TEMPORARY_SUFFIX = ".runql-save"


def write_jsonl(
    path: str | os.PathLike[str],
    experiments: Iterable[Mapping[str, Any]],
    runs: Iterable[Mapping[str, Any]],
    *,
    active_experiment_id: str | None,
    last_active_run_id: str | None,
) -> None:
    """Write the records; a temporary file is renamed over ``path`` at the end, so a failed write
    leaves the old file whole. A file already at ``path`` keeps its permissions; when ``path`` is a
    symbolic link, the file it points to is replaced and the link stays."""
    with replaced(path) as raw:
        handle = io.TextIOWrapper(raw, encoding="utf-8")
        header = {
            "kind": "workspace",
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "active_experiment_id": active_experiment_id,
            "last_active_run_id": last_active_run_id,
        }
        handle.write(json.dumps(header) + "\n")
        counts = {"experiment": 0, "run": 0}
        for kind, records in (("experiment", experiments), ("run", runs)):
            for record in records:
                line = {"kind": kind, **record}
                handle.write(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n")
                counts[kind] += 1
        closing = {"kind": "end", "experiments": counts["experiment"], "runs": counts["run"]}
        handle.write(json.dumps(closing) + "\n")
        # Flushes the text into the file and leaves it open, for replaced() to sync to the disk and rename.
        handle.detach()


@contextmanager
def replaced(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A new binary file that becomes ``path`` when the block ends without an error.

    It is written under a hidden temporary name beside ``path``, flushed to the disk, then renamed over
    ``path`` (``os.replace``), so a failed or killed write leaves the old file whole and a reader never
    sees half a file. A file already at ``path`` keeps its permissions; when ``path`` is a symbolic link,
    the file it points to is replaced and the link stays. :func:`write_jsonl` (``Workspace.save``) and
    the run tables of ``runql export`` are written so.
    """
    target = Path(os.path.realpath(path))
    _remove_stale(target)
    try:
        temporary, descriptor = _create_temporary(target)
    except OSError as error:
        # Named after the file asked for: the temporary one's name would only puzzle.
        raise OSError(error.errno, error.strerror, str(target)) from None
    try:
        with open(descriptor, "wb") as handle:
            _keep_mode(temporary, target)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _create_temporary(target: Path) -> tuple[Path, int]:
    """A new hidden file next to ``target``, named after this host and process so that a later save
    can tell a file of a dead save from one being written; created with the mode a new file gets
    (0666 less the umask), where ``tempfile`` would give 0600."""
    name = f".{target.name}.{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(6)}{_TEMPORARY_SUFFIX}"
    temporary = target.parent / name
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return temporary, os.open(temporary, flags, 0o666)


def _keep_mode(temporary: Path, target: Path) -> None:
    """Give ``temporary`` the permission bits of the file it will replace, if there is one."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return
    os.chmod(temporary, mode)


def _remove_stale(target: Path) -> None:
    """Remove the temporary files that saves of ``target`` killed midway left next to it: those of this
    host whose process is gone."""
    if os.name != "posix":  # os.kill(pid, 0) tests a process only on POSIX
        return
    prefix = f".{target.name}."
    host = socket.gethostname()
    try:
        names = [entry.name for entry in os.scandir(target.parent)]
    except OSError:
        return  # the save itself will report a folder it cannot use
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_TEMPORARY_SUFFIX)):
            continue
        owner, _, rest = name[len(prefix) : -len(_TEMPORARY_SUFFIX)].rpartition(".")[0].rpartition(".")
        if owner != host or not rest.isdigit() or _alive(int(rest)):
            continue
        (target.parent / name).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, but belongs to another user
    return True


def read_jsonl(path: str | os.PathLike[str]) -> StoreRecords:
    """The records of a file :func:`write_jsonl` wrote; a line that is not one is a :class:`StoreError`
    naming the line, and so is a file cut short."""
    records = StoreRecords([], [], where=str(path))
    version = 1
    closing: tuple[int, dict[str, Any]] | None = None
    number = 0
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path}, line {number}"
                if closing is not None:
                    raise StoreError("a record after the closing line", where=where)
                record = _record(line, where)
                kind = record.pop("kind", "run")
                if kind == "workspace":
                    version = _header(record, where, records)
                elif kind == "experiment":
                    records.experiments.append(record)
                    records.experiment_lines.append(number)
                elif kind == "run":
                    records.runs.append(record)
                    records.run_lines.append(number)
                elif kind == "end":
                    closing = (number, record)
                else:
                    raise StoreError(
                        f"expected a run or experiment record, not kind {kind!r:.60}", where=where
                    )
    except UnicodeDecodeError as error:
        raise StoreError(f"not UTF-8 text ({error.reason} at byte {error.start})", where=str(path)) from None
    if closing is not None:
        _check_closing(closing, records, f"{path}, line {closing[0]}")
    elif version >= _FIRST_CLOSED_VERSION:
        raise StoreError(
            f"the file ends at line {number} without its closing line: it was cut short", where=str(path)
        )
    return records


def _record(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except RecursionError:
        raise StoreError("the record is nested too deeply to be one runql wrote", where=where) from None
    except ValueError as error:
        raise StoreError(f"not JSON ({error})", where=where) from None
    if not isinstance(record, dict):
        raise StoreError(f"expected a JSON object, not {type(record).__name__}", where=where)
    return record


def _header(record: dict[str, Any], where: str, records: StoreRecords) -> int:
    """Read the header into ``records``; returns the file's format version."""
    version = record.get("version", 1)
    if record.get("format") != FORMAT or type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        raise StoreError("not a runql workspace this version reads", where=where, code="not-a-store")
    for name in ("active_experiment_id", "last_active_run_id"):
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise StoreError(f"{name} must be a string, not {type(value).__name__}", where=where)
    records.active_experiment_id = record.get("active_experiment_id")
    records.last_active_run_id = record.get("last_active_run_id")
    return version


def _check_closing(closing: tuple[int, dict[str, Any]], records: StoreRecords, where: str) -> None:
    _, counts = closing
    read = {"experiments": len(records.experiments), "runs": len(records.runs)}
    for name, found in read.items():
        if counts.get(name) != found:
            raise StoreError(
                f"the closing line counts {counts.get(name)!r:.40} {name}, but the file holds {found}: "
                "records are missing",
                where=where,
            )
