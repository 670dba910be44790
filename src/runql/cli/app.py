"""The ``runql`` command.

Each subcommand is a :class:`Command`: a name, a function that adds its arguments to a sub-parser and
a function that runs it and returns the exit code. Add one by appending to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import difflib
import fnmatch
import itertools
import json
import math
import os
import shutil
import sys
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from runql.common.redact import redact
from runql.errors import RunqlError, Severity, UnsupportedQueryError
from runql.language.ast import Compare, Entity, Key, Literal, Op, clauses
from runql.language.parser import parse
from runql.language.unparser import unparse, unparse_query
from runql.model.records import LifecycleStage, ViewType
from runql.profiles.catalog import ENTITIES, PROFILE_NAMES, matrix_markdown
from runql.profiles.checker import QueryWarning, resolve_profile, validate
from runql.sources.discovery import find_source

if TYPE_CHECKING:
    from runql.model.records import Run
    from runql.stores.server import ServerStore
    from runql.stores.sql import SqlStore
    from runql.stores.workspace import Workspace

    # What the commands read: the runs in memory, a database searched in SQL, or a tracking server.
    Store = Workspace | SqlStore | ServerStore

__all__ = ["COMMANDS", "Command", "build_parser", "main"]


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    description: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, TextIO, TextIO], int]
    examples: str = ""


def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "filter", nargs="?", default="", help="the filter_string (empty or omitted: no filter)"
    )
    parser.add_argument(
        "--order-by",
        "-o",
        action="append",
        metavar="CLAUSE",
        help="an order_by clause such as 'metrics.auc DESC'; repeat for several",
    )
    parser.add_argument(
        "--profile", "-p", choices=PROFILE_NAMES, default="mlflow", help="the backend (default: mlflow)"
    )
    parser.add_argument(
        "--entity", "-e", choices=ENTITIES, default="runs", help="what is searched (default: runs)"
    )


def _run_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    profile = resolve_profile(args.profile, args.entity)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QueryWarning)
        try:
            lowered = validate(args.filter, profile, args.entity, args.order_by)
        except UnsupportedQueryError as refusal:
            for diagnostic in refusal.diagnostics:
                print(f"{diagnostic}\n", file=err if diagnostic.severity is Severity.ERROR else out)
            errors = sum(d.severity is Severity.ERROR for d in refusal.diagnostics)
            count = f"{errors} problem{'s' if errors > 1 else ''}"
            print(f"refused by the {profile.name} profile ({args.entity}): {count}", file=err)
            return 1
    for warning in caught:
        if isinstance(warning.message, QueryWarning):
            print(f"{warning.message.diagnostic}\n", file=out)
    print(f"accepted by the {profile.name} profile ({args.entity})", file=out)
    if lowered != parse(args.filter, args.order_by):
        text, order = unparse_query(lowered)
        print(f"evaluated as: filter_string={text!r} order_by={list(order)!r}", file=out)
    return 0


def _configure_plan(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "filter", nargs="?", default="", help="the filter_string (empty or omitted: no filter)"
    )
    parser.add_argument(
        "--order-by", "-o", action="append", metavar="CLAUSE", help="an order_by clause; repeat for several"
    )
    parser.add_argument(
        "--target",
        "-t",
        choices=("mlflow", "azureml"),
        default="mlflow",
        help="what the server accepts (default: mlflow)",
    )
    parser.add_argument(
        "--profile",
        "-p",
        choices=PROFILE_NAMES,
        default="extended",
        help="the language the query is written in (default: extended)",
    )
    parser.add_argument(
        "--entity", "-e", choices=ENTITIES, default="runs", help="what is searched (default: runs)"
    )


def _run_plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from runql.engines.planner import plan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QueryWarning)
        found = plan(
            args.filter, args.order_by, target=args.target, profile=args.profile, entity=args.entity
        )
    print(found.describe(), file=out)
    return 0


_PLAN_EXAMPLES = """\
examples:
  runql plan "params.model = 'xgb' AND (metrics.auc > 0.9 OR tags.stage = 'prod')" -o "metrics.auc DESC"
  runql plan "attributes.status = 'FINISHED' AND tags.team != 'a'" -o "metrics.auc DESC" --target azureml

The pushed filter and order_by are what a server of the target is sent (paste them into MLflow's
client); the residual filter is what runql evaluates on the runs the server returns.
exit status: 0, or 1 when the profile refuses the query or the text does not parse.
"""


def _configure_export(parser: argparse.ArgumentParser) -> None:
    _add_source(parser, searched_in_place=False)
    parser.add_argument("--out", required=True, metavar="FILE.parquet", help="the Parquet file to write")
    parser.add_argument(
        "--layout",
        choices=("flat", "map"),
        default="flat",
        help="flat: a column per key, as mlflow.search_runs; map: metrics, params and tags as map columns, "
        "as Databricks' MLflow experiment data source (default: flat)",
    )
    parser.add_argument("--force", action="store_true", help="let --out replace a file that exists")


def _run_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from runql.common.optional import require

    require("pyarrow", "parquet", "runql export")
    from runql.sources.export import write_run_table

    if os.path.exists(args.out) and not args.force:
        raise CommandError(f"{args.out} exists: pass --force to replace it, or name another --out file")
    count = write_run_table(_loaded(args, err).runs, args.out, args.layout)
    print(f"wrote {count} runs to {args.out} ({args.layout} layout)", file=err)
    return 0


_EXPORT_EXAMPLES = """\
examples:
  runql export --source ./mlruns --out runs.parquet
  runql export --source ./mlruns --out runs-map.parquet --layout map

Every run of the source is written, deleted ones too (with their lifecycle_stage); runql.engines.spark searches
the table (docs/spark.md).
"""


def _configure_profiles(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: the matrix covers every profile


def _run_profiles(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    out.write(matrix_markdown())
    return 0


_CHECK_EXAMPLES = """\
examples:
  runql check "metrics.auc > 0.8 AND params.model = 'lr'"
  runql check "tags.team != 'x'" --profile azureml          # refused: Azure ML has no != on tags
  runql check "attributes.duration > '360000'" --profile azureml
  runql check "" --order-by "metrics.auc DESC" --order-by start_time --profile azureml   # refused
  runql check "" --order-by "attributes.duration DESC" --profile azureml
  runql check "name LIKE 'prod%'" --entity experiments

exit status: 0 when the profile accepts the query (warnings are printed), 1 when it refuses it or the
text does not parse.
"""

# -- reading a source ------------------------------------------------------------------------------

FORMATS = ("table", "csv", "json", "markdown")
VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}


class CommandError(RunqlError):
    """A problem with the command's input, printed as ``error: <message>`` with exit status 1."""


def _add_source(parser: argparse.ArgumentParser, searched_in_place: bool = True) -> None:
    parser.add_argument(
        "--source",
        "-s",
        metavar="PATH_OR_URI",
        help="an mlruns folder, an MLflow database (mlflow.db, sqlite:///..., postgresql://...), a "
        "tracking URI or a runql workspace .jsonl file (default: MLFLOW_TRACKING_URI, then ./mlruns, "
        "then ./mlflow.db, then the bundled sample workspace)"
        + ("; a database is searched in place, in SQL" if searched_in_place else ""),
    )
    if not searched_in_place:
        return
    parser.add_argument(
        "--load",
        action="store_true",
        help="read a database whole into memory before searching, instead of searching it in SQL "
        "(for many questions of one store, runql in Python keeps what it loaded: runql.from_mlflow_db)",
    )


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        "-f",
        choices=FORMATS,
        default="table",
        help="table (sized to the terminal when printed to one), csv, json or markdown (default: table)",
    )


def _source(args: argparse.Namespace, err: TextIO) -> str | None:
    """The store to read (None: the bundled sample), found as MLflow finds it; says which on stderr
    when the user did not name it."""
    found = find_source(args.source)
    if found.notice:
        print(found.notice, file=err)
    if found.source is not None:
        _check_scheme(found.source)
    return found.source


def _check_scheme(source: str) -> None:
    """A URI whose scheme neither runql nor MLflow reads is refused here, in one line."""
    from runql.sources import source_kind

    if source_kind(source) != "mlflow":
        return
    scheme = source.split(":", 1)[0].lower() if "://" in source else source.lower()
    known = set(_MLFLOW_SCHEMES)
    with contextlib.suppress(Exception):  # plugins add schemes: an unreadable list adds none
        from importlib.metadata import entry_points

        known |= {e.name for e in entry_points(group="mlflow.tracking_store")}
    if scheme not in known:
        raise CommandError(
            f"{redact(source)}: no store reads the scheme {scheme!r}; runql reads an mlruns folder, "
            f"an MLflow database (sqlite, postgresql, mysql) and MLflow's tracking URIs "
            f"({', '.join(_MLFLOW_SCHEMES)})"
        )


# The tracking URI schemes MLflow itself serves (plugins register more).
_MLFLOW_SCHEMES = ("http", "https", "databricks", "databricks-uc", "uc", "file", "mssql", "azureml")


def _loaded(args: argparse.Namespace, err: TextIO) -> Workspace:
    """The source read whole into memory."""
    from runql.stores.workspace import Workspace

    source = _source(args, err)
    if source is None:
        return Workspace.sample()
    return _reading(source, lambda: Workspace.load(source))


def _workspace(args: argparse.Namespace, err: TextIO) -> Store:
    """What a search reads: an MLflow database searched in SQL, a tracking server asked through the
    planner (either unless --load), or the source loaded whole."""
    from runql.sources import source_kind
    from runql.stores.server import ServerStore, is_server_uri
    from runql.stores.workspace import Workspace

    source = _source(args, err)
    if source is None:
        return Workspace.sample()
    if not getattr(args, "load", False):
        if is_server_uri(source):
            return _reading(source, lambda: ServerStore(source))
        if source_kind(source) == "mlflow-db":
            from runql.stores.sql import connect

            return connect(source)
    return _reading(source, lambda: Workspace.load(source))


_T = TypeVar("_T")


def _reading(source: str, read: Callable[[], _T]) -> _T:
    """``read()``, with a failure of a library underneath (MLflow's client) told in one line."""
    try:
        return read()
    except (RunqlError, OSError, KeyboardInterrupt):
        raise
    except Exception as error:  # MLflow's client raises its own exceptions, tracebacks and all
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CommandError(f"{redact(source)}: {first}") from None


def _run_by_id(ws: Store, text: str) -> str:
    """The run id ``text`` names: a whole id, or the start of exactly one (``c4ca69``)."""
    from runql.errors import NotFoundError

    try:
        return ws.get_run(text).info.run_id
    except NotFoundError:
        pass
    matches = ws.run_ids_starting(text)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CommandError(f"Run {text!r} not found, nor a run whose id starts with it")
    shown = ", ".join(sorted(matches)[:5]) + (", ..." if len(matches) > 5 else "")
    raise CommandError(f"{text!r} starts the ids of several runs ({shown}): give more of the id")


# -- printing tables -------------------------------------------------------------------------------

_CELL_CAP = 32  # on a terminal, the widest a column grows before its cells are elided
_MIN_WIDTH = 5
_ELLIPSIS = "…"
_UTC = " (UTC)"


def _number(value: float) -> str:
    """A float as a cell shows it: NaN, inf and -inf spelled out, never blank."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def _text(value: Any, milliseconds: bool = False) -> str:
    """One cell: empty only for a value that is missing, numbers short, times in UTC, one line."""
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
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and not isinstance(value, str):
        return _text(item(), milliseconds)
    text = str(value)
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return _number(value) if not math.isfinite(value) else repr(value)
    if isinstance(value, datetime):
        return "" if value != value else value.isoformat()
    item = getattr(value, "item", None)
    return _csv_text(item()) if callable(item) and not isinstance(value, str) else str(value)


def _json_value(value: Any) -> Any:
    """JSON for a cell: null only for a missing value; NaN and infinities as the strings "NaN",
    "Infinity" and "-Infinity" (JSON has no numbers for them)."""
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
    item = getattr(value, "item", None)  # numpy scalars
    return _json_value(item()) if callable(item) else str(value)


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


def _fit(widths: list[int], limit: int, keep: int, drop: bool) -> tuple[list[int], int]:
    """Column widths that fit ``limit`` and how many columns are shown.

    Every column is capped alike, then trailing columns are dropped (when ``drop``), then the widest
    columns are narrowed; the first ``keep`` columns are never dropped nor narrowed below the cap.
    """
    widths = [min(w, _CELL_CAP) for w in widths]

    def total(ws: list[int]) -> int:
        return sum(ws) + 2 * (len(ws) - 1)

    shown = len(widths)
    while drop and shown > keep + 1 and total(widths[:shown]) > limit:
        shown -= 1
    widths = widths[:shown]
    while total(widths) > limit:
        candidates = [i for i in range(keep, len(widths)) if widths[i] > _MIN_WIDTH]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths, shown


def _table(
    headers: list[str], rows: list[list[str]], limit: int | None, keep: int = 1, drop: bool = True
) -> tuple[str, int]:
    """A plain-text table, and how many columns it left out. With a ``limit`` (a terminal's width)
    it fits that width; without one, nothing is cut. Numbers are right-aligned."""
    natural = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    if limit is None:
        widths, shown = natural, len(headers)
    else:
        widths, shown = _fit(natural, limit, keep, drop)

    def line(cells: list[str], header: bool = False) -> str:
        parts = []
        for i, width in enumerate(widths):
            cell = _elide(cells[i], width)
            parts.append(_pad(cell, width, not header and _is_number(cells[i])))
        return "  ".join(parts).rstrip()

    lines = [line(headers, header=True), "  ".join("-" * w for w in widths)]
    lines.extend(line(r) for r in rows)
    return "\n".join(lines) + "\n", len(headers) - shown


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _markdown(headers: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    lines = [line(headers), "|" + "|".join(" --- " for _ in headers) + "|"]
    lines.extend(line(r) for r in rows)
    return "\n".join(lines) + "\n"


def _terminal_width(out: TextIO) -> int | None:
    """The width of the terminal ``out`` prints to; None when it is a file or a pipe."""
    isatty = getattr(out, "isatty", None)
    if not callable(isatty) or not isatty():
        return None
    return shutil.get_terminal_size((100, 24)).columns


@dataclass
class Rows:
    """What a command prints: column names and rows of values, None for a value that is missing."""

    headers: list[str]
    values: list[list[Any]]
    times: frozenset[str] = frozenset()  # the columns that hold UTC times
    milliseconds: bool = False  # times shown to the millisecond


def _print_rows(
    rows: Rows,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    noun: str,
    keep: int = 1,
    drop: bool = True,
) -> None:
    """Print ``rows`` in the chosen format; the table's count of rows goes to stderr."""
    if args.format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(rows.headers)
        writer.writerows([_csv_text(v) for v in row] for row in rows.values)
        return
    if args.format == "json":
        items = [{h: _json_value(v) for h, v in zip(rows.headers, row, strict=True)} for row in rows.values]
        out.write(json.dumps(items, ensure_ascii=False, indent=2) + "\n")
        return
    headers = [h + _UTC if h in rows.times else h for h in rows.headers]
    cells = [[_text(v, rows.milliseconds) for v in row] for row in rows.values]
    if args.format == "markdown":
        out.write(_markdown(headers, [[c.replace("\\n", "<br>") for c in row] for row in cells]))
        return
    width = _terminal_width(out)
    text, hidden = _table(headers, cells, width, keep=keep, drop=drop)
    out.write(text)
    if width is None:  # a file or a pipe: nothing was cut, and the count would be noise
        return
    count = f"{len(cells)} {noun}{'' if len(cells) == 1 else 's'}"
    if hidden:
        count += f"; {hidden} more column{'s' if hidden > 1 else ''} with --columns or --format csv"
    print(count, file=err)


def _columns(option: list[str] | None) -> list[str] | None:
    if not option:
        return None
    return [name.strip() for item in option for name in item.split(",") if name.strip()]


def _expand(wanted: list[str], available: list[str], available_rows: int, err: TextIO) -> list[str]:
    """``wanted`` with each glob (``params.*``, ``metrics.val*``) replaced by the columns it matches."""
    expanded: list[str] = []
    for name in wanted:
        if not any(c in name for c in "*?["):
            expanded.append(name)
            continue
        matched = [c for c in available if fnmatch.fnmatchcase(c, name)]
        if not matched and available_rows:
            print(f"warning: no column matches {name!r}", file=err)
        expanded.extend(matched)
    return list(dict.fromkeys(expanded))


def _select(
    columns: dict[str, list[Any]], wanted: list[str], known: list[str], size: int
) -> tuple[list[str], list[list[Any]]]:
    """The columns ``wanted``: a key column no row has comes out empty, a typo is an error."""
    chosen: list[list[Any]] = []
    for name in wanted:
        if name in columns:
            chosen.append(columns[name])
        elif name.startswith(("metrics.", "params.", "tags.")):
            chosen.append([None] * size)
        else:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise CommandError(
                f"unknown column {name!r}{hint}; columns are {', '.join(known)} and metrics.<key>, "
                "params.<key>, tags.<key>"
            )
    return wanted, [list(row) for row in zip(*chosen, strict=True)] if chosen else [[] for _ in range(size)]


def _query_keys(filter_string: str, order_by: list[str] | None) -> list[str]:
    """The metric, param and tag columns a query names, in the order it names them."""
    query = parse(filter_string, order_by)
    keys = [c.key for c in clauses(query.filter)] + [s.key for s in query.order_by]
    prefixes = {Entity.METRIC: "metrics.", Entity.PARAM: "params.", Entity.TAG: "tags."}
    return list(dict.fromkeys(prefixes[k.entity] + k.name for k in keys if k.entity in prefixes))


# -- runql runs ------------------------------------------------------------------------------------


def _add_search(parser: argparse.ArgumentParser, what: str) -> None:
    _add_source(parser)
    parser.add_argument("--filter", "-F", default="", metavar="F", help=f"a filter_string over {what}")
    parser.add_argument(
        "--order-by", "-o", action="append", metavar="O", help="an order_by clause; repeat for several"
    )
    parser.add_argument("--max-results", "-n", type=int, metavar="N", help="print at most N (default: all)")
    parser.add_argument(
        "--view", choices=tuple(VIEWS), default="active", help="active, deleted or all (default: active)"
    )
    parser.add_argument(
        "--profile",
        "-p",
        choices=PROFILE_NAMES,
        default="mlflow",
        help="the backend whose rules the query follows",
    )
    parser.add_argument(
        "--columns",
        "-c",
        nargs="+",
        metavar="COLUMN",
        help="the columns to print (space or comma separated; globs such as 'params.*' expand)",
    )
    _add_format(parser)


def _configure_runs(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--experiment-name", "-e", action="append", metavar="N", help="search this experiment")
    which.add_argument(
        "--experiment-id", "-i", action="append", metavar="I", help="search this experiment id"
    )
    which.add_argument(
        "--all-experiments",
        "-a",
        action="store_true",
        help="search every active experiment (as MLflow's search_all_experiments)",
    )
    _add_search(parser, "runs")
    parser.add_argument(
        "--tree",
        action="store_true",
        help="put each run right after its parent, its name indented (nested runs, mlflow.parentRunId)",
    )
    parser.add_argument(
        "--page-token",
        metavar="TOKEN",
        help="continue from the page this token ends (printed on stderr after a page of --max-results)",
    )


_RUN_COLUMNS = ("run_id", "run_name", "experiment", "status", "start_time")
_RUN_EXTRA = ("experiment_id", "artifact_uri", "end_time")
_RUN_TIMES = frozenset({"start_time", "end_time"})


def _searched_experiments(ws: Store, args: argparse.Namespace, err: TextIO) -> list[str]:
    """The ids of the experiments ``runql runs`` searches."""
    view = VIEWS[args.view]
    if args.experiment_name:
        found = {n: ws.get_experiment_by_name(n) for n in args.experiment_name}
        missing = [n for n, e in found.items() if e is None]
        if missing:
            names = ", ".join(repr(e.name) for e in ws.experiments)
            raise CommandError(
                f"no experiment named {', '.join(map(repr, missing))}; experiments are {names}"
            )
        for name, experiment in found.items():
            assert experiment is not None
            if experiment.lifecycle_stage == LifecycleStage.DELETED and view is ViewType.ACTIVE_ONLY:
                print(
                    f"warning: experiment {name!r} is deleted, and its runs with it: "
                    "pass --view all (or --view deleted) to search them",
                    file=err,
                )
        return [e.experiment_id for e in found.values() if e is not None]
    if args.experiment_id:
        for experiment_id in args.experiment_id:
            ws.get_experiment(experiment_id)
        return list(args.experiment_id)
    return [
        e.experiment_id
        for e in ws.experiments
        if (view is not ViewType.ACTIVE_ONLY and not args.all_experiments)
        or e.lifecycle_stage == LifecycleStage.ACTIVE
    ]


def _run_columns(runs: list[Run], experiment_names: dict[str, str]) -> dict[str, list[Any]]:
    """Every column of the runs, as MLflow's DataFrame orders them (with the run name and experiment
    after the id); a metric, param or tag a run never logged is None, a logged NaN stays NaN."""
    from runql.model.frames import first_seen

    infos = [r.info for r in runs]
    columns: dict[str, list[Any]] = {
        "run_id": [i.run_id for i in infos],
        "run_name": [r.data.tags.get("mlflow.runName", r.info.run_name or None) for r in runs],
        "experiment": [experiment_names.get(i.experiment_id, i.experiment_id) for i in infos],
        "experiment_id": [i.experiment_id for i in infos],
        "status": [i.status for i in infos],
        "artifact_uri": [i.artifact_uri for i in infos],
        "start_time": _times([i.start_time for i in infos]),
        "end_time": _times([i.end_time for i in infos]),
    }
    for part in ("metrics", "params", "tags"):
        mappings = [getattr(r.data, part) for r in runs]
        for key in first_seen(mappings):
            columns[f"{part}.{key}"] = [m.get(key) for m in mappings]
    return columns


def _as_tree(runs: list[Run]) -> tuple[list[Run], list[int]]:
    """``runs`` with each child right after its parent (in the order found), and each run's depth.
    A run whose parent is not among ``runs`` is a root."""
    found = {run.info.run_id for run in runs}
    children: dict[str | None, list[Run]] = {}
    for run in runs:
        parent = run.data.tags.get(_PARENT_TAG)
        children.setdefault(parent if parent in found else None, []).append(run)
    ordered: list[Run] = []
    depths: list[int] = []
    placed: set[str] = set()

    def place(run: Run, depth: int) -> None:
        if run.info.run_id in placed:  # a cycle of parent tags: each run is printed once
            return
        placed.add(run.info.run_id)
        ordered.append(run)
        depths.append(depth)
        for child in children.get(run.info.run_id, []):
            place(child, depth + 1)

    for root in children.get(None, []):
        place(root, 0)
    for run in runs:  # runs on a cycle have no root: printed where they are
        place(run, 0)
    return ordered, depths


def _run_runs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ws = _workspace(args, err)
    view = VIEWS[args.view]
    experiment_ids = _searched_experiments(ws, args, err)
    search: dict[str, Any] = {
        "experiment_ids": experiment_ids,
        "filter_string": args.filter,
        "run_view_type": view,
        "max_results": args.max_results,
        "order_by": args.order_by,
        "profile": args.profile,
    }
    next_token = None
    if args.page_token is not None or (args.max_results is not None and args.max_results <= 50000):
        runs, next_token = ws.search_runs_paged(page_token=args.page_token, **search)
    else:
        runs = ws.search_runs(output_format="list", **search)
    experiment_names = {e.experiment_id: e.name for e in ws.experiments}
    depths: list[int] = []
    if args.tree:
        runs, depths = _as_tree(runs)
    columns = _run_columns(runs, experiment_names)
    if args.tree and args.format in ("table", "markdown"):
        columns["run_name"] = [
            "  " * depth + ("└ " if depth else "") + (name or "")
            for depth, name in zip(depths, columns["run_name"], strict=True)
        ]
    wanted = _columns(args.columns)
    if wanted is not None:
        wanted = _expand(wanted, list(columns), len(runs), err)
    named = [c for c in wanted or [] if c.startswith(("metrics.", "params.", "tags."))]
    if named:  # the search warned of the query's own absent keys already
        from runql.language.ast import Query
        from runql.model.keys import absent_keys

        present = ws.key_sets(experiment_ids, view.stages)
        if present is not None:  # a tracking server cannot tell without sending every run
            for diagnostic in absent_keys(Query(), present, named):
                print(diagnostic, file=err)
    if wanted is None and args.format in ("csv", "json"):
        wanted = list(columns)
    if wanted is None:
        keys = _query_keys(args.filter, args.order_by)
        metrics = sorted(c for c in columns if c.startswith("metrics."))
        params = sorted(c for c in columns if c.startswith("params."))
        # The columns a query names come right after the run: the last columns give way first.
        wanted = list(dict.fromkeys([*_RUN_COLUMNS[:2], *keys, *_RUN_COLUMNS[2:], *metrics, *params]))
    known = [*_RUN_COLUMNS, *_RUN_EXTRA]
    headers, values = _select(columns, wanted, known, len(runs))
    named_columns = args.columns is not None
    _print_rows(Rows(headers, values, _RUN_TIMES), args, out, err, "run", drop=not named_columns)
    if next_token is not None:
        print(f"more runs: --page-token {next_token}", file=err)
    return 0


_RUNS_EXAMPLES = """\
examples:
  runql runs --filter "metrics.auc > 0.8" --order-by "metrics.auc DESC" --max-results 5
  runql runs --experiment-name my_experiment --filter "params.model = 'xgboost'" --columns run_id,metrics.auc
  runql runs --columns run_id 'params.*' --max-results 3
  runql runs --filter "tags.mlflow.parentRunId = '7e3a9c1d5b2f4e6a8c0d1f3b5a7c9e2d'" --format csv
  runql runs --view deleted --format json --max-results 2
  runql runs --tree --columns run_id run_name status                # nested runs under their parent
  runql runs --filter "attributes.status = 'Failed'" --profile azureml
  runql runs --source ./mlruns --filter "metrics.auc > 0.8"          # an mlruns folder MLflow wrote

Without --source, the store is found as MLflow finds it: MLFLOW_TRACKING_URI, then ./mlruns, then
./mlflow.db in the current folder; with none of them, the bundled sample workspace is read. Which
one was read is said on stderr. With no experiment option, every experiment is searched (every
active one with --view active); MLflow itself would search only the active experiment.
A metric, param or tag key that no searched run has is pointed out on stderr, with the close keys.
An empty cell is a value never logged; a logged NaN prints NaN (JSON: "NaN", "Infinity").
On a terminal the table fits its width: wide cells are cut with '…' and columns that do not fit are
left out (their count goes to stderr; --columns or --format csv shows them); printed to a file or a
pipe, nothing is cut. With --max-results, the token of the next page goes to stderr.
exit status: 0 on success, 1 when the query or the source is at fault (the message goes to stderr).
"""


# -- runql experiments -----------------------------------------------------------------------------

_EXPERIMENT_COLUMNS = ("experiment_id", "name", "lifecycle_stage", "creation_time", "last_update_time")


def _run_experiments(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ws = _workspace(args, err)
    found = ws.search_experiments(
        view_type=VIEWS[args.view],
        max_results=args.max_results,
        filter_string=args.filter,
        order_by=args.order_by,
        profile=args.profile,
    )
    tag_keys = sorted({k for e in found for k in e.tags})
    columns: dict[str, list[Any]] = {
        "experiment_id": [e.experiment_id for e in found],
        "name": [e.name for e in found],
        "lifecycle_stage": [e.lifecycle_stage for e in found],
        "creation_time": _times([e.creation_time for e in found]),
        "last_update_time": _times([e.last_update_time for e in found]),
        "artifact_location": [e.artifact_location for e in found],
    }
    for key in tag_keys:
        columns[f"tags.{key}"] = [e.tags.get(key) for e in found]
    wanted = _columns(args.columns)
    if wanted is not None:
        wanted = _expand(wanted, list(columns), len(found), err)
    if wanted is None:
        wanted = (
            list(columns)
            if args.format in ("csv", "json")
            else [*_EXPERIMENT_COLUMNS, *(f"tags.{k}" for k in tag_keys)]
        )
    headers, values = _select(columns, wanted, [*_EXPERIMENT_COLUMNS, "artifact_location"], len(found))
    times = frozenset({"creation_time", "last_update_time"})
    _print_rows(Rows(headers, values, times), args, out, err, "experiment", drop=args.columns is None)
    return 0


def _times(values: list[int | None]) -> list[datetime | None]:
    return [None if v is None else datetime.fromtimestamp(v / 1000, tz=timezone.utc) for v in values]


_EXPERIMENTS_EXAMPLES = """\
examples:
  runql experiments
  runql experiments --filter "name LIKE '%classifier%'" --order-by "name ASC"
  runql experiments --filter "tags.team = 'vision'" --format csv
  runql experiments --view all --columns experiment_id,name,lifecycle_stage
  runql experiments --source ./mlruns --format json                  # an mlruns folder MLflow wrote

exit status: 0 on success, 1 when the query or the source is at fault.
"""


# -- runql history ---------------------------------------------------------------------------------


def _configure_history(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN_ID", help="the run (or the start of its id)")
    parser.add_argument("key", metavar="KEY", help="the metric key")
    _add_source(parser)
    _add_format(parser)


def _run_history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ws = _workspace(args, err)
    run_id = _run_by_id(ws, args.run_id)
    run = ws.get_run(run_id)
    points = ws.get_metric_history(run_id, args.key)
    if not points:
        logged = ", ".join(sorted(run.data.metrics)) or "none"
        raise CommandError(f"run {run_id!r} has no metric {args.key!r}; its metrics: {logged}")
    rows = Rows(
        ["step", "timestamp", "value"],
        [
            [p.step, stamp, p.value]
            for p, stamp in zip(points, _times([p.timestamp for p in points]), strict=True)
        ],
        times=frozenset({"timestamp"}),
        milliseconds=True,
    )
    _print_rows(rows, args, out, err, "point")
    return 0


_HISTORY_EXAMPLES = """\
examples:
  runql history 1234-5678-90AB-CDEFG auc
  runql history 5678-1234-90AB-CDEFG log_loss --format csv
  runql history 5678-1234 log_loss                 # the start of a run id names the run

exit status: 0 on success, 1 for an unknown run or a metric the run never logged.
"""


# -- runql describe --------------------------------------------------------------------------------


def _configure_describe(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN_ID", help="the run (or the start of its id)")
    _add_source(parser)
    parser.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="table or json (default: table)"
    )


_PARENT_TAG = "mlflow.parentRunId"


def _describe(ws: Store, run: Run) -> dict[str, Any]:
    """Everything about ``run``: attributes, params, latest metrics with their step, tags, datasets,
    parent and children."""
    from runql.model.records import latest_metric

    info = run.info
    experiment = ws.get_experiment(info.experiment_id)
    children = ws.search_runs(
        experiment_ids=[info.experiment_id],
        # Written from the tree: the id is a value, never pasted into the filter's text.
        filter_string=unparse(Compare(Key(Entity.TAG, _PARENT_TAG), Op.EQ, Literal(info.run_id))),
        run_view_type=ViewType.ALL,
        max_results=None,
        output_format="list",
    )
    start, end = _times([info.start_time, info.end_time])
    metrics = {}
    for key in sorted(run.data.metrics):
        latest = latest_metric(run.data.history(key, info.start_time or 0))
        metrics[key] = {
            "value": run.data.metrics[key],
            "step": latest.step,
            "timestamp": _times([latest.timestamp])[0],
        }
    return {
        "run_id": info.run_id,
        "run_name": run.data.tags.get("mlflow.runName", info.run_name),
        "experiment": f"{experiment.name} ({experiment.experiment_id})",
        "status": info.status,
        "lifecycle_stage": info.lifecycle_stage,
        "user": info.user_id,
        "start_time": start,
        "end_time": end,
        "duration": None if start is None or end is None else str(end - start),
        "artifact_uri": info.artifact_uri,
        "parent": run.data.tags.get(_PARENT_TAG),
        "children": [c.info.run_id for c in children],
        "params": dict(sorted(run.data.params.items())),
        "metrics": metrics,
        "tags": dict(sorted(run.data.tags.items())),
        "datasets": [
            {"name": d.dataset.name, "digest": d.dataset.digest, "context": d.context}
            for d in run.inputs.dataset_inputs
        ],
    }


def _run_describe(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ws = _workspace(args, err)
    run = ws.get_run(_run_by_id(ws, args.run_id))
    described = _describe(ws, run)
    if args.format == "json":

        def encode(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: encode(v) for k, v in value.items()}
            if isinstance(value, list):
                return [encode(v) for v in value]
            return _json_value(value)

        out.write(json.dumps(encode(described), ensure_ascii=False, indent=2) + "\n")
        return 0
    sections = ("params", "metrics", "tags", "datasets")
    attributes = [[k, v] for k, v in described.items() if k not in sections]
    for row in attributes:
        if row[0] in ("start_time", "end_time"):
            row[0] += _UTC
        if row[0] == "children":
            row[1] = ", ".join(row[1]) or None
    width = _terminal_width(out)
    out.write(_table(["attribute", "value"], [[k, _text(v)] for k, v in attributes], width, drop=False)[0])
    listed: list[tuple[str, list[str], list[list[Any]]]] = [
        ("params", ["param", "value"], [[k, v] for k, v in described["params"].items()]),
        (
            "metrics",
            ["metric", "value", "step", "timestamp" + _UTC],
            [[k, m["value"], m["step"], m["timestamp"]] for k, m in described["metrics"].items()],
        ),
        ("tags", ["tag", "value"], [[k, v] for k, v in described["tags"].items()]),
        (
            "datasets",
            ["dataset", "digest", "context"],
            [[d["name"], d["digest"], d["context"]] for d in described["datasets"]],
        ),
    ]
    for name, headers, values in listed:
        if values:
            out.write(f"\n{name}:\n")
            out.write(_table(headers, [[_text(v) for v in row] for row in values], width, drop=False)[0])
    return 0


_DESCRIBE_EXAMPLES = """\
examples:
  runql describe 1234-5678-90AB-CDEFG
  runql describe 5678-1234 --format json

Prints the run's attributes, parent and children, then its params, latest metrics (with their step
and time), tags and dataset inputs, as 'mlflow runs describe' does.
exit status: 0 on success, 1 for an unknown run id or one that starts several.
"""


# -- runql compare ---------------------------------------------------------------------------------


def _configure_compare(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_ids", nargs="+", metavar="RUN_ID", help="two runs or more (or the starts of ids)"
    )
    parser.add_argument(
        "--only-differences", "-d", action="store_true", help="only the keys whose values differ"
    )
    parser.add_argument(
        "--plot",
        metavar="KEY",
        action="append",
        help="draw the history of metric KEY for the runs; repeat for several metrics (one chart each)",
    )
    parser.add_argument("--out", metavar="FILE.png", help="where --plot writes its PNG")
    parser.add_argument(
        "--x",
        choices=("auto", "step", "time"),
        default="auto",
        help="the x axis of --plot: step, time since the first point, or auto (step unless none was logged)",
    )
    parser.add_argument("--force", action="store_true", help="let --out replace a file that exists")
    _add_source(parser, searched_in_place=False)
    _add_format(parser)


def _run_compare(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from runql.model.comparison import DIFFERS, compare_runs, plot_metric_history

    if len(args.run_ids) < 2:
        raise CommandError("name two runs or more to compare")
    if (args.plot is None) != (args.out is None):
        raise CommandError("--plot KEY and --out FILE.png go together")
    if args.plot is not None:
        from runql.common.optional import require

        require("matplotlib", "plot", "--plot")
        if os.path.exists(args.out) and not args.force:
            raise CommandError(f"{args.out} exists: pass --force to replace it, or name another --out file")
    ws = _loaded(args, err)  # a comparison reads whole histories
    run_ids = [_run_by_id(ws, text) for text in args.run_ids]
    runs = [ws.get_run(run_id) for run_id in run_ids]
    for key in args.plot or []:  # checked before anything is printed
        if not any(key in run.data.metrics for run in runs):
            logged = ", ".join(sorted(set().union(*(run.data.metrics for run in runs)))) or "none"
            raise CommandError(f"none of the runs logged metric {key!r}; their metrics: {logged}")
    frame = compare_runs(ws, run_ids, only_differences=args.only_differences, attributes=True)
    experiment_names = {e.experiment_id: e.name for e in ws.experiments}
    labels = list(run_ids)
    if args.format in ("table", "markdown"):
        # Run names read better than ids in a header, when they tell the runs apart.
        names = [run.info.run_name or run.info.run_id for run in runs]
        labels = names if len(set(names)) == len(names) else labels
    headers = ["key", *labels, DIFFERS]
    values = []
    for key, row in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        cells = list(row)
        if key == "attributes.experiment_id" and args.format in ("table", "markdown"):
            key = "attributes.experiment"
            cells = [experiment_names.get(c, c) for c in cells[:-1]] + [cells[-1]]
        if key == "attributes.start_time" and args.format in ("table", "markdown"):
            key += _UTC
        values.append([key, *cells])
    _print_rows(Rows(headers, values), args, out, err, "key", drop=False)
    if args.plot is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plot_metric_history(ws, run_ids, args.plot, out=args.out, x=args.x)
        for warning in caught:
            print(f"warning: {warning.message}", file=err)
        print(f"wrote {args.out}", file=err)
    return 0


_COMPARE_EXAMPLES = """\
examples:
  runql compare 1234-5678-90AB-CDEFG 5678-1234-90AB-CDEFG
  runql compare 1234-5678-90AB-CDEFG 5678-1234-90AB-CDEFG --only-differences
  runql compare 1234-5678-90AB-CDEFG 5678-1234-90AB-CDEFG --plot auc --out auc.png
  runql compare 1234-5678 5678-1234 --plot auc --plot log_loss --x time --out curves.png --force
  runql compare 1234-5678-90AB-CDEFG 5678-1234-90AB-CDEFG --format json

The rows are the runs' attributes (status, start time, duration, experiment), their dataset inputs,
params, metrics and tags. --plot needs matplotlib: pip install 'runql[plot]' (from a checkout:
pip install '.[plot]'); it refuses to replace an existing --out file unless --force is given.
exit status: 0 on success, 1 for an unknown run id or a metric none of the runs logged.
"""


COMMANDS: list[Command] = [
    Command(
        name="runs",
        help="search runs and print them",
        description="Search the runs of a source (the bundled sample by default) with a filter_string "
        "and order_by, as mlflow.search_runs does, and print them.",
        configure=_configure_runs,
        run=_run_runs,
        examples=_RUNS_EXAMPLES,
    ),
    Command(
        name="experiments",
        help="search experiments and print them",
        description="Search the experiments of a source with a filter_string and order_by, as "
        "mlflow.search_experiments does, and print them.",
        configure=lambda parser: _add_search(parser, "experiments"),
        run=_run_experiments,
        examples=_EXPERIMENTS_EXAMPLES,
    ),
    Command(
        name="history",
        help="print the history of a run's metric",
        description="Print every logged point of a run's metric: step, time and value.",
        configure=_configure_history,
        run=_run_history,
        examples=_HISTORY_EXAMPLES,
    ),
    Command(
        name="describe",
        help="print everything about one run",
        description="Print one run: its attributes, parent and children, params, latest metrics with their "
        "step, tags and dataset inputs.",
        configure=_configure_describe,
        run=_run_describe,
        examples=_DESCRIBE_EXAMPLES,
    ),
    Command(
        name="compare",
        help="compare runs side by side, and plot a metric's histories",
        description="Print the params, metrics and tags of runs side by side, marking the keys whose "
        "values differ; with --plot, draw a metric's histories on one chart as a PNG.",
        configure=_configure_compare,
        run=_run_compare,
        examples=_COMPARE_EXAMPLES,
    ),
    Command(
        name="check",
        help="check a filter_string and order_by against a profile",
        description="Check a filter_string and order_by against a backend's profile and show every "
        "problem with a caret under it.",
        configure=_configure_check,
        run=_run_check,
        examples=_CHECK_EXAMPLES,
    ),
    Command(
        name="plan",
        help="split a query between a tracking server and runql",
        description="Show what a tracking server of the target is sent (the part of the filter and the "
        "order_by it accepts, in its spelling) and what runql evaluates on the runs it returns.",
        configure=_configure_plan,
        run=_run_plan,
        examples=_PLAN_EXAMPLES,
    ),
    Command(
        name="export",
        help="write a source's runs as a Parquet run table",
        description="Write every run of a source as a Parquet run table, for Spark and other lakehouse "
        "engines (runql.engines.spark; see docs/spark.md).",
        configure=_configure_export,
        run=_run_export,
        examples=_EXPORT_EXAMPLES,
    ),
    Command(
        name="profiles",
        help="print the capability matrix of the profiles (Markdown)",
        description="Print what each profile accepts, as the Markdown of docs/profiles.md.",
        configure=_configure_profiles,
        run=_run_profiles,
        examples="example:\n  runql profiles > docs/profiles.md\n",
    ),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runql",
        description="MLflow's run search language: check queries per backend, search runs in memory.",
        epilog="run 'runql COMMAND --help' for a command's options and examples",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            epilog=command.examples or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def _descending_shorthand(argv: Sequence[str]) -> None:
    """``-o -metrics.auc`` (a minus for descending, as some tools write it) gets a message of its own
    instead of argparse's "expected one argument"."""
    for option, value in itertools.pairwise(argv):
        if option in ("-o", "--order-by") and value.startswith("-") and "." in value and value[1:2].isalpha():
            raise CommandError(
                f"order_by has no '-' for descending: use {value[1:] + ' DESC'!r} "
                f'(--order-by "{value[1:]} DESC")'
            )


def _show_warning(err: TextIO) -> Callable[..., None]:
    """Print a warning as ``runql check`` does: the diagnostic and its caret, not Python's format."""

    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        if isinstance(message, QueryWarning):
            print(message.diagnostic, file=err)
        else:
            print(f"warning: {message}", file=err)

    return show


def _quiet_stdout() -> None:
    """After the reader of stdout went away (``runql runs | head -1``): point stdout at /dev/null so
    the interpreter's final flush has nowhere to fail."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    err = sys.stderr
    try:
        _descending_shorthand(argv)
        args = build_parser().parse_args(argv)
        with warnings.catch_warnings():
            warnings.simplefilter("always", QueryWarning)
            warnings.showwarning = _show_warning(err)
            code: int = args.run(args, sys.stdout, err)
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (runql runs | head): not an error, as for any Unix tool.
        _quiet_stdout()
        return 0
    except UnsupportedQueryError as refusal:
        for diagnostic in refusal.diagnostics:
            print(diagnostic, file=err)
        return 1
    except RunqlError as error:
        print(f"error: {redact(str(error))}", file=err)
        return 1
    except (ValueError, OSError) as error:  # a file that is not a workspace, a path that cannot be written
        print(f"error: {redact(str(error))}", file=err)
        return 1
    return code
