"""The foundation (runql.errors, runql.common) imports nothing from the layers above it when it runs; an
annotation may name a class of the language under ``if TYPE_CHECKING:``, which never runs."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import runql

PACKAGE = Path(runql.__file__).parent
FOUNDATION = [PACKAGE / "errors.py", *sorted((PACKAGE / "common").glob("*.py"))]


def _imported(node: ast.AST) -> Iterator[str]:
    """Every name an import statement that can run brings in: ``package.module`` or ``module.name``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING"):
            yield from _imported(ast.Module(body=child.orelse, type_ignores=[]))
        elif isinstance(child, ast.Import):
            yield from (alias.name for alias in child.names)
        elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
            yield from (f"{child.module}.{alias.name}" for alias in child.names)
        else:
            yield from _imported(child)


FOUNDATION_NAMES = ("runql.errors", "runql.common.")


def _upward(text: str) -> list[str]:
    names = _imported(ast.parse(text))
    return [n for n in names if n.startswith("runql.") and not n.startswith(FOUNDATION_NAMES)]


@pytest.mark.parametrize("path", FOUNDATION, ids=lambda path: path.name)
def test_the_foundation_imports_only_the_foundation(path: Path) -> None:
    assert _upward(path.read_text("utf-8")) == []


def test_an_import_up_is_found() -> None:
    text = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from runql.language.ast import Span\n"
    assert _upward(text) == []
    deferred = "def f():\n    from runql.language.ast import Expr\n"
    assert _upward(text + deferred) == ["runql.language.ast.Expr"]
