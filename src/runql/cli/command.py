"""What a ``runql`` subcommand is, and the error it reports when its input is at fault."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from runql.errors import RunqlError

__all__ = ["Command", "CommandError"]


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, the texts of its ``--help``, a function that adds its arguments to its
    sub-parser and one that runs it (with the parsed arguments, stdout and stderr) and returns the exit
    status."""

    name: str
    help: str
    description: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, TextIO, TextIO], int]
    examples: str = ""


class CommandError(RunqlError):
    """A problem with the command's input, printed as ``error: <message>`` with exit status 1."""
