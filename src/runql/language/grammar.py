"""Finds the grammar files and builds the LALR parsers, once per process.

An installed runql reads ``runql/grammar/*.lark`` from its own package (also from a zipped wheel);
a source checkout or an editable install reads the top-level ``grammar/`` folder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer

SOURCE_GRAMMAR_DIR = Path(__file__).resolve().parents[3] / "grammar"


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
def parser(
    name: str,
    transformer: Transformer | None = None,  # type: ignore[type-arg]
    token_checks: tuple[tuple[str, Callable[[Token], Token]], ...] = (),
) -> Lark:
    """The parser for ``grammar/<name>.lark`` (``filter`` or ``order_by``).

    With a ``transformer`` the LALR parser calls it as it reduces, building no tree; each
    ``(terminal, check)`` of ``token_checks`` sees every token of that terminal as it is lexed. The
    parse tables are cached in the user's cache folder (building them is most of a one-shot command's
    start-up); lark rebuilds them when the grammar or lark changes.
    """
    cache = _cache_file(f"{name}-{_grammar_digest()}")
    options: dict[str, Any] = {
        "parser": "lalr",
        "transformer": transformer,
        "cache": cache,
        "lexer_callbacks": dict(token_checks),
    }
    if grammar_origin() == "package":
        return Lark.open_from_package("runql", f"{name}.lark", ("grammar",), **options)
    return Lark.open(str(SOURCE_GRAMMAR_DIR / f"{name}.lark"), **options)


def _grammar_digest() -> str:
    """A digest of every grammar file: lark checks the cached tables against the main file only, so
    a change to common.lark, or another checkout's grammar, must not reuse tables built before it."""
    digest = hashlib.sha256()
    if grammar_origin() == "package":
        folder = resources.files("runql") / "grammar"
        texts = [(folder / f).read_bytes() for f in _GRAMMAR_FILES]
    else:
        texts = [(SOURCE_GRAMMAR_DIR / f).read_bytes() for f in _GRAMMAR_FILES]
    for text in texts:
        digest.update(hashlib.sha256(text).digest())
    return digest.hexdigest()[:16]


_GRAMMAR_FILES = ("common.lark", "filter.lark", "order_by.lark")


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
