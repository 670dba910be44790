"""Every module and every public name of runql says what it is: a docstring on each module, public
class, function and method (names without a leading underscore; an ``@overload`` stub is covered by
its implementation, a method that overrides a documented one by the one it overrides)."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import runql

PACKAGE = Path(runql.__file__).parent


def _is_overload(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        (isinstance(d, ast.Name) and d.id == "overload") or (isinstance(d, ast.Attribute) and d.attr == "overload")
        for d in node.decorator_list
    )


def _public(body: list[ast.stmt]) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith(
            "_"
        ):
            if isinstance(node, ast.ClassDef) or not _is_overload(node):
                yield node


def _documented_in_a_base(module: str, cls: str, method: str) -> bool:
    """Whether ``cls.method`` overrides a method a base class documents (the contract's docstring)."""
    import importlib

    owner = getattr(importlib.import_module(module), cls, None)
    if owner is None:
        return False
    return any(
        inspect.getdoc(getattr(base, method, None)) for base in inspect.getmro(owner)[1:] if method in vars(base)
    )


def undocumented() -> list[str]:
    """``module:Name`` or ``module:Class.method`` for every public name without a docstring."""
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("runql", *path.relative_to(PACKAGE).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        tree = ast.parse(path.read_text("utf-8"))
        if not ast.get_docstring(tree):
            missing.append(f"{module} (module)")
        for node in _public(tree.body):
            if not ast.get_docstring(node):
                missing.append(f"{module}:{node.name}")
            if isinstance(node, ast.ClassDef):
                for method in _public(node.body):
                    if ast.get_docstring(method) or _documented_in_a_base(module, node.name, method.name):
                        continue
                    missing.append(f"{module}:{node.name}.{method.name}")
    return missing


def test_every_public_name_has_a_docstring() -> None:
    assert undocumented() == []


def test_the_check_finds_a_missing_docstring(tmp_path: Path) -> None:
    tree = ast.parse("def shown(): pass\ndef _hidden(): pass\nclass C:\n    '''C.'''\n    def m(self): pass\n")
    names = [node.name for node in _public(tree.body)]
    assert names == ["shown", "C"]
    assert not ast.get_docstring(tree.body[0])  # type: ignore[arg-type]
