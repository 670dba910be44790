"""The commands that read runs a store holds, named by id or all of them: ``runql history``, ``describe``,
``compare`` and ``export``."""

from __future__ import annotations

import argparse
import os
import warnings
from typing import TYPE_CHECKING, Any, TextIO

from runql.cli.command import Command, CommandError
from runql.cli.render import UTC, Rows, add_format, print_json, print_rows, print_tables, utc_times
from runql.cli.search_commands import PARENT_TAG
from runql.cli.source import add_source, find_run_id, load_workspace, open_store
from runql.language.ast import Compare, Entity, Key, Literal, Op
from runql.language.unparser import unparse
from runql.model.entities import RUN_NAME_TAG, ViewType
from runql.sources.jsonl import replaced

if TYPE_CHECKING:
    from runql.cli.source import Store
    from runql.model.entities import Run

__all__ = ["COMPARE", "DESCRIBE", "EXPORT", "HISTORY"]


def _refuse_to_replace(path: str, force: bool) -> None:
    # lexists: a symbolic link to nothing is there too, and writing through it would create its target.
    if os.path.lexists(path) and not force:
        raise CommandError(f"{path} exists: pass --force to replace it, or name another --out file")


# -- runql history ---------------------------------------------------------------------------------


def _configure_history(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN_ID", help="the run (or the start of its id)")
    parser.add_argument("key", metavar="KEY", help="the metric key")
    add_source(parser)
    add_format(parser)


def _run_history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = open_store(args, err)
    run_id = find_run_id(store, args.run_id)
    run = store.get_run(run_id)
    points = store.get_metric_history(run_id, args.key)
    if not points:
        logged = ", ".join(sorted(run.data.metrics)) or "none"
        raise CommandError(f"run {run_id!r} has no metric {args.key!r}; its metrics: {logged}")
    stamps = utc_times([p.timestamp for p in points])
    values = [[p.step, stamp, p.value] for p, stamp in zip(points, stamps, strict=True)]
    rows = Rows(["step", "timestamp", "value"], values, times=frozenset({"timestamp"}), milliseconds=True)
    print_rows(rows, args.format, out, err, "point")
    return 0


HISTORY = Command(
    name="history",
    help="print the history of a run's metric",
    description="Print every logged point of a run's metric: step, time and value.",
    configure=_configure_history,
    run=_run_history,
    examples="""\
examples:
  runql history 1234-5678-90AB-CDEFG auc
  runql history 5678-1234-90AB-CDEFG log_loss --format csv
  runql history 5678-1234 log_loss                 # the start of a run id names the run

exit status: 0 on success, 1 for an unknown run or a metric the run never logged.
""",
)
"""The ``history`` command."""


# -- runql describe --------------------------------------------------------------------------------


def _configure_describe(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN_ID", help="the run (or the start of its id)")
    add_source(parser)
    parser.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="table or json (default: table)"
    )


def _describe(store: Store, run: Run) -> dict[str, Any]:
    """Everything about ``run``: attributes, params, latest metrics with their step, tags, datasets,
    parent and children."""
    from runql.model.entities import latest_metric

    info = run.info
    experiment = store.get_experiment(info.experiment_id)
    children = store.search_runs(
        experiment_ids=[info.experiment_id],
        # Written from the tree: the id is a value, never pasted into the filter's text.
        filter_string=unparse(Compare(Key(Entity.TAG, PARENT_TAG), Op.EQ, Literal(info.run_id))),
        run_view_type=ViewType.ALL,
        max_results=None,
        output_format="list",
    )
    start, end = utc_times([info.start_time, info.end_time])
    metrics = {}
    for key in sorted(run.data.metrics):
        latest = latest_metric(run.data.history(key, info.start_time or 0))
        metrics[key] = {
            "value": run.data.metrics[key],
            "step": latest.step,
            "timestamp": utc_times([latest.timestamp])[0],
        }
    return {
        "run_id": info.run_id,
        "run_name": run.data.tags.get(RUN_NAME_TAG, info.run_name),
        "experiment": f"{experiment.name} ({experiment.experiment_id})",
        "status": info.status,
        "lifecycle_stage": info.lifecycle_stage,
        "user": info.user_id,
        "start_time": start,
        "end_time": end,
        "duration": None if start is None or end is None else str(end - start),
        "artifact_uri": info.artifact_uri,
        "parent": run.data.tags.get(PARENT_TAG),
        "children": [c.info.run_id for c in children],
        "params": dict(sorted(run.data.params.items())),
        "metrics": metrics,
        "tags": dict(sorted(run.data.tags.items())),
        "datasets": [
            {"name": d.dataset.name, "digest": d.dataset.digest, "context": d.context}
            for d in run.inputs.dataset_inputs
        ],
    }


_SECTIONS = ("params", "metrics", "tags", "datasets")


def _run_describe(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = open_store(args, err)
    described = _describe(store, store.get_run(find_run_id(store, args.run_id)))
    if args.format == "json":
        print_json(described, out)
        return 0
    attributes = {k: v for k, v in described.items() if k not in _SECTIONS}
    attributes["children"] = ", ".join(attributes["children"]) or None
    print_tables(
        [
            (
                None,
                ["attribute", "value"],
                [[k + UTC if k in ("start_time", "end_time") else k, v] for k, v in attributes.items()],
            ),
            ("params", ["param", "value"], [[k, v] for k, v in described["params"].items()]),
            (
                "metrics",
                ["metric", "value", "step", "timestamp" + UTC],
                [[k, m["value"], m["step"], m["timestamp"]] for k, m in described["metrics"].items()],
            ),
            ("tags", ["tag", "value"], [[k, v] for k, v in described["tags"].items()]),
            (
                "datasets",
                ["dataset", "digest", "context"],
                [[d["name"], d["digest"], d["context"]] for d in described["datasets"]],
            ),
        ],
        out,
    )
    return 0


DESCRIBE = Command(
    name="describe",
    help="print everything about one run",
    description="Print one run: its attributes, parent and children, params, latest metrics with their "
    "step, tags and dataset inputs.",
    configure=_configure_describe,
    run=_run_describe,
    examples="""\
examples:
  runql describe 1234-5678-90AB-CDEFG
  runql describe 5678-1234 --format json

Prints the run's attributes, parent and children, then its params, latest metrics (with their step
and time), tags and dataset inputs, as 'mlflow runs describe' does.
exit status: 0 on success, 1 for an unknown run id or one that starts several.
""",
)
"""The ``describe`` command."""


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
    add_source(parser, searched_in_place=False)
    add_format(parser)


def _check_plot(args: argparse.Namespace) -> None:
    """Refuse a --plot without --out (or the reverse), and one that would replace a file, before
    anything is read."""
    if (args.plot is None) != (args.out is None):
        raise CommandError("--plot KEY and --out FILE.png go together")
    if args.plot is not None:
        from runql.common.optional import require

        require("matplotlib", "plot", "--plot")
        _refuse_to_replace(args.out, args.force)


def _run_compare(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from runql.model.comparison import DIFFERS, compare_runs, plot_metric_history

    if len(args.run_ids) < 2:
        raise CommandError("name two runs or more to compare")
    _check_plot(args)
    workspace = load_workspace(args, err)  # a comparison reads whole histories
    run_ids = [find_run_id(workspace, text) for text in args.run_ids]
    runs = [workspace.get_run(run_id) for run_id in run_ids]
    for key in args.plot or []:  # checked before anything is printed
        if not any(key in run.data.metrics for run in runs):
            logged = ", ".join(sorted(set().union(*(run.data.metrics for run in runs)))) or "none"
            raise CommandError(f"none of the runs logged metric {key!r}; their metrics: {logged}")
    frame = compare_runs(workspace, run_ids, only_differences=args.only_differences, attributes=True)
    labels = list(run_ids)
    readable = args.format in ("table", "markdown")
    if readable:
        # Run names read better than ids in a header, when they tell the runs apart.
        names = [run.info.run_name or run.info.run_id for run in runs]
        labels = names if len(set(names)) == len(names) else labels
    experiment_names = {e.experiment_id: e.name for e in workspace.experiments}
    values = []
    for key, row in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        cells = list(row)
        if readable and key == "attributes.experiment_id":
            key = "attributes.experiment"
            cells = [experiment_names.get(c, c) for c in cells[:-1]] + [cells[-1]]
        if readable and key == "attributes.start_time":
            key += UTC
        values.append([key, *cells])
    print_rows(Rows(["key", *labels, DIFFERS], values), args.format, out, err, "key", drop=False)
    if args.plot is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            figure = plot_metric_history(workspace, run_ids, args.plot, x=args.x)
        # Written beside --out and renamed over it once whole, as export and Workspace.save write.
        with replaced(args.out) as handle:
            figure.savefig(handle, format="png", dpi=100)
        for warning in caught:
            print(f"warning: {warning.message}", file=err)
        print(f"wrote {args.out}", file=err)
    return 0


COMPARE = Command(
    name="compare",
    help="compare runs side by side, and plot a metric's histories",
    description="Print the params, metrics and tags of runs side by side, marking the keys whose "
    "values differ; with --plot, draw a metric's histories on one chart as a PNG.",
    configure=_configure_compare,
    run=_run_compare,
    examples="""\
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
""",
)
"""The ``compare`` command."""


# -- runql export ----------------------------------------------------------------------------------


def _configure_export(parser: argparse.ArgumentParser) -> None:
    add_source(parser, searched_in_place=False)
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

    _refuse_to_replace(args.out, args.force)
    count = write_run_table(load_workspace(args, err).runs, args.out, args.layout, replace=args.force)
    print(f"wrote {count} runs to {args.out} ({args.layout} layout)", file=err)
    return 0


EXPORT = Command(
    name="export",
    help="write a source's runs as a Parquet run table",
    description="Write every run of a source as a Parquet run table, for Spark and other lakehouse "
    "engines (runql.engines.spark; see docs/spark.md).",
    configure=_configure_export,
    run=_run_export,
    examples="""\
examples:
  runql export --source ./mlruns --out runs.parquet
  runql export --source ./mlruns --out runs-map.parquet --layout map

Every run of the source is written, deleted ones too (with their lifecycle_stage); \
runql.engines.spark searches
the table (docs/spark.md).
""",
)
"""The ``export`` command."""
