"""Finds the grammar files and builds the LALR parsers, once per process.

An installed runql reads ``runql/grammar/*.lark`` from its own package (also from a zipped wheel);
a source checkout or an editable install reads the top-level ``grammar/`` folder.
"""

from __future__ import annotations

import os
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

    With a ``transformer`` the LALR parser calls it as it reduces, building no tree. The parse tables
    are cached in the user's cache folder (building them is most of a one-shot command's start-up);
    lark rebuilds them when the grammar or lark changes.
    """
    cache = _cache_file(name)
    if grammar_origin() == "package":
        return Lark.open_from_package(
            "runql", f"{name}.lark", ("grammar",), parser="lalr", transformer=transformer, cache=cache
        )
    path = str(SOURCE_GRAMMAR_DIR / f"{name}.lark")
    return Lark.open(path, parser="lalr", transformer=transformer, cache=cache)


def _cache_file(name: str) -> str | bool:
    """A file in the user's own cache folder (never a shared temporary one: the cache is a pickle),
    or False when there is none to write."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(root) / "runql"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return str(folder / f"{name}.lark-tables")
