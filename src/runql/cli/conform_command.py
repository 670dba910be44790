"""``runql conform URI``: a tracking server's search measured against runql's reference evaluator."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from runql.cli.command import Command, CommandError
from runql.common.optional import require
from runql.profiles.catalog import ALL_PROFILE_NAMES

__all__ = ["CONFORM"]


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not {text!r}")
    return number


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, not {text!r}")
    return rate


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uri", help="the tracking server's URI (http://host:port)")
    parser.add_argument(
        "--profile",
        "-p",
        choices=ALL_PROFILE_NAMES,
        default=None,
        help="the profile the server claims (default: that of the MLflow version it reports, else mlflow)",
    )
    parser.add_argument(
        "--examples", "-n", type=_positive, default=100, help="generated queries (default 100)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the runql-conform-* experiments logged into the server"
    )
    parser.add_argument(
        "--report", type=Path, metavar="FILE", help="also write the report to FILE (.md or .json)"
    )
    parser.add_argument(
        "--min-agreement",
        type=_rate,
        default=1.0,
        metavar="R",
        help="exit 1 when the share of queries answered as the reference does is below R (default 1.0)",
    )
    parser.add_argument(
        "--timeout", type=_positive, default=30, help="seconds each HTTP request may take (default 30)"
    )


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    report_path: Path | None = args.report
    if report_path is not None and report_path.suffix not in (".md", ".json"):
        raise CommandError(f"--report names a .md or a .json file, not {report_path.name!r}")
    # Both are needed before anything is logged into the server: say which extra is missing, in one line.
    require("hypothesis", "strategies", "runql conform")
    require("mlflow", "mlflow", "runql conform")
    from runql.testing.server_check import check_server

    report = check_server(
        args.uri, profile=args.profile, max_examples=args.examples, seed=args.seed, keep=args.keep,
        timeout=float(args.timeout),
    )  # fmt: skip
    out.write(report.to_markdown())
    if report_path is not None:
        text = report.to_json() + "\n" if report_path.suffix == ".json" else report.to_markdown()
        report_path.write_text(text, encoding="utf-8")
    if report.agreement < args.min_agreement:
        print(f"agreement {report.agreement:.2%} is below --min-agreement {args.min_agreement:.2%}", file=err)
        return 1
    return 0


CONFORM = Command(
    name="conform",
    help="measure a tracking server's search against runql's reference evaluator",
    description=(
        "Log generated runs into the tracking server at URI (experiments named runql-conform-SEED-*,\n"
        "deleted afterwards unless --keep), ask it generated queries page by page and compare each answer\n"
        "with runql's reference evaluator. Prints a Markdown report; exits 1 below --min-agreement.\n"
        "Requests are never retried and time out after --timeout seconds; credentials come from MLflow's\n"
        "environment variables (MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and _PASSWORD)."
    ),
    configure=_configure,
    run=_run,
    examples="""\
examples:
  runql conform http://127.0.0.1:5000 --report conform.txt    # refused: a report is .md or .json

against a server you started (mlflow server --port 5000):
    runql conform http://127.0.0.1:5000
    runql conform http://127.0.0.1:5000 --examples 300 --report conform.json --min-agreement 0.95

exit status: 0, or 1 below --min-agreement, or when the server cannot be reached or refuses the runs.
""",
)
"""The ``conform`` command."""
