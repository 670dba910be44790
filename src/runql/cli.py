"""The ``runql`` command.

Each subcommand is a :class:`Command`: a name, a function that adds its arguments to a sub-parser and
a function that runs it and returns the exit code. Add one by appending to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import shutil
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO

from .ast import Entity, clauses
from .errors import RunqlError, Severity, UnsupportedQueryError
from .parse import parse
from .profiles import ENTITIES, PROFILE_NAMES, matrix_markdown
from .records import LifecycleStage, ViewType
from .unparse import unparse_query
from .validate import QueryWarning, resolve_profile, validate

if TYPE_CHECKING:
    from .sql_store import SqlStore
    from .workspace import Workspace

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

# -- reading a source and printing frames ----------------------------------------------------------

FORMATS = ("table", "csv", "json", "markdown")
VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}
_CELL_CAP = 32  # the widest a non-key column grows before its cells are elided
_MIN_WIDTH = 5
_ELLIPSIS = "…"


class CommandError(RunqlError):
    """A problem with the command's input, printed as ``error: <message>`` with exit status 1."""


def _add_source(parser: argparse.ArgumentParser, searched_in_place: bool = True) -> None:
    parser.add_argument(
        "--source",
        "-s",
        metavar="PATH_OR_URI",
        help="an mlruns folder, an MLflow database (mlflow.db, sqlite:///..., postgresql://...), a "
        "tracking URI or a runql workspace .jsonl file (default: the bundled sample workspace)"
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
        help="table (sized to the terminal), csv, json or markdown (default: table)",
    )


def _loaded(args: argparse.Namespace) -> Workspace:
    """The source read whole into memory (the bundled sample without --source)."""
    from .workspace import Workspace

    if args.source is None:
        return Workspace.sample()
    return Workspace.load(args.source)


def _workspace(args: argparse.Namespace) -> Workspace | SqlStore:
    """What a search reads: an MLflow database searched in place (unless --load), or the loaded source."""
    from .sources import source_kind

    if args.source is not None and not args.load and source_kind(args.source) == "mlflow-db":
        from .sql_store import connect

        return connect(args.source)
    return _loaded(args)


def _text(value: Any) -> str:
    """One cell: empty for a missing value, numbers short, times to the second, one line."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, datetime):
        return "" if value != value else value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _elide(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + _ELLIPSIS


def _fit(widths: list[int], limit: int, keep: int, drop: bool) -> tuple[list[int], int]:
    """Column widths that fit ``limit`` and how many columns are shown.

    Wide columns past the first ``keep`` are capped, then trailing columns are dropped (when
    ``drop``), then the widest columns are narrowed; the first ``keep`` columns are never touched.
    """
    widths = [w if i < keep else min(w, _CELL_CAP) for i, w in enumerate(widths)]

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


def _table(headers: list[str], rows: list[list[str]], keep: int = 1, drop: bool = True) -> tuple[str, int]:
    """A plain-text table as wide as the terminal at most, and how many columns it left out."""
    limit = shutil.get_terminal_size((100, 24)).columns
    natural = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    widths, shown = _fit(natural, limit, keep, drop)
    numeric = [all(_is_number(r[i]) for r in rows if r[i]) and any(r[i] for r in rows) for i in range(shown)]

    def line(cells: list[str]) -> str:
        parts = []
        for i, width in enumerate(widths):
            cell = _elide(cells[i], width)
            parts.append(cell.rjust(width) if numeric[i] else cell.ljust(width))
        return "  ".join(parts).rstrip()

    lines = [line(headers), "  ".join("-" * w for w in widths)]
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


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, datetime):
        return None if value != value else value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    return _json_value(item()) if callable(item) else str(value)


def _print_frame(
    frame: Any,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    noun: str,
    keep: int = 1,
    drop: bool = True,
) -> None:
    """Print ``frame`` (plain columns, no index) in the chosen format."""
    headers = [str(c) for c in frame.columns]
    records = [[None if _missing(v) else v for v in row] for row in frame.itertuples(index=False, name=None)]
    if args.format == "csv":
        frame.to_csv(out, index=False)
    elif args.format == "json":
        items = [{h: _json_value(v) for h, v in zip(headers, row, strict=True)} for row in records]
        out.write(json.dumps(items, ensure_ascii=False, indent=2) + "\n")
    elif args.format == "markdown":
        out.write(_markdown(headers, [[_text(v).replace("\\n", "<br>") for v in row] for row in records]))
    else:
        text, hidden = _table(headers, [[_text(v) for v in row] for row in records], keep=keep, drop=drop)
        out.write(text)
        count = f"{len(records)} {noun}{'' if len(records) == 1 else 's'}"
        if hidden:
            count += f"; {hidden} more column{'s' if hidden > 1 else ''} with --columns or --format csv"
        print(count, file=err)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NaT
    except (TypeError, ValueError):
        return False


def _columns(option: list[str] | None) -> list[str] | None:
    if not option:
        return None
    return [name.strip() for item in option for name in item.split(",") if name.strip()]


def _select(frame: Any, wanted: list[str], known: list[str]) -> Any:
    """The columns ``wanted`` of ``frame``; a key column no row has comes out empty, a typo is an error."""
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    out = {}
    for name in wanted:
        if name in frame.columns:
            out[name] = frame[name]
        elif name.startswith(("metrics.", "params.", "tags.")):
            out[name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        else:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise CommandError(
                f"unknown column {name!r}{hint}; columns are {', '.join(known)} and metrics.<key>, "
                "params.<key>, tags.<key>"
            )
    return pd.DataFrame(out)


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
        "--columns", "-c", nargs="+", metavar="COLUMN", help="the columns to print (space or comma separated)"
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


_RUN_COLUMNS = ("run_id", "run_name", "experiment", "status", "start_time")
_RUN_EXTRA = ("experiment_id", "artifact_uri", "end_time")


def _run_runs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ws = _workspace(args)
    view = VIEWS[args.view]
    search: dict[str, Any] = {}
    if args.experiment_name:
        missing = [n for n in args.experiment_name if ws.get_experiment_by_name(n) is None]
        if missing:
            names = ", ".join(repr(e.name) for e in ws.experiments)
            raise CommandError(
                f"no experiment named {', '.join(map(repr, missing))}; experiments are {names}"
            )
        search["experiment_names"] = args.experiment_name
    elif args.experiment_id:
        for experiment_id in args.experiment_id:
            ws.get_experiment(experiment_id)
        search["experiment_ids"] = args.experiment_id
    elif args.all_experiments:
        search["search_all_experiments"] = True
    else:
        search["experiment_ids"] = [
            e.experiment_id
            for e in ws.experiments
            if view is not ViewType.ACTIVE_ONLY or e.lifecycle_stage == LifecycleStage.ACTIVE
        ]
    frame = ws.search_runs(
        filter_string=args.filter,
        run_view_type=view,
        max_results=args.max_results,
        order_by=args.order_by,
        profile=args.profile,
        **search,
    )
    experiment_names = {e.experiment_id: e.name for e in ws.experiments}
    frame.insert(1, "run_name", frame.get("tags.mlflow.runName", [None] * len(frame)))
    frame.insert(2, "experiment", [experiment_names.get(i, i) for i in frame["experiment_id"]])
    wanted = _columns(args.columns)
    if wanted is None and args.format in ("csv", "json"):
        wanted = list(frame.columns)
    if wanted is None:
        keys = _query_keys(args.filter, args.order_by)
        metrics = sorted(c for c in frame.columns if c.startswith("metrics."))
        params = sorted(c for c in frame.columns if c.startswith("params."))
        # The columns a query names come right after the run: the last columns give way first.
        wanted = list(dict.fromkeys([*_RUN_COLUMNS[:2], *keys, *_RUN_COLUMNS[2:], *metrics, *params]))
    known = [*_RUN_COLUMNS, *_RUN_EXTRA]
    _print_frame(_select(frame, wanted, known), args, out, err, "run")
    return 0


_RUNS_EXAMPLES = """\
examples:
  runql runs --filter "metrics.auc > 0.8" --order-by "metrics.auc DESC" --max-results 5
  runql runs --experiment-name my_experiment --filter "params.model = 'xgboost'" --columns run_id,metrics.auc
  runql runs --filter "tags.mlflow.parentRunId = '7e3a9c1d5b2f4e6a8c0d1f3b5a7c9e2d'" --format csv
  runql runs --view deleted --format json --max-results 2
  runql runs --filter "attributes.status = 'Failed'" --profile azureml
  runql runs --source ./mlruns --filter "metrics.auc > 0.8"          # an mlruns folder MLflow wrote

With no experiment option, every experiment is searched (every active one with --view active);
MLflow itself would search only the active experiment. Without --source the bundled sample
workspace is read. The table fits the terminal: wide cells are cut with '…' and columns that do
not fit are left out (their count goes to stderr; --columns or --format csv shows them).
exit status: 0 on success, 1 when the query or the source is at fault (the message goes to stderr).
"""


# -- runql experiments -----------------------------------------------------------------------------

_EXPERIMENT_COLUMNS = ("experiment_id", "name", "lifecycle_stage", "creation_time", "last_update_time")


def _run_experiments(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    ws = _workspace(args)
    found = ws.search_experiments(
        view_type=VIEWS[args.view],
        max_results=args.max_results,
        filter_string=args.filter,
        order_by=args.order_by,
        profile=args.profile,
    )
    tag_keys = sorted({k for e in found for k in e.tags})
    columns: dict[str, Any] = {
        "experiment_id": [e.experiment_id for e in found],
        "name": [e.name for e in found],
        "lifecycle_stage": [e.lifecycle_stage for e in found],
        "creation_time": _times([e.creation_time for e in found]),
        "last_update_time": _times([e.last_update_time for e in found]),
        "artifact_location": [e.artifact_location for e in found],
    }
    for key in tag_keys:
        columns[f"tags.{key}"] = [e.tags.get(key) for e in found]
    frame = pd.DataFrame(columns)
    wanted = _columns(args.columns)
    if wanted is None:
        wanted = (
            list(frame.columns)
            if args.format in ("csv", "json")
            else [*_EXPERIMENT_COLUMNS, *(f"tags.{k}" for k in tag_keys)]
        )
    _print_frame(
        _select(frame, wanted, [*_EXPERIMENT_COLUMNS, "artifact_location"]), args, out, err, "experiment"
    )
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
    parser.add_argument("run_id", metavar="RUN_ID", help="the run")
    parser.add_argument("key", metavar="KEY", help="the metric key")
    _add_source(parser)
    _add_format(parser)


def _run_history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    ws = _workspace(args)
    run = ws.get_run(args.run_id)
    points = ws.get_metric_history(args.run_id, args.key)
    if not points:
        logged = ", ".join(sorted(run.data.metrics)) or "none"
        raise CommandError(f"run {args.run_id!r} has no metric {args.key!r}; its metrics: {logged}")
    frame = pd.DataFrame(
        {
            "step": [p.step for p in points],
            "timestamp": _times([p.timestamp for p in points]),
            "value": [p.value for p in points],
        }
    )
    _print_frame(frame, args, out, err, "point")
    return 0


_HISTORY_EXAMPLES = """\
examples:
  runql history 1234-5678-90AB-CDEFG auc
  runql history 5678-1234-90AB-CDEFG log_loss --format csv

exit status: 0 on success, 1 for an unknown run or a metric the run never logged.
"""


# -- runql compare ---------------------------------------------------------------------------------


def _configure_compare(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="two runs or more")
    parser.add_argument(
        "--only-differences", "-d", action="store_true", help="only the keys whose values differ"
    )
    parser.add_argument("--plot", metavar="KEY", help="draw the history of metric KEY for the runs")
    parser.add_argument("--out", metavar="FILE.png", help="where --plot writes its PNG")
    _add_source(parser, searched_in_place=False)
    _add_format(parser)


def _run_compare(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .compare import DIFFERS

    if len(args.run_ids) < 2:
        raise CommandError("name two runs or more to compare")
    if (args.plot is None) != (args.out is None):
        raise CommandError("--plot KEY and --out FILE.png go together")
    if args.plot is not None:
        from .optional import require

        require("matplotlib", "plot", "--plot")
    ws = _loaded(args)  # a comparison reads whole histories
    frame = ws.compare_runs(args.run_ids, only_differences=args.only_differences)
    if args.format in ("table", "markdown"):
        # Run names read better than ids in a header, when they tell the runs apart.
        names = [ws.get_run(r).info.run_name or r for r in args.run_ids]
        labels = names if len(set(names)) == len(names) else list(args.run_ids)
        frame.columns = [*labels, DIFFERS]
    _print_frame(frame.reset_index(), args, out, err, "key", drop=False)
    if args.plot is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ws.plot_metric_history(args.run_ids, args.plot, out=args.out)
        for warning in caught:
            print(f"warning: {warning.message}", file=err)
        print(f"wrote {args.out}", file=err)
    return 0


_COMPARE_EXAMPLES = """\
examples:
  runql compare 1234-5678-90AB-CDEFG 5678-1234-90AB-CDEFG
  runql compare 1234-5678-90AB-CDEFG 5678-1234-90AB-CDEFG --only-differences
  runql compare 1234-5678-90AB-CDEFG 5678-1234-90AB-CDEFG --plot auc --out auc.png
  runql compare 1234-5678-90AB-CDEFG 5678-1234-90AB-CDEFG --format json

--plot needs matplotlib: pip install 'runql[plot]'.
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args, sys.stdout, sys.stderr)
    except UnsupportedQueryError as refusal:
        for diagnostic in refusal.diagnostics:
            print(diagnostic, file=sys.stderr)
        return 1
    except RunqlError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:  # a file that is not a workspace, a path that cannot be written
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (runql runs | head): not an error of runql's.
        sys.stderr.close()
        return 0
    return code
