"""How a command prints what it found: a table sized to the terminal, CSV, JSON or Markdown.

A value that is missing is None and prints as an empty cell (JSON: null); a logged NaN or infinity is
spelled out in every format.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TextIO

__all__ = [
    "UTC",
    "Rows",
    "add_format",
    "print_json",
    "print_rows",
    "print_tables",
    "terminal_width",
    "utc_times",
]

UTC = " (UTC)"
"""What a header says after the name of a column of times."""

_FORMATS = ("table", "csv", "json", "markdown")
_CELL_CAP = 32  # on a terminal, the widest a column grows before its cells are elided
_MIN_WIDTH = 5
_ELLIPSIS = "…"


def add_format(parser: argparse.ArgumentParser) -> None:
    """Add ``--format``: table, csv, json or markdown."""
    parser.add_argument(
        "--format",
        "-f",
        choices=_FORMATS,
        default="table",
        help="table (sized to the terminal when printed to one), csv, json or markdown (default: table)",
    )


def utc_times(values: list[int | None]) -> list[datetime | None]:
    """Times in milliseconds since the epoch as UTC datetimes; None stays None."""
    return [None if v is None else datetime.fromtimestamp(v / 1000, tz=timezone.utc) for v in values]


# -- cells -----------------------------------------------------------------------------------------


def _scalar(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (a numpy float is a float already); else ``value``."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, float, datetime)) else value


def _number(value: float) -> str:
    """A float as a cell shows it: NaN, inf and -inf spelled out, never blank."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def _text(value: Any, milliseconds: bool = False) -> str:
    """One cell: empty only for a value that is missing, numbers short, times in UTC, one line."""
    value = _scalar(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, datetime):
        if value != value:  # NaT
            return ""
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return f"{text}.{value.microsecond // 1000:03d}" if milliseconds else text
    return str(value).replace("\r", "\\r").replace("\n", "\\n")


def _csv_text(value: Any) -> str:
    """One CSV field: floats in full, times in ISO 8601."""
    value = _scalar(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return _number(value) if not math.isfinite(value) else repr(value)
    if isinstance(value, datetime):
        return "" if value != value else value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    """JSON for a cell: null only for a missing value; NaN and infinities as the strings "NaN",
    "Infinity" and "-Infinity" (JSON has no numbers for them)."""
    value = _scalar(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, datetime):
        return None if value != value else value.isoformat()
    return str(value)


def print_json(document: Any, out: TextIO) -> None:
    """``document`` (dicts and lists of cells) as indented JSON."""

    def encode(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return _json_value(value)

    out.write(json.dumps(encode(document), ensure_ascii=False, indent=2) + "\n")


# -- tables ----------------------------------------------------------------------------------------


def terminal_width(out: TextIO) -> int | None:
    """The width of the terminal ``out`` prints to; None when it is a file or a pipe."""
    isatty = getattr(out, "isatty", None)
    if not callable(isatty) or not isatty():
        return None
    return shutil.get_terminal_size((100, 24)).columns


def _width(text: str) -> int:
    """The columns ``text`` takes on a terminal: wide (CJK) characters take two, combining ones none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


def _elide(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        used += _width(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + _ELLIPSIS


def _pad(text: str, width: int, right: bool) -> str:
    space = " " * max(width - _width(text), 0)
    return space + text if right else text + space


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fit(widths: list[int], limit: int, drop: bool) -> list[int]:
    """The widths of the columns shown within ``limit``.

    Every column is capped alike, then trailing columns are dropped (when ``drop``), then the widest
    columns are narrowed; the first column is never dropped nor narrowed below the cap.
    """
    widths = [min(w, _CELL_CAP) for w in widths]

    def total(ws: list[int]) -> int:
        return sum(ws) + 2 * (len(ws) - 1)

    while drop and len(widths) > 2 and total(widths) > limit:
        widths.pop()
    while total(widths) > limit:
        candidates = [i for i in range(1, len(widths)) if widths[i] > _MIN_WIDTH]
        if not candidates:
            break
        widths[max(candidates, key=lambda i: widths[i])] -= 1
    return widths


def _table(
    headers: list[str], rows: list[list[str]], limit: int | None, drop: bool = True
) -> tuple[str, int]:
    """A plain-text table, and how many columns it left out. With a ``limit`` (a terminal's width)
    it fits that width; without one, nothing is cut. Numbers are right-aligned."""
    widths = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    if limit is not None:
        widths = _fit(widths, limit, drop)

    def line(cells: list[str], header: bool = False) -> str:
        parts = [
            _pad(_elide(cell, width), width, not header and _is_number(cell))
            for cell, width in zip(cells, widths, strict=False)
        ]
        return "  ".join(parts).rstrip()

    lines = [line(headers, header=True), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]
    return "\n".join(lines) + "\n", len(headers) - len(widths)


def print_tables(tables: Sequence[tuple[str | None, list[str], list[list[Any]]]], out: TextIO) -> None:
    """Tables of (title, headers, rows) one under the other, fitting a terminal's width but never
    leaving a column out. A table without a title prints always; one with a title, under it, when it
    has rows."""
    width = terminal_width(out)
    for title, headers, values in tables:
        if title is not None:
            if not values:
                continue
            out.write(f"\n{title}:\n")
        out.write(_table(headers, [[_text(v) for v in row] for row in values], width, drop=False)[0])


def _markdown(headers: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    lines = [line(headers), "|" + "|".join(" --- " for _ in headers) + "|", *(line(r) for r in rows)]
    return "\n".join(lines) + "\n"


@dataclass
class Rows:
    """What a command prints: column names and rows of values, None for a value that is missing."""

    headers: list[str]
    values: list[list[Any]]
    times: frozenset[str] = frozenset()  # the columns that hold UTC times
    milliseconds: bool = False  # times shown to the millisecond
    count: int | None = None  # how many rows are the things counted (None: all; the others are notes)


def print_rows(rows: Rows, form: str, out: TextIO, err: TextIO, noun: str, drop: bool = True) -> None:
    """Print ``rows`` in the format ``form``; a table printed to a terminal counts its ``noun``s on
    stderr, with the columns it left out (it may, when ``drop``)."""
    if form == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(rows.headers)
        writer.writerows([_csv_text(v) for v in row] for row in rows.values)
        return
    if form == "json":
        print_json([dict(zip(rows.headers, row, strict=True)) for row in rows.values], out)
        return
    headers = [h + UTC if h in rows.times else h for h in rows.headers]
    cells = [[_text(v, rows.milliseconds) for v in row] for row in rows.values]
    if form == "markdown":
        out.write(_markdown(headers, [[c.replace("\\n", "<br>") for c in row] for row in cells]))
        return
    width = terminal_width(out)
    text, hidden = _table(headers, cells, width, drop=drop)
    out.write(text)
    if width is None:  # a file or a pipe: nothing was cut, and the count would be noise
        return
    counted = len(cells) if rows.count is None else rows.count
    count = f"{counted} {noun}{'' if counted == 1 else 's'}"
    if hidden:
        count += f"; {hidden} more column{'s' if hidden > 1 else ''} with --columns or --format csv"
    print(count, file=err)
