"""The ``runql`` command line: ``main`` runs it, ``build_parser`` builds its parser.

The subcommands live by what they do: :mod:`~runql.cli.search_commands` (runs, experiments),
:mod:`~runql.cli.run_commands` (history, describe, compare, export) and :mod:`~runql.cli.query_commands`
(check, plan, profiles); :mod:`~runql.cli.registry` lists them and parses the command line. They read a
store through :mod:`~runql.cli.source` and print through :mod:`~runql.cli.render`.
"""

from runql.cli.registry import build_parser, main

__all__ = ["build_parser", "main"]
