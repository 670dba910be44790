"""``runql runs`` and ``runql experiments``: search a store as MLflow's search calls do, and print a column
per attribute and key (``--columns`` chooses them)."""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import re
from typing import TYPE_CHECKING, Any, TextIO

from runql.cli.command import Command, CommandError
from runql.cli.render import Rows, add_format, print_rows, utc_times
from runql.cli.source import add_source, open_store
from runql.errors import QueryError
from runql.language.ast import Entity, Key, clauses
from runql.language.parser import parse, parse_order_by
from runql.language.unparser import unparse_key
from runql.model.arguments import SEARCH_MAX_RESULTS_THRESHOLD
from runql.model.entities import RUN_NAME_TAG, LifecycleStage, ViewType
from runql.profiles.catalog import ALL_PROFILE_NAMES, PROFILE_NAMES

if TYPE_CHECKING:
    from runql.cli.source import Store
    from runql.model.entities import Run

__all__ = ["EXPERIMENTS", "PARENT_TAG", "RUNS", "add_experiment_choice", "named_columns", "select_columns"]

PARENT_TAG = "mlflow.parentRunId"
"""The tag MLflow gives a nested run: its parent's run id."""

_VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}
_KEY_PREFIXES = ("metrics.", "params.", "tags.")
# A comma that separates two names of --columns: one outside parentheses, so at_step(metrics.loss, 10)
# stays one name.
_NAME_SEPARATOR = re.compile(r",(?![^()]*\))")
_FUNCTION_COLUMNS = "; a function of a metric's history, such as 'min(metrics.loss)', is computed per run"


def _add_search(parser: argparse.ArgumentParser, what: str) -> None:
    add_source(parser)
    parser.add_argument("--filter", "-F", default="", metavar="F", help=f"a filter_string over {what}")
    parser.add_argument(
        "--order-by", "-o", action="append", metavar="O", help="an order_by clause; repeat for several"
    )
    parser.add_argument("--max-results", "-n", type=int, metavar="N", help="print at most N (default: all)")
    parser.add_argument(
        "--view", choices=tuple(_VIEWS), default="active", help="active, deleted or all (default: active)"
    )
    parser.add_argument(
        "--profile",
        "-p",
        choices=ALL_PROFILE_NAMES,
        default="mlflow",
        metavar="PROFILE",
        help=f"the backend whose rules the query follows: {', '.join(PROFILE_NAMES)}, or an earlier MLflow, "
        "mlflow-2.0 ... (runql profiles)",
    )
    parser.add_argument(
        "--columns",
        "-c",
        nargs="+",
        metavar="COLUMN",
        help="the columns to print (space or comma separated; globs such as 'params.*' expand)"
        + (_FUNCTION_COLUMNS if what == "runs" else ""),
    )
    add_format(parser)


# -- choosing columns ------------------------------------------------------------------------------


def named_columns(option: list[str] | None, available: list[str], rows: int, err: TextIO) -> list[str] | None:
    """The columns ``--columns`` names (None when it is not given), each glob (``params.*``,
    ``metrics.val*``) replaced by the columns it matches."""
    if not option:
        return None
    expanded: list[str] = []
    for name in [name.strip() for item in option for name in _NAME_SEPARATOR.split(item) if name.strip()]:
        if _is_function(name) or not any(c in name for c in "*?["):
            expanded.append(name)
            continue
        matched = [c for c in available if fnmatch.fnmatchcase(c, name)]
        if not matched and rows:
            print(f"warning: no column matches {name!r}", file=err)
        expanded.extend(matched)
    return list(dict.fromkeys(expanded))


def select_columns(
    columns: dict[str, list[Any]], wanted: list[str], known: list[str], size: int, also: str = ""
) -> list[list[Any]]:
    """The rows of the columns ``wanted``: a key column no row has comes out empty, a typo is an error
    (naming the ``known`` columns, then the key columns and what ``also`` says)."""
    chosen: list[list[Any]] = []
    for name in wanted:
        if name in columns:
            chosen.append(columns[name])
        elif name.startswith(_KEY_PREFIXES):
            chosen.append([None] * size)
        else:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise CommandError(
                f"unknown column {name!r}{hint}; columns are {', '.join(known)} and metrics.<key>, "
                f"params.<key>, tags.<key>{also}"
            )
    return [list(row) for row in zip(*chosen, strict=True)] if chosen else [[] for _ in range(size)]


# -- runql runs ------------------------------------------------------------------------------------


def add_experiment_choice(parser: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    """``--experiment-name`` and ``--experiment-id`` (each repeated), one or the other."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--experiment-name", "-e", action="append", metavar="N", help="search this experiment")
    which.add_argument(
        "--experiment-id", "-i", action="append", metavar="I", help="search this experiment id"
    )
    return which


def _configure_runs(parser: argparse.ArgumentParser) -> None:
    which = add_experiment_choice(parser)
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
        help="put each run right after its parent, its name indented (nested runs, mlflow.parentRunId); "
        "a run whose parent is not printed comes under a line '(parent <id> not shown)'",
    )
    parser.add_argument(
        "--page-token",
        metavar="TOKEN",
        help="continue from the page this token ends (printed on stderr after a page of --max-results)",
    )


_RUN_COLUMNS = ("run_id", "run_name", "experiment", "status", "start_time")
_RUN_EXTRA = ("experiment_id", "artifact_uri", "end_time", "lifecycle_stage", "user_id")
_RUN_TIMES = frozenset({"start_time", "end_time"})


def _searched_experiments(store: Store, args: argparse.Namespace, err: TextIO) -> list[str]:
    """The ids of the experiments ``runql runs`` searches."""
    view = _VIEWS[args.view]
    if args.experiment_name:
        found = {n: store.get_experiment_by_name(n) for n in args.experiment_name}
        missing = [n for n, e in found.items() if e is None]
        if missing:
            names = ", ".join(repr(e.name) for e in store.experiments)
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
            store.get_experiment(experiment_id)
        return list(args.experiment_id)
    return [
        e.experiment_id
        for e in store.experiments
        if (view is not ViewType.ACTIVE_ONLY and not args.all_experiments)
        or e.lifecycle_stage == LifecycleStage.ACTIVE
    ]


def _search(
    store: Store, args: argparse.Namespace, experiment_ids: list[str]
) -> tuple[list[Run], str | None]:
    """The runs found and the token of the next page (None: no page follows, or the search was not paged)."""
    search: dict[str, Any] = {
        "experiment_ids": experiment_ids,
        "filter_string": args.filter,
        "run_view_type": _VIEWS[args.view],
        "max_results": args.max_results,
        "order_by": args.order_by,
        "profile": args.profile,
    }
    if args.page_token is not None or (
        args.max_results is not None and args.max_results <= SEARCH_MAX_RESULTS_THRESHOLD
    ):
        return store.search_runs_paged(page_token=args.page_token, **search)
    return store.search_runs(output_format="list", **search), None


def _as_tree(runs: list[Run]) -> list[tuple[Run | str, int]]:
    """The lines of ``runs`` as a tree, each with its depth: each child right after its parent, in the
    order found. The children of a parent that is not among ``runs`` (on another page, filtered out,
    deleted) come together under a line that is the parent's id (a ``str``), where the first was found."""
    found = {run.info.run_id for run in runs}
    children: dict[str, list[Run]] = {}
    tops: list[Run | str] = []
    for run in runs:
        parent = run.data.tags.get(PARENT_TAG)
        if not parent:
            tops.append(run)
            continue
        if parent not in found and parent not in children:
            tops.append(parent)
        children.setdefault(parent, []).append(run)
    lines: list[tuple[Run | str, int]] = []
    placed: set[str] = set()

    def place(run: Run, depth: int) -> None:
        if run.info.run_id in placed:  # a cycle of parent tags: each run is printed once
            return
        placed.add(run.info.run_id)
        lines.append((run, depth))
        for child in children.get(run.info.run_id, []):
            place(child, depth + 1)

    for top in tops:
        if isinstance(top, str):
            lines.append((top, 0))
            for child in children[top]:
                place(child, 1)
        else:
            place(top, 0)
    for run in runs:  # runs on a cycle have no root: printed where they are
        place(run, 0)
    return lines


def _not_shown(parent_id: str) -> str:
    """The line of a tree that stands for a parent not printed: the start of its id, which names it to
    ``runql describe``."""
    return f"(parent {parent_id[:8]} not shown)"


def _with_parents_not_shown(
    lines: list[tuple[Run | str, int]], values: list[list[Any]], wanted: list[str]
) -> list[list[Any]]:
    """``values`` (a row per run of ``lines``) with a row for each parent not shown, saying so in the
    run_name column (in the first column when run_name is not printed)."""
    where = wanted.index("run_name") if "run_name" in wanted else 0
    rows = iter(values)
    shown: list[list[Any]] = []
    for line, _ in lines:
        if isinstance(line, str):
            note: list[Any] = [None] * len(wanted)
            note[where : where + 1] = [_not_shown(line)] if wanted else []
            shown.append(note)
        else:
            shown.append(next(rows))
    return shown


def _run_columns(runs: list[Run], experiment_names: dict[str, str]) -> dict[str, list[Any]]:
    """Every column of the runs, as MLflow's DataFrame orders them (with the run name and experiment
    after the id); a metric, param or tag a run never logged is None, a logged NaN stays NaN."""
    from runql.model.frames import first_seen

    infos = [r.info for r in runs]
    columns: dict[str, list[Any]] = {
        "run_id": [i.run_id for i in infos],
        "run_name": [r.data.tags.get(RUN_NAME_TAG, r.info.run_name or None) for r in runs],
        "experiment": [experiment_names.get(i.experiment_id, i.experiment_id) for i in infos],
        "experiment_id": [i.experiment_id for i in infos],
        "status": [i.status for i in infos],
        "artifact_uri": [i.artifact_uri for i in infos],
        "start_time": utc_times([i.start_time for i in infos]),
        "end_time": utc_times([i.end_time for i in infos]),
        "lifecycle_stage": [i.lifecycle_stage for i in infos],
        "user_id": [i.user_id for i in infos],
    }
    for part in ("metrics", "params", "tags"):
        mappings = [getattr(r.data, part) for r in runs]
        for key in first_seen(mappings):
            columns[f"{part}.{key}"] = [m.get(key) for m in mappings]
    return columns


def _warn_of_absent_keys(
    store: Store, columns: list[str], experiment_ids: list[str], view: ViewType, err: TextIO
) -> None:
    """Point out the metric, param and tag ``columns`` that no searched run has (the search warned of
    the query's own keys already)."""
    named = [c for c in columns if c.startswith(_KEY_PREFIXES)]
    if not named:
        return
    from runql.language.ast import Query
    from runql.model.keys import absent_keys

    present = store.key_sets(experiment_ids, view.stages)
    if present is not None:  # a tracking server cannot tell without sending every run
        for diagnostic in absent_keys(Query(), present, named):
            print(diagnostic, file=err)


def _column_name(key: Key) -> str:
    """The column of a key: ``metrics.val_loss``, or a function of a history as the query writes it,
    ``min(metrics.val_loss)``."""
    prefixes = {Entity.METRIC: "metrics.", Entity.PARAM: "params.", Entity.TAG: "tags."}
    return unparse_key(key) if key.aggregate is not None else prefixes[key.entity] + key.name


def _query_keys(filter_string: str, order_by: list[str] | None) -> list[str]:
    """The metric, param and tag columns a query names, and the functions of a metric's history it
    names, in the order it names them."""
    query = parse(filter_string, order_by)
    keys = [c.key for c in clauses(query.filter)] + [s.key for s in query.order_by]
    kept = (Entity.METRIC, Entity.PARAM, Entity.TAG)
    return list(dict.fromkeys(_column_name(k) for k in keys if k.entity in kept))


def _is_function(name: str) -> bool:
    """Whether a column name is a function of a metric's history (``params.f(x)`` is a param)."""
    return "(" in name and not name.startswith(_KEY_PREFIXES)


def _function(name: str) -> Key:
    """The function of a metric's history a column names (``min(metrics.loss)``)."""
    try:
        (sort_key,) = parse_order_by([name])
    except QueryError as error:
        raise type(error)(
            error.message,
            code=error.code,
            source=error.source,
            span=error.span,
            hint=error.hint,
            where="--columns",
        ) from None
    key = sort_key.key
    if key.aggregate is None or key.span is None or key.span.end != len(name):
        raise CommandError(
            f"unknown column {name!r}: a column with parentheses is a function of a metric's history, "
            "such as min(metrics.loss) or at_step(metrics.loss, 10)"
        )
    return key


def _history_columns(store: Store, runs: list[Run], names: list[str]) -> dict[str, list[float | None]]:
    """The value of each function of a metric's history ``names`` names, for each of ``runs`` (these
    runs only), computed from the metric's points as a search computes it; None for a run without
    the metric. Each run's points of a metric are read once."""
    from runql.engines.aggregates import history_value

    keys = {name: _function(name) for name in names}
    points: dict[tuple[str, str], list[Any]] = {}

    def value(run: Run, key: Key) -> float | None:
        if key.name not in run.data.metrics:  # a run logged a point of every metric it has a value of
            return None
        where = (run.info.run_id, key.name)
        if where not in points:
            points[where] = store.get_metric_history(*where)
        return history_value(points[where], key)

    return {name: [value(run, key) for run in runs] for name, key in keys.items()}


def _run_runs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = open_store(args, err)
    experiment_ids = _searched_experiments(store, args, err)
    found, next_token = _search(store, args, experiment_ids)
    lines: list[tuple[Run | str, int]] = _as_tree(found) if args.tree else [(run, 0) for run in found]
    runs = [line for line, _ in lines if not isinstance(line, str)]
    columns = _run_columns(runs, {e.experiment_id: e.name for e in store.experiments})
    indented = args.tree and args.format in ("table", "markdown")
    if indented:
        depths = [depth for line, depth in lines if not isinstance(line, str)]
        columns["run_name"] = [
            "  " * depth + ("└ " if depth else "") + (name or "")
            for depth, name in zip(depths, columns["run_name"], strict=True)
        ]
    keys = _query_keys(args.filter, args.order_by)
    wanted = named_columns(args.columns, list(columns), len(runs), err)
    if wanted is not None:
        functions = {c: _function(c) for c in wanted if _is_function(c)}
        # A function's metric no run has is pointed out as the metric itself would be.
        plain = [f"metrics.{functions[c].name}" if c in functions else c for c in wanted]
        _warn_of_absent_keys(store, plain, experiment_ids, _VIEWS[args.view], err)
        wanted = list(dict.fromkeys(unparse_key(functions[c]) if c in functions else c for c in wanted))
    elif args.format in ("csv", "json"):
        wanted = list(dict.fromkeys([*columns, *keys]))
    else:
        metrics = sorted(c for c in columns if c.startswith("metrics."))
        params = sorted(c for c in columns if c.startswith("params."))
        attributes = list(_RUN_COLUMNS[2:])
        if args.view != "active":  # a deleted run looks like any other but for its lifecycle_stage
            attributes.insert(attributes.index("status") + 1, "lifecycle_stage")
        # The columns a query names come right after the run: the last columns give way first.
        wanted = list(dict.fromkeys([*_RUN_COLUMNS[:2], *keys, *attributes, *metrics, *params]))
    columns.update(_history_columns(store, runs, [c for c in wanted if _is_function(c)]))
    also = "; functions of a metric's history too, such as min(metrics.<key>)"
    values = select_columns(columns, wanted, [*_RUN_COLUMNS, *_RUN_EXTRA], len(runs), also)
    if indented:
        values = _with_parents_not_shown(lines, values, wanted)
    rows = Rows(wanted, values, _RUN_TIMES, count=len(runs))
    print_rows(rows, args.format, out, err, "run", drop=args.columns is None)
    if next_token is not None:
        print(f"more runs: --page-token {next_token}", file=err)
    return 0


RUNS = Command(
    name="runs",
    help="search runs and print them",
    description="Search the runs of a source (the bundled sample by default) with a filter_string "
    "and order_by, as mlflow.search_runs does, and print them.",
    configure=_configure_runs,
    run=_run_runs,
    examples="""\
examples:
  runql runs --filter "metrics.auc > 0.8" --order-by "metrics.auc DESC" --max-results 5
  runql runs --experiment-name my_experiment --filter "params.model = 'xgboost'" --columns run_id,metrics.auc
  runql runs --columns run_id 'params.*' --max-results 3
  runql runs --filter "tags.mlflow.parentRunId = '7e3a9c1d5b2f4e6a8c0d1f3b5a7c9e2d'" --format csv
  runql runs --view deleted --format json --max-results 2
  runql runs --tree --columns run_id run_name status                # nested runs under their parent
  runql runs --view all --columns run_id run_name lifecycle_stage   # which runs are deleted
  runql runs -p extended --filter "min(metrics.log_loss) < 0.1"     # min(metrics.log_loss) is a column
  runql runs -c run_id 'count(metrics.auc)' 'at_step(metrics.auc, 10)' metrics.auc
  runql runs --filter "attributes.status = 'Failed'" --profile azureml
  runql runs --source ./mlruns --filter "metrics.auc > 0.8"          # an mlruns folder MLflow wrote

Without --source, the store is found as MLflow finds it: MLFLOW_TRACKING_URI, then ./mlruns, then
./mlflow.db in the current folder; with none of them, the bundled sample workspace is read. Which
one was read is said on stderr. With no experiment option, every experiment is searched (every
active one with --view active); MLflow itself would search only the active experiment.
A metric, param or tag key that no searched run has is pointed out on stderr, with the close keys.
A function of a metric's history that the query names (min(metrics.loss)) is a column of its own,
computed for the printed runs; --columns names others.
An empty cell is a value never logged; a logged NaN prints NaN (JSON: "NaN", "Infinity").
On a terminal the table fits its width: wide cells are cut with '…' and columns that do not fit are
left out (their count goes to stderr; --columns or --format csv shows them); printed to a file or a
pipe, nothing is cut. With --max-results, the token of the next page goes to stderr.
exit status: 0 on success, 1 when the query or the source is at fault (the message goes to stderr).
""",
)
"""The ``runs`` command."""


# -- runql experiments -----------------------------------------------------------------------------

_EXPERIMENT_COLUMNS = ("experiment_id", "name", "lifecycle_stage", "creation_time", "last_update_time")


def _run_experiments(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    found = open_store(args, err).search_experiments(
        view_type=_VIEWS[args.view],
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
        "creation_time": utc_times([e.creation_time for e in found]),
        "last_update_time": utc_times([e.last_update_time for e in found]),
        "artifact_location": [e.artifact_location for e in found],
    }
    for key in tag_keys:
        columns[f"tags.{key}"] = [e.tags.get(key) for e in found]
    wanted = named_columns(args.columns, list(columns), len(found), err)
    if wanted is None:
        wanted = (
            list(columns)
            if args.format in ("csv", "json")
            else [*_EXPERIMENT_COLUMNS, *(f"tags.{k}" for k in tag_keys)]
        )
    values = select_columns(columns, wanted, [*_EXPERIMENT_COLUMNS, "artifact_location"], len(found))
    times = frozenset({"creation_time", "last_update_time"})
    print_rows(Rows(wanted, values, times), args.format, out, err, "experiment", drop=args.columns is None)
    return 0


EXPERIMENTS = Command(
    name="experiments",
    help="search experiments and print them",
    description="Search the experiments of a source with a filter_string and order_by, as "
    "mlflow.search_experiments does, and print them.",
    configure=lambda parser: _add_search(parser, "experiments"),
    run=_run_experiments,
    examples="""\
examples:
  runql experiments
  runql experiments --filter "name LIKE '%classifier%'" --order-by "name ASC"
  runql experiments --filter "tags.team = 'vision'" --format csv
  runql experiments --view all --columns experiment_id,name,lifecycle_stage
  runql experiments --source ./mlruns --format json                  # an mlruns folder MLflow wrote

exit status: 0 on success, 1 when the query or the source is at fault.
""",
)
"""The ``experiments`` command."""
