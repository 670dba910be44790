"""Every module and every public name of runql says what it is: a docstring on each module, public
class, function and method (names without a leading underscore; an ``@overload`` stub is covered by
its implementation, a method that overrides a documented one by the one it overrides)."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path

import runql

PACKAGE = Path(runql.__file__).parent

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _is_overload(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    names = [d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in node.decorator_list]
    return "overload" in names


def _public(body: list[ast.stmt]) -> Iterator[Definition]:
    for node in body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield from () if _is_overload(node) else (node,)


def _documented_in_a_base(module: str, cls: str, method: str) -> bool:
    """Whether ``cls.method`` overrides a method a base class documents (the contract's docstring)."""
    owner = getattr(importlib.import_module(module), cls, None)
    if owner is None:
        return False
    bases = inspect.getmro(owner)[1:]
    return any(inspect.getdoc(getattr(base, method)) for base in bases if method in vars(base))


def undocumented() -> list[str]:
    """``module (module)``, ``module:Name`` or ``module:Class.method`` for each public name without a
    docstring."""
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


def test_the_walk_sees_public_names_only() -> None:
    source = "def shown(): pass\ndef _hidden(): pass\nclass C:\n    def m(self): pass\n"
    names = [node.name for node in _public(ast.parse(source).body)]
    assert names == ["shown", "C"]
