"""Finds the grammar files and builds the LALR parsers, once per process.

An installed runql reads ``runql/grammar/*.lark`` from its own package (also from a zipped wheel);
a source checkout or an editable install reads the top-level ``grammar/`` folder.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from lark import Lark, Transformer

SOURCE_GRAMMAR_DIR = Path(__file__).resolve().parents[2] / "grammar"


def grammar_origin() -> str:
    """``"package"`` when the grammar ships inside the installed package, else ``"source"``."""
    if (resources.files("runql") / "grammar" / "filter.lark").is_file():
        return "package"
    if (SOURCE_GRAMMAR_DIR / "filter.lark").is_file():
        return "source"
    raise RuntimeError(
        "runql's grammar files are missing: neither runql/grammar/ in the installed package "
        f"nor {SOURCE_GRAMMAR_DIR} exists; reinstall runql"
    )


@cache
def parser(name: str, transformer: Transformer | None = None) -> Lark:  # type: ignore[type-arg]
    """The parser for ``grammar/<name>.lark`` (``filter`` or ``order_by``).

    With a ``transformer`` the LALR parser calls it as it reduces, building no tree.
    """
    if grammar_origin() == "package":
        return Lark.open_from_package(
            "runql", f"{name}.lark", ("grammar",), parser="lalr", transformer=transformer
        )
    return Lark.open(str(SOURCE_GRAMMAR_DIR / f"{name}.lark"), parser="lalr", transformer=transformer)
